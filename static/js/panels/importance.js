// Parameter importance for a chosen metric, computed on the server (GET …/importance,
// docs/api.md: Pearson and Spearman correlation and random-forest importance, cached
// until the project's runs change): importance bars per parameter, and a table with the
// correlations beside them.
//   createImportancePanel(el, {api, fields, metric, filters, onChange, onRemove}) -> {update({fields, filters}), destroy()}
import { formatValue } from "./line.js";
import { createPanelFrame, draw } from "./vega.js";

const SHOWN = 15; // parameters drawn (the answer is sorted by importance)

function importanceTable(parameters) {
  const table = document.createElement("table");
  table.className = "importance-table";
  const head = table.createTHead().insertRow();
  for (const label of ["Parameter", "Importance", "Pearson", "Spearman"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = label;
    head.append(th);
  }
  const body = table.createTBody();
  for (const p of parameters) {
    const row = body.insertRow();
    row.insertCell().textContent = p.name;
    for (const value of [p.importance, p.pearson, p.spearman]) {
      const cell = row.insertCell();
      cell.className = "num";
      cell.textContent = formatValue(typeof value === "number" ? value : null);
      // Correlations carry a sign: mark it for colour (CSS classes, no inline style).
      if (value !== p.importance && typeof value === "number") cell.classList.add(value < 0 ? "neg" : "pos");
    }
  }
  return table;
}

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
  const chart = document.createElement("div");
  chart.className = "importance-chart"; // full width: vega-embed sizes "container" charts from it
  const details = document.createElement("div");
  details.className = "importance-details";
  frame.body.replaceChildren(chart, details);

  async function load() {
    const { metric } = frame.values();
    if (!metric) { frame.setState("empty", "Pick a summary metric."); return; }
    const mine = ++seq;
    frame.setState("loading", "Computing importance…");
    try {
      const answer = await options.api.get("/importance", { metric: metric.replace(/^summary\./, ""), filters });
      if (mine !== seq) return;
      const parameters = (answer.parameters || []).filter((p) => typeof p.importance === "number").slice(0, SHOWN);
      container.dataset.parameters = String(parameters.length);
      container.dataset.runs = String(answer.runs ?? "");
      if (!parameters.length) {
        chart.replaceChildren();
        details.replaceChildren();
        frame.setState("empty", answer.reason || "Not enough finished runs with this metric.");
        return;
      }
      details.replaceChildren(importanceTable(parameters));
      await draw({ ...frame, body: chart }, {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        width: "container", height: Math.max(80, parameters.length * 20),
        autosize: { type: "fit", contains: "padding" },
        data: { values: parameters.map((p) => ({ parameter: p.name, importance: p.importance, pearson: p.pearson })) },
        mark: { type: "bar", cornerRadiusEnd: 2 },
        encoding: {
          y: { field: "parameter", type: "nominal", sort: "-x", title: null, axis: { labelLimit: 160 } },
          x: {
            field: "importance", type: "quantitative", title: `importance for ${metric.replace(/^summary\./, "")}`,
            axis: { labelOverlap: true, tickCount: 5 },
          },
          tooltip: [{ field: "parameter" }, { field: "importance", format: ".3f" }, { field: "pearson", format: ".3f" }],
        },
      });
      if (mine !== seq) return;
    } catch (exc) {
      if (mine === seq) frame.setState("error", `Could not compute: ${exc.message}`);
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
