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
