// Bar panel: a summary (or config) metric per run, one bar per run in its colour.
//   createBarPanel(el, {fields, runs, metric, onChange, onRemove}) -> {update({runs, fields}), destroy()}
import { cellValue } from "../workspace-table.js";
import { createPanelFrame, draw } from "./vega.js";

export function createBarPanel(container, options) {
  let { runs = [], fields = [] } = options;
  const frame = createPanelFrame(container, {
    title: "Bar",
    controls: [{ name: "metric", label: "metric", options: fields, value: options.metric }],
    onChange: () => { render(); options.onChange && options.onChange(frame.values()); },
    onRemove: options.onRemove,
  });
  function render() {
    const { metric } = frame.values();
    const values = runs
      .map((run) => ({ run: run.name || run.id, id: run.id, color: run.color, value: cellValue(run, metric) }))
      .filter((d) => typeof d.value === "number" && Number.isFinite(d.value))
      .slice(0, 50);
    // One bar per run: the run's name, with its id where two runs share a name.
    const names = new Map();
    for (const d of values) names.set(d.run, (names.get(d.run) || 0) + 1);
    for (const d of values) d.label = names.get(d.run) > 1 ? `${d.run} (${d.id})` : d.run;
    container.dataset.points = String(values.length);
    if (!values.length) { frame.body.replaceChildren(); frame.setState("empty", "No run has this field."); return; }
    frame.setState("loading", "Drawing…");
    draw(frame, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: Math.max(120, values.length * 18), autosize: { type: "fit", contains: "padding" },
      data: { values },
      mark: { type: "bar", cornerRadiusEnd: 2 },
      encoding: {
        y: { field: "label", type: "nominal", sort: null, title: null, axis: { labelLimit: 120 } },
        x: { field: "value", type: "quantitative", title: metric },
        color: { field: "color", type: "nominal", scale: null, legend: null },
        tooltip: [{ field: "run" }, { field: "value", title: metric }],
      },
    });
  }
  render();
  return {
    update(next) {
      if (next.fields) { fields = next.fields; frame.setOptions("metric", fields); }
      if (next.runs) runs = next.runs;
      render();
    },
    values: frame.values,
    destroy() { container.replaceChildren(); },
  };
}
