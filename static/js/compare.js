// The compare page (templates/runs/run_compare.html): config and summary tables with a
// search box and "only differences", and the compared runs' metrics overlaid, one chart
// per key, through the workspace's panel system (workspace-charts.js) over these runs,
// each in its stable colour. Page data: json_script "compare-data" (web_views.py).

import { createApi, readPageData } from "./api.js";
import { colorFor, createStore, defaultViewState } from "./store.js";
import { createCharts } from "./workspace-charts.js";
import { bindTableFilters } from "./run-tables.js";

for (const swatch of document.querySelectorAll("[data-run-color]")) {
  swatch.style.background = colorFor(swatch.dataset.runColor);
}
bindTableFilters(document);

const data = readPageData("compare-data");
const grid = document.querySelector('[data-chart-grid="compare"]');
if (data && grid) {
  const api = createApi({ base: data.api_base });
  const store = createStore({
    runs: data.runs,
    view: { ...defaultViewState(), collapsed: {} },
  });
  const container = document.createElement("div");
  container.className = "run-chart-sections";
  container.dataset.chartGrid = "compare";
  grid.replaceWith(container);
  const charts = createCharts({ api, store, container });
  charts.setKeys(data.metric_keys);
}
document.documentElement.dataset.comparePage = "ready";
