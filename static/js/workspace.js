// The project workspace (templates/projects/project_workspace.html): wires the store, the
// runs table, the chart panels, saved views and live updates together. Page data comes
// from json_script "workspace-data" (apps/projects/web_views.py); nothing is inline.

import { createApi, readPageData } from "./api.js";
import { colorFor, createStore } from "./store.js";
import { compileFilters, conditionValue, describe, operatorsFor, TOP_FIELDS } from "./workspace-filters.js";
import { COLUMN_LABELS, createRunsTable, knownFields, TOP_COLUMNS } from "./workspace-table.js";
import { createCharts } from "./workspace-charts.js";
import { createViews } from "./workspace-views.js";
import { connectLive } from "./workspace-live.js";
import { createScatterPanel } from "./panels/scatter.js";
import { createBarPanel } from "./panels/bar.js";
import { createParallelPanel } from "./panels/parallel.js";
import { createImportancePanel } from "./panels/importance.js";
import { createMediaSection } from "./panels/media-section.js";

const $ = (id) => document.getElementById(id);
const page = readPageData("workspace-data");
const api = createApi({ base: page.api_base, csrf: page.csrf });
const store = createStore();
const root = $("workspace");

// ------------------------------------------------------------------ table
const table = createRunsTable({
  api,
  store,
  page,
  elements: {
    scroll: $("runs-scroll"), head: $("runs-head"), body: $("runs-body"), cols: $("runs-cols"),
    status: $("runs-status"), count: $("runs-count"),
  },
  onRowsChanged: () => {
    refreshFieldPickers();
    charts.reloadAll({ keepZoom: !queryChanged });
    queryChanged = false;
    refreshPanels();
    refreshMedia();
  },
});

let fields = { config: [], summary: [] };
function refreshFieldPickers() {
  fields = knownFields(store.get().runs);
  const groupBy = $("group-by");
  const keep = store.get().view.groupBy;
  groupBy.replaceChildren(
    new Option("No grouping", ""), new Option("Group", "group"), new Option("Job type", "job_type"),
    ...fields.config.map((f) => new Option(f.replace(/^config\./, "config: "), f)),
  );
  groupBy.value = keep;
  const field = $("filter-field");
  const chosen = field.value;
  field.replaceChildren(
    ...TOP_FIELDS.map(([f, label]) => new Option(label, f)),
    ...fields.config.map((f) => new Option(f, f)),
    ...fields.summary.map((f) => new Option(f, f)),
  );
  if (chosen) field.value = chosen;
  paintOperators();
  paintColumnPicker();
}

// ------------------------------------------------------------------ filters
function paintOperators() {
  const op = $("filter-op");
  const ops = operatorsFor($("filter-field").value);
  op.replaceChildren(...ops.map(([o, label]) => new Option(label, o)));
}
$("filter-field").addEventListener("change", paintOperators);

function paintFilterBar() {
  const bar = $("filter-bar");
  const { filters } = store.get().view;
  bar.replaceChildren(
    ...filters.map((condition, index) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset.testid = "filter-chip";
      chip.textContent = describe(condition);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove filter ${describe(condition)}`);
      remove.addEventListener("click", () => {
        store.setView({ filters: filters.filter((_, i) => i !== index) });
      });
      chip.append(remove);
      return chip;
    }),
  );
  bar.hidden = !filters.length;
}

function toggleEditor(open) {
  const editor = $("filter-editor");
  editor.hidden = !open;
  $("filter-add").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) $("filter-field").focus();
}
$("filter-add").addEventListener("click", () => toggleEditor($("filter-editor").hidden));
$("filter-cancel").addEventListener("click", () => toggleEditor(false));
$("filter-editor").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = $("filter-field").value;
  const op = $("filter-op").value;
  const text = $("filter-value").value;
  if (!field || text.trim() === "") return;
  const value = conditionValue(field, op, text);
  store.setView({ filters: [...store.get().view.filters, { field, op, value }] });
  $("filter-value").value = "";
  toggleEditor(false);
});

let searchTimer = 0;
$("runs-search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => store.setView({ search: event.target.value }), 250);
});

// ------------------------------------------------------------------ column picker
function paintColumnPicker() {
  const list = $("columns-list");
  const view = store.get().view;
  const needle = $("columns-search").value.trim().toLowerCase();
  const all = [...TOP_COLUMNS, ...fields.config, ...fields.summary];
  const rows = all
    .filter((c) => !needle || c.toLowerCase().includes(needle))
    .slice(0, 300)
    .map((c) => {
      const row = document.createElement("div");
      row.className = "column-option";
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = view.columns.includes(c);
      box.dataset.column = c;
      box.addEventListener("change", () => {
        const columns = box.checked ? [...view.columns, c] : view.columns.filter((x) => x !== c);
        store.setView({ columns, pinned: view.pinned.filter((p) => columns.includes(p)) });
      });
      label.append(box, ` ${COLUMN_LABELS[c] || c}`);
      const pin = document.createElement("button");
      pin.type = "button";
      pin.className = "link small";
      const pinned = view.pinned.includes(c);
      pin.textContent = pinned ? "Unpin" : "Pin";
      pin.setAttribute("aria-pressed", pinned ? "true" : "false");
      pin.setAttribute("aria-label", `${pinned ? "Unpin" : "Pin"} column ${c}`);
      pin.disabled = !view.columns.includes(c);
      pin.addEventListener("click", () => {
        store.setView({ pinned: pinned ? view.pinned.filter((p) => p !== c) : [...view.pinned, c] });
      });
      row.append(label, pin);
      return row;
    });
  list.replaceChildren(...rows);
}
$("columns-search").addEventListener("input", paintColumnPicker);
$("columns-toggle").addEventListener("click", () => {
  const picker = $("columns-picker");
  picker.hidden = !picker.hidden;
  $("columns-toggle").setAttribute("aria-expanded", picker.hidden ? "false" : "true");
  if (!picker.hidden) $("columns-search").focus();
});

$("group-by").addEventListener("change", (event) => store.setView({ groupBy: event.target.value }));

// ------------------------------------------------------------------ bulk actions, export
function paintBulk() {
  const selected = store.get().selected;
  $("bulk-actions").hidden = !selected.size;
  $("bulk-count").textContent = `${selected.size} selected`;
  $("bulk-tag").hidden = $("bulk-untag").hidden = !page.can_write;
  $("bulk-delete").hidden = !page.can_delete;
  // The compare page takes 2-10 runs, in the table's order.
  const ids = store.get().runs.map((r) => r.id).filter((id) => selected.has(id));
  const compare = $("bulk-compare");
  compare.hidden = ids.length < 2 || ids.length > 10;
  compare.href = `${page.run_url.replace(/runs\/$/, "compare")}?runs=${ids.map(encodeURIComponent).join(",")}`;
}

async function eachSelected(action) {
  const ids = [...store.get().selected];
  const failures = [];
  for (const id of ids) {
    try {
      await action(id, store.get().runs.find((r) => r.id === id));
    } catch (exc) {
      failures.push(`${id}: ${exc.message}`);
    }
  }
  if (failures.length) window.alert(`Not every run was changed:\n${failures.join("\n")}`);
  store.set({ selected: new Set() });
  table.reload();
}

$("bulk-tag").addEventListener("click", () => {
  const tag = window.prompt("Add the tag:");
  if (!tag || !tag.trim()) return;
  eachSelected((id, run) => api.runUpdate(id, { tags: [...new Set([...(run ? run.tags : []), tag.trim()])] }));
});
$("bulk-untag").addEventListener("click", () => {
  const tag = window.prompt("Remove the tag:");
  if (!tag || !tag.trim()) return;
  eachSelected((id, run) => api.runUpdate(id, { tags: (run ? run.tags : []).filter((t) => t !== tag.trim()) }));
});
$("bulk-delete").addEventListener("click", () => {
  const n = store.get().selected.size;
  if (!window.confirm(`Delete ${n} run${n === 1 ? "" : "s"} with their metrics and files? This cannot be undone.`)) return;
  eachSelected((id) => api.runDelete(id));
});

$("export-csv").addEventListener("click", () => {
  const blob = new Blob([table.csv()], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${page.project}-runs.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});

// ------------------------------------------------------------------ charts
const charts = createCharts({ api, store, container: $("panels"), waitForRows: true });

async function loadKeys() {
  try {
    const answer = await api.metricKeys({ include_system: 1 });
    charts.setKeys(answer.keys);
    const xAxis = $("x-axis");
    const keep = store.get().view.xAxis;
    xAxis.replaceChildren(
      new Option("Step", "_step"), new Option("Relative time", "_runtime"), new Option("Wall time", "_timestamp"),
      ...answer.keys.filter((k) => !k.startsWith("system/")).map((k) => new Option(k, k)),
    );
    xAxis.value = keep;
  } catch (exc) {
    $("panels").textContent = `Could not load the metric keys: ${exc.message}`;
  }
}

function paintChartControls() {
  const view = store.get().view;
  $("x-axis").value = view.xAxis;
  $("smoothing-kind").value = view.smoothing.kind;
  const weight = $("smoothing-weight");
  weight.hidden = view.smoothing.kind === "none";
  if (view.smoothing.kind === "avg") {
    weight.min = "1"; weight.max = "100"; weight.step = "1"; weight.value = String(view.smoothing.window);
  } else {
    weight.min = "0"; weight.max = "0.99"; weight.step = "0.01"; weight.value = String(view.smoothing.weight);
  }
  $("log-x").checked = view.logX;
  $("log-y").checked = view.logY;
  $("ignore-outliers").checked = view.ignoreOutliers;
  $("band-kind").value = view.band;
  $("band-kind").closest("label").hidden = !view.groupBy;
  $("group-by").value = view.groupBy;
  $("runs-search").value = view.search;
}

$("x-axis").addEventListener("change", (e) => store.setView({ xAxis: e.target.value }));
$("smoothing-kind").addEventListener("change", (e) => store.setView({ smoothing: { ...store.get().view.smoothing, kind: e.target.value } }));
$("smoothing-weight").addEventListener("input", (e) => {
  const s = store.get().view.smoothing;
  store.setView({ smoothing: s.kind === "avg" ? { ...s, window: Number(e.target.value) } : { ...s, weight: Number(e.target.value) } });
});
$("log-x").addEventListener("change", (e) => store.setView({ logX: e.target.checked }));
$("log-y").addEventListener("change", (e) => store.setView({ logY: e.target.checked }));
$("ignore-outliers").addEventListener("change", (e) => store.setView({ ignoreOutliers: e.target.checked }));
$("band-kind").addEventListener("change", (e) => store.setView({ band: e.target.value }));

// ------------------------------------------------------------------ extra panels
const PANEL_KINDS = {
  scatter: createScatterPanel, bar: createBarPanel, parallel: createParallelPanel, importance: createImportancePanel,
};
let panels = []; // [{spec, element, instance}]

function panelRuns() {
  return store.shownRuns().map((run) => ({ ...run, color: colorFor(run.id) }));
}
function allFields() {
  return [...fields.config, ...fields.summary];
}

function buildPanels() {
  for (const p of panels) p.instance.destroy();
  const section = document.createElement("section");
  section.className = "chart-section extra-panels";
  const grid = document.createElement("div");
  grid.className = "chart-grid";
  section.append(grid);
  panels = store.get().view.panels.map((spec, index) => {
    const element = document.createElement("div");
    element.className = "chart-panel";
    element.dataset.panel = spec.kind;
    grid.append(element);
    const instance = PANEL_KINDS[spec.kind](element, {
      ...spec, api, runs: panelRuns(), fields: allFields(),
      filters: compileFilters(store.get().view.filters, store.get().view.search),
      onChange: (values) => {
        const next = store.get().view.panels.slice();
        next[index] = { ...spec, ...values };
        quietViewUpdate({ panels: next });
      },
      onRemove: () => store.setView({ panels: store.get().view.panels.filter((_, i) => i !== index) }),
    });
    return { spec, element, instance };
  });
  charts.setExtraPanels(panels.length ? [section] : []);
}

function refreshPanels() {
  const runs = panelRuns();
  const filters = compileFilters(store.get().view.filters, store.get().view.search);
  for (const p of panels) p.instance.update({ runs, fields: allFields(), filters });
}

$("add-panel").addEventListener("change", (event) => {
  const kind = event.target.value;
  event.target.value = "";
  if (!kind) return;
  const summary = fields.summary[0];
  const spec = { kind, x: fields.config[0] || summary, y: summary, metric: summary };
  store.setView({ panels: [...store.get().view.panels, spec] });
});

// A panel's own picker changed: remember it without rebuilding every panel.
let quiet = false;
function quietViewUpdate(patch) {
  quiet = true;
  store.setView(patch);
  quiet = false;
}

// ------------------------------------------------------------------ media
// One panel per media key of the runs shown (panels/media-section.js); the section stays
// hidden while those runs logged no media.
let media = null;
function refreshMedia() {
  const runs = panelRuns();
  if (media) {
    media.update(runs);
    return;
  }
  const pane = root.querySelector(".media-pane");
  media = createMediaSection($("media-section"), {
    api, csrf: page.csrf, runs, canSave: !!page.can_write,
    onKeys: (count) => { pane.hidden = !count; },
  });
}

// ------------------------------------------------------------------ reacting to the store
const TABLE_QUERY = ["filters", "search", "order", "groupBy"];
const CHART_QUERY = ["xAxis", "band"];
const CHART_STYLE = ["smoothing", "logX", "logY", "ignoreOutliers"];
let previousView = store.get().view;
let queryChanged = false;

store.subscribe((state, changed) => {
  if (changed.has("selected")) { paintBulk(); table.render(); }
  if (changed.has("hidden")) { table.render(); charts.reloadAll(); refreshPanels(); refreshMedia(); }
  if (changed.has("runs")) table.render();
  if (!changed.has("view")) return;
  const view = state.view;
  const differs = (names) => names.some((n) => JSON.stringify(view[n]) !== JSON.stringify(previousView[n]));
  const panelsChanged = differs(["panels"]);
  const tableChanged = differs(TABLE_QUERY);
  const chartsChanged = differs(CHART_QUERY);
  const styleChanged = differs(CHART_STYLE);
  const layoutChanged = differs(["columns", "pinned", "widths"]);
  previousView = view;
  paintFilterBar();
  paintChartControls();
  if (layoutChanged) { table.render(); paintColumnPicker(); }
  if (tableChanged) {
    queryChanged = true; // new filters or grouping: zoomed ranges start over
    table.reload(); // reloads the charts when the rows arrive
  }
  else if (chartsChanged) charts.reloadAll();
  if (styleChanged) charts.restyle();
  if (panelsChanged && !quiet) buildPanels();
});

// ------------------------------------------------------------------ live updates
let tableTimer = 0;
function reloadTableSoon() {
  if (tableTimer) return;
  tableTimer = setTimeout(() => { tableTimer = 0; table.reload(); }, 1000);
}
let keysTimer = 0;
function reloadKeysSoon() {
  if (keysTimer) return;
  keysTimer = setTimeout(() => { keysTimer = 0; loadKeys(); }, 1000);
}

function onLiveEvent(event) {
  if (!event.run) return;
  const patch = {};
  if (event.state) patch.state = event.state;
  if (event.summary) patch.summary = event.summary;
  patch.heartbeat = true;
  const known = table.patchRun(event.run, patch);
  if (!known) {
    // A run this page has not seen: it belongs in the table if it matches the filters.
    reloadTableSoon();
    return;
  }
  if (event.type === "created") reloadTableSoon();
  if (event.steps && Object.keys(event.steps).length) {
    if (Object.keys(event.steps).some((k) => !charts.keys.includes(k))) reloadKeysSoon();
    charts.onSteps(event.run, event.steps);
  }
  if (event.summary) refreshPanels();
}

// Running runs' runtime ticks without a server round trip.
setInterval(() => {
  const runs = store.get().runs;
  if (!runs.some((r) => r.state === "running")) return;
  table.render();
}, 5000);

// ------------------------------------------------------------------ start
const views = createViews({
  api, store, page,
  elements: {
    select: $("view-select"), save: $("view-save"), rename: $("view-rename"), setDefault: $("view-default"),
    remove: $("view-delete"), reset: $("view-reset"), status: $("views-status"),
  },
  onApply: () => {
    previousView = store.get().view;
    paintFilterBar();
    paintChartControls();
    buildPanels();
    table.reload();
  },
});

paintBulk();
await loadKeys();
await views.start();
connectLive({
  path: page.ws_path,
  statusElement: $("live-status"),
  onEvent: onLiveEvent,
  onReconnect: () => { table.reload(); loadKeys(); },
});
root.dataset.ready = "true";
