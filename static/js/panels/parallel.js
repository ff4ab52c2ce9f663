// Parallel coordinates over the numeric config fields and one metric (Vega-Lite): each
// run is a line across normalised axes, coloured as in the table.
//   createParallelPanel(el, {fields, runs, metric, onChange, onRemove}) -> {update({runs, fields}), destroy()}
import { cellValue } from "../workspace-table.js";
import { createPanelFrame, draw } from "./vega.js";

export function createParallelPanel(container, options) {
  let { runs: allRuns = [], fields = [] } = options;
  const metrics = () => fields.filter((f) => f.startsWith("summary."));
  const frame = createPanelFrame(container, {
    title: "Parallel coordinates",
    controls: [{ name: "metric", label: "metric", options: metrics(), value: options.metric }],
    onChange: () => { render(); options.onChange && options.onChange(frame.values()); },
    onRemove: options.onRemove,
  });
  function render() {
    const { metric } = frame.values();
    // A run is a line when it has the metric (the axis the panel is about).
    const runs = metric ? allRuns.filter((r) => Number.isFinite(cellValue(r, metric))) : allRuns;
    const axes = fields.filter((f) => f.startsWith("config.") && runs.some((r) => typeof cellValue(r, f) === "number")).slice(0, 8);
    if (metric) axes.push(metric);
    const values = [];
    axes.forEach((axis, i) => {
      const numbers = runs.map((r) => cellValue(r, axis)).filter((v) => typeof v === "number" && Number.isFinite(v));
      const lo = Math.min(...numbers), hi = Math.max(...numbers);
      for (const run of runs) {
        const v = cellValue(run, axis);
        if (typeof v !== "number" || !Number.isFinite(v)) continue;
        values.push({ run: run.id, name: run.name || run.id, color: run.color, axis: axis.replace(/^(config|summary)\./, ""), i, value: v, pos: hi > lo ? (v - lo) / (hi - lo) : 0.5 });
      }
    });
    container.dataset.lines = String(new Set(values.map((d) => d.run)).size);
    if (axes.length < 2 || !values.length) { frame.body.replaceChildren(); frame.setState("empty", "Needs numeric config fields and a metric."); return; }
    frame.setState("loading", "Drawing…");
    draw(frame, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: 240, autosize: { type: "fit", contains: "padding" },
      data: { values },
      mark: { type: "line", opacity: 0.7, strokeWidth: 1.5 },
      encoding: {
        x: { field: "axis", type: "nominal", sort: axes.map((a) => a.replace(/^(config|summary)\./, "")), title: null, axis: { orient: "top", labelAngle: 0 } },
        y: { field: "pos", type: "quantitative", axis: null, scale: { domain: [0, 1] } },
        detail: { field: "run" },
        color: { field: "color", type: "nominal", scale: null, legend: null },
        tooltip: [{ field: "name", title: "run" }, { field: "axis" }, { field: "value" }],
      },
    });
  }
  render();
  return {
    update(next) {
      if (next.fields) { fields = next.fields; frame.setOptions("metric", metrics()); }
      if (next.runs) allRuns = next.runs;
      render();
    },
    values: frame.values,
    destroy() { container.replaceChildren(); },
  };
}
