// vega-embed options every Vega / Vega-Lite chart uses, so charts draw under the
// Content-Security-Policy (script-src and style-src 'self': no eval, no inline styles):
// - ast: true: Vega parses expressions to an AST and evaluates them with the
//   interpreter vega-embed bundles (the vega-interpreter package) instead of compiling
//   them with Function(), which the policy forbids;
// - defaultStyle: false and the tooltip's disableDefaultStyle: vega-embed and
//   vega-tooltip would otherwise insert <style> elements; static/css/app.css styles the
//   chart container and the tooltip (#vg-tooltip-element) instead.
export function vegaEmbedOptions(extra = {}) {
  return {
    actions: false,
    renderer: "svg",
    ast: true,
    defaultStyle: false,
    ...extra,
    tooltip: { disableDefaultStyle: true, ...(extra.tooltip || {}) },
  };
}

// Vega, Vega-Lite and vega-embed (npm, /static/vendor/) are 1.5 MB of script that most
// page views never use: loaded on the first chart that needs them, in order, once.
const VEGA_SCRIPTS = ["vega/vega.min.js", "vega-lite/vega-lite.min.js", "vega-embed/vega-embed.min.js"];
let vegaLoading = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error(`${src} could not be loaded`)));
    document.head.append(script);
  });
}

/** window.vegaEmbed, loading the libraries first when the page has not. */
export function loadVegaEmbed() {
  if (typeof window.vegaEmbed === "function") return Promise.resolve(window.vegaEmbed);
  if (!vegaLoading) {
    vegaLoading = VEGA_SCRIPTS.reduce(
      (previous, path) => previous.then(() => loadScript(new URL(`../vendor/${path}`, import.meta.url).href)),
      Promise.resolve(),
    ).then(
      () => {
        if (typeof window.vegaEmbed !== "function") throw new Error("the chart library could not be loaded");
        return window.vegaEmbed;
      },
      (exc) => {
        vegaLoading = null; // a later chart may try again
        throw exc;
      },
    );
  }
  return vegaLoading;
}
