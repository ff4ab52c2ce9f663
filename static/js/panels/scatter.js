// Scatter panel: one point per run, any two config or summary fields (Vega-Lite).
//   createScatterPanel(el, {fields, runs, x, y, onChange, onRemove}) -> {update({runs, fields}), destroy()}
import { cellValue } from "../workspace-table.js";
import { createPanelFrame, draw } from "./vega.js";

export function createScatterPanel(container, options) {
  let { runs = [], fields = [] } = options;
  const frame = createPanelFrame(container, {
    title: "Scatter",
    controls: [
      { name: "x", label: "x", options: fields, value: options.x },
      { name: "y", label: "y", options: fields, value: options.y },
    ],
    onChange: () => { render(); options.onChange && options.onChange(frame.values()); },
    onRemove: options.onRemove,
  });
  function render() {
    const { x, y } = frame.values();
    const values = runs
      .map((run) => ({ run: run.name || run.id, color: run.color, x: cellValue(run, x), y: cellValue(run, y) }))
      .filter((d) => typeof d.x === "number" && typeof d.y === "number");
    container.dataset.points = String(values.length);
    if (!values.length) { frame.body.replaceChildren(); frame.setState("empty", "No run has both fields."); return; }
    frame.setState("loading", "Drawing…");
    draw(frame, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: 220, autosize: { type: "fit", contains: "padding" },
      data: { values },
      mark: { type: "point", filled: true, size: 60 },
      encoding: {
        x: { field: "x", type: "quantitative", title: x, scale: { zero: false }, axis: { labelOverlap: true, tickCount: 5 } },
        y: { field: "y", type: "quantitative", title: y, scale: { zero: false }, axis: { labelOverlap: true } },
        color: { field: "color", type: "nominal", scale: null, legend: null },
        tooltip: [{ field: "run" }, { field: "x", title: x }, { field: "y", title: y }],
      },
    });
  }
  render();
  return {
    update(next) {
      if (next.fields) { fields = next.fields; frame.setOptions("x", fields); frame.setOptions("y", fields); }
      if (next.runs) runs = next.runs;
      render();
    },
    values: frame.values,
    destroy() { container.replaceChildren(); },
  };
}
