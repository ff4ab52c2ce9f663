// Parameter importance for a chosen metric, computed on the server (correlation and
// random-forest importance, cached until the project's runs change): bars per parameter.
//   createImportancePanel(el, {api, fields, metric, filters, onChange, onRemove}) -> {update({fields, filters}), destroy()}
import { createPanelFrame, draw } from "./vega.js";

export function createImportancePanel(container, options) {
  let { fields = [], filters = null } = options;
  const metrics = () => fields.filter((f) => f.startsWith("summary."));
  let seq = 0;
  const frame = createPanelFrame(container, {
    title: "Parameter importance",
    controls: [{ name: "metric", label: "metric", options: metrics(), value: options.metric }],
    onChange: () => { load(); options.onChange && options.onChange(frame.values()); },
    onRemove: options.onRemove,
  });
  async function load() {
    const { metric } = frame.values();
    if (!metric) { frame.setState("empty", "Pick a summary metric."); return; }
    const mine = ++seq;
    frame.setState("loading", "Computing importance…");
    try {
      const answer = await options.api.get("/importance", { metric: metric.replace(/^summary\./, ""), filters });
      if (mine !== seq) return;
      const rows = (answer.parameters || answer.results || []).flatMap((p) => [
        { parameter: p.name || p.parameter, measure: "importance", value: p.importance },
        { parameter: p.name || p.parameter, measure: "correlation", value: p.correlation },
      ]).filter((d) => typeof d.value === "number");
      container.dataset.parameters = String(rows.length / 2);
      if (!rows.length) { frame.body.replaceChildren(); frame.setState("empty", "Not enough finished runs with this metric."); return; }
      await draw(frame, {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        width: "container", autosize: { type: "fit", contains: "padding" },
        data: { values: rows },
        mark: { type: "bar" },
        encoding: {
          row: { field: "measure", title: null },
          y: { field: "parameter", type: "nominal", sort: "-x", title: null },
          x: { field: "value", type: "quantitative", title: null },
          color: { field: "measure", type: "nominal", legend: null },
          tooltip: [{ field: "parameter" }, { field: "measure" }, { field: "value", format: ".3f" }],
        },
      });
    } catch (exc) {
      if (mine === seq) frame.setState("error", exc.status === 404 ? "Parameter importance is not available on this server yet." : `Could not compute: ${exc.message}`);
    }
  }
  load();
  return {
    update(next) {
      if (next.fields) { fields = next.fields; frame.setOptions("metric", metrics()); }
      if ("filters" in next && JSON.stringify(next.filters) !== JSON.stringify(filters)) { filters = next.filters; load(); }
    },
    values: frame.values,
    destroy() { seq++; container.replaceChildren(); },
  };
}
