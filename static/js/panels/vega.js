// Vega-Lite panels (scatter, bar, parallel coordinates, importance) share this: the
// frame (title, field pickers, remove button, loading/error state) and a theme from
// app.css's variables, so the charts follow light and dark. vega-embed comes from npm
// (served under /static/vendor/ and loaded by the page as a classic script), with the
// options that keep it within the Content-Security-Policy (../vega-options.js).

import { loadVegaEmbed, vegaEmbedOptions } from "../vega-options.js";

export function cssVar(name, fallback = "") {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function theme() {
  const fg = cssVar("--fg"), muted = cssVar("--muted"), border = cssVar("--border");
  return {
    background: "transparent",
    font: getComputedStyle(document.body).fontFamily,
    view: { stroke: null },
    axis: { labelColor: muted, titleColor: muted, domainColor: border, tickColor: border, gridColor: border, gridOpacity: 0.6 },
    legend: { labelColor: muted, titleColor: muted },
    text: { color: fg },
    title: { color: fg },
  };
}

/**
 * createPanelFrame(container, {title, controls: [{name, label, options, value}], onChange, onRemove})
 * -> {body, setState(state, message), values(), setOptions(name, options)}
 */
export function createPanelFrame(container, { title, controls = [], onChange, onRemove }) {
  container.classList.add("panel");
  const head = document.createElement("div");
  head.className = "chart-head";
  const h = document.createElement("h3");
  h.className = "chart-title";
  h.textContent = title;
  const tools = document.createElement("div");
  tools.className = "panel-controls";
  const selects = {};
  for (const control of controls) {
    const label = document.createElement("label");
    label.textContent = `${control.label} `;
    const select = document.createElement("select");
    select.className = "inline-select";
    select.name = control.name;
    select.dataset.testid = `panel-${control.name}`;
    select.addEventListener("change", () => onChange && onChange());
    label.append(select);
    tools.append(label);
    selects[control.name] = select;
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary small";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove panel ${title}`);
  remove.addEventListener("click", () => onRemove && onRemove());
  tools.append(remove);
  head.append(h, tools);
  const body = document.createElement("div");
  body.className = "panel-body";
  const status = document.createElement("div");
  status.className = "chart-status";
  status.setAttribute("role", "status");
  container.replaceChildren(head, status, body);

  function setOptions(name, options, value) {
    const select = selects[name];
    const keep = value ?? select.value;
    select.replaceChildren(...options.map((o) => new Option(o, o)));
    if (options.includes(keep)) select.value = keep;
  }
  for (const control of controls) setOptions(control.name, control.options || [], control.value);

  return {
    body,
    setOptions,
    values: () => Object.fromEntries(Object.entries(selects).map(([n, s]) => [n, s.value])),
    setState(state, message = "") {
      container.dataset.state = state;
      container.setAttribute("aria-busy", state === "loading" ? "true" : "false");
      status.textContent = message;
      status.hidden = !message;
    },
  };
}

export async function draw(frame, spec) {
  let vegaEmbed;
  try {
    vegaEmbed = await loadVegaEmbed();
  } catch {
    frame.setState("error", "The chart library could not be loaded.");
    return;
  }
  try {
    await vegaEmbed(frame.body, { config: theme(), ...spec }, vegaEmbedOptions());
    frame.setState("ready");
  } catch (exc) {
    frame.setState("error", `Could not draw: ${exc.message}`);
  }
}
