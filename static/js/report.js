// A report's live panels (templates/reports/*: detail, an old version, a share link, and
// the PDF's print page). Each `[data-report-panel]` placeholder names a panel of the page
// data (json_script "report-data", validated by apps/reports/document.py):
//   chart — a line chart (panels/line.js) of its keys over the panel's run set, one line
//           per run and key, in each run's stable colour;
//   runs  — a table of the run set (name, state, and the chosen columns);
//   media — the run set's media panels (panels/media-section.js / media-panel.js).
// Data comes from the API with the reader's own rights (GET P/runs, P/history, P/media),
// exactly as the workspace reads it. Live: the project socket (workspace-live.js) reports
// new steps; a chart whose runs logged its keys refreshes at once after a quiet spell and
// at most once a second under a stream, never cancelling a refresh in flight (the
// workspace charts' rule), and a new or finished run re-reads the run set. On the print
// page the data is embedded (`snapshot`) and nothing is fetched. Each panel mirrors
// data-state (loading | ready | empty | error); the document gets data-report-ready="true"
// once every panel has settled (the PDF task waits on it).

import { createApi, readPageData } from "./api.js";
import { colorFor } from "./store.js";
import { createLineChart, formatValue } from "./panels/line.js";
import { seriesFromBuckets } from "./panels/history.js";
import { connectLive } from "./workspace-live.js";
import { el, mediaApi } from "./panels/media-common.js";
import { createMediaPanel } from "./panels/media-panel.js";

const REFRESH_MS = 1000;
const X_LABELS = { _step: "Step", _runtime: "Relative time (s)", _timestamp: "Wall time" };

const data = readPageData("report-data") || { panels: {} };
const snapshot = data.snapshot || null;
const api = snapshot ? null : createApi({ base: data.api_base, csrf: data.csrf });

/** The run set's runs ({id, name, state, summary, config, …}), in the set's order. */
async function loadRuns(spec, index) {
  if (snapshot) return (snapshot[index] && snapshot[index].runs) || [];
  const set = spec.runs || {};
  if (set.ids) {
    const page = await api.runs({ filters: { id: { $in: set.ids } }, page_size: set.ids.length });
    const byId = new Map(page.results.map((r) => [r.id, r]));
    return set.ids.filter((id) => byId.has(id)).map((id) => byId.get(id));
  }
  const page = await api.runs({ filters: set.filters, order: set.order, page_size: set.limit || 10 });
  return page.results;
}

function setState(figure, state) {
  figure.dataset.state = state;
  figure.setAttribute("aria-busy", state === "loading" ? "true" : "false");
  settle();
}

function chartPanel(figure, body, spec, index) {
  const element = el("div", "chart-panel report-chart");
  element.dataset.testid = "report-chart";
  body.replaceChildren(element);
  const chart = createLineChart(element, {
    title: spec.keys.join(", "),
    series: [],
    loading: true,
    xLabel: X_LABELS[spec.x_axis] || spec.x_axis,
    xTime: spec.x_axis === "_timestamp",
  });
  let runs = [];
  let busy = false, pending = false, timer = 0, loads = 0;

  async function load() {
    busy = true;
    try {
      runs = await loadRuns(spec, index);
      let answer = { runs: [] };
      if (snapshot) answer = (snapshot[index] && snapshot[index].history) || answer;
      else if (runs.length) {
        const width = element.clientWidth || 600;
        answer = await api.history({
          runs: runs.map((r) => r.id), keys: spec.keys, x_axis: spec.x_axis,
          buckets: Math.max(50, Math.min(1000, Math.round(width))),
        });
      }
      const byId = new Map(answer.runs.map((r) => [r.run, r]));
      const series = [];
      for (const run of runs) {
        const found = byId.get(run.id);
        if (!found) continue;
        for (const key of spec.keys) {
          const label = spec.keys.length > 1 ? `${run.name || run.id} · ${key}` : run.name || run.id;
          const color = colorFor(spec.keys.length > 1 ? `${run.id}:${key}` : run.id);
          series.push(seriesFromBuckets(found.series[key], { id: `${run.id}:${key}`, label, color }));
        }
      }
      chart.update({ series });
      loads += 1;
      figure.dataset.loads = String(loads);
      figure.dataset.points = element.dataset.points || "0";
      setState(figure, series.some((s) => s.x.length) ? "ready" : "empty");
    } catch (exc) {
      chart.setError(`Could not load ${spec.keys.join(", ")}: ${exc.message}`);
      setState(figure, "error");
    } finally {
      busy = false;
      loadedAt = performance.now();
      if (pending) { pending = false; refreshSoon(); }
    }
  }

  // A throttle, as the workspace charts': the first live step after a quiet spell is
  // drawn at once; under a stream of steps the chart asks at most once per REFRESH_MS.
  let loadedAt = -Infinity;
  function refreshSoon() {
    if (busy) { pending = true; return; }
    if (timer) return;
    const wait = Math.max(0, loadedAt + REFRESH_MS - performance.now());
    timer = setTimeout(() => { timer = 0; load(); }, wait);
  }

  load();
  return {
    onEvent(event) {
      if (event.type === "created" || event.type === "catchup") { refreshSoon(); return; }
      if (!runs.some((r) => r.id === event.run)) {
        if (event.state) refreshSoon(); // a run that may now belong to the set
        return;
      }
      const steps = event.steps || {};
      if (spec.keys.some((k) => k in steps) || event.state) refreshSoon();
    },
    reload: refreshSoon,
  };
}

function cell(run, column) {
  const dot = column.indexOf(".");
  if (dot > 0 && ["config", "summary"].includes(column.slice(0, dot))) {
    const root = run[column.slice(0, dot)] || {};
    const path = column.slice(dot + 1);
    if (path in root) return root[path];
    let node = root;
    for (const part of path.split(".")) {
      if (!node || typeof node !== "object" || !(part in node)) return undefined;
      node = node[part];
    }
    return node;
  }
  return run[column];
}

function show(value) {
  if (value === undefined || value === null) return "—";
  if (typeof value === "number") return formatValue(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function runsPanel(figure, body, spec, index) {
  const columns = ["state", ...(spec.columns || [])];
  let timer = 0;
  async function load() {
    try {
      const runs = await loadRuns(spec, index);
      const table = el("table", "table report-runs");
      table.dataset.testid = "report-runs-table";
      const head = el("tr");
      head.append(el("th", "", "Run"), ...columns.map((c) => el("th", "", c)));
      const thead = el("thead");
      thead.append(head);
      const tbody = el("tbody");
      for (const run of runs) {
        const row = el("tr");
        row.dataset.run = run.id;
        const name = el("td");
        const swatch = el("span", "run-swatch");
        swatch.style.background = colorFor(run.id);
        const link = el("a", "", run.name || run.id);
        link.href = `${data.run_url}${encodeURIComponent(run.id)}`;
        name.append(swatch, " ", link);
        row.append(name, ...columns.map((c) => el("td", c === "state" ? `state-${run.state}` : "mono", show(cell(run, c)))));
        tbody.append(row);
      }
      table.append(thead, tbody);
      body.replaceChildren(runs.length ? table : el("p", "muted", "No runs in this run set."));
      setState(figure, runs.length ? "ready" : "empty");
    } catch (exc) {
      body.replaceChildren(el("p", "errorlist", `Could not load the runs: ${exc.message}`));
      setState(figure, "error");
    }
  }
  load();
  return {
    onEvent(event) {
      if (timer || !(event.state || event.summary || event.type === "created")) return;
      timer = setTimeout(() => { timer = 0; load(); }, REFRESH_MS);
    },
    reload: load,
  };
}

function mediaPanelOf(figure, body, spec, index) {
  if (snapshot) {
    body.replaceChildren(el("p", "muted", "Media panels are shown in the live report."));
    setState(figure, "empty");
    return null;
  }
  const media = mediaApi(api, { csrf: data.csrf });
  const grid = el("div", "media-grid");
  async function load() {
    try {
      const runs = (await loadRuns(spec, index)).slice(0, 20).map((r) => ({ id: r.id, name: r.name || r.id, color: colorFor(r.id) }));
      const answer = runs.length ? await media.keys(runs.map((r) => r.id)) : { keys: [] };
      const keys = answer.keys.filter((k) => !spec.key || k.key === spec.key);
      const nodes = keys.map((entry) => {
        const node = el("div", "chart-panel media-panel-slot wide");
        createMediaPanel(node, { media, key: entry.key, type: entry.type, runs, canSave: false });
        return node;
      });
      grid.replaceChildren(...nodes);
      body.replaceChildren(keys.length ? grid : el("p", "muted", "These runs logged no media yet."));
      setState(figure, keys.length ? "ready" : "empty");
    } catch (exc) {
      body.replaceChildren(el("p", "errorlist", `Could not load the media: ${exc.message}`));
      setState(figure, "error");
    }
  }
  load();
  return null; // media keeps its own step sliders; no live re-render under the reader
}

const BUILDERS = { chart: chartPanel, runs: runsPanel, media: mediaPanelOf };
const figures = [...document.querySelectorAll("[data-report-panel]")];

function settle() {
  if (figures.every((f) => f.dataset.state !== "loading")) document.documentElement.dataset.reportReady = "true";
}

const live = [];
for (const figure of figures) {
  const index = figure.dataset.reportPanel;
  const spec = data.panels[index];
  const body = figure.querySelector(".report-panel-body");
  if (!spec || !BUILDERS[spec.type]) { setState(figure, "error"); continue; }
  const panel = BUILDERS[spec.type](figure, body, spec, index);
  if (panel) live.push(panel);
}
settle();

if (!snapshot && data.ws_path && live.length) {
  connectLive({
    path: data.ws_path,
    statusElement: document.querySelector("[data-live-status]"),
    onEvent: (event) => { for (const panel of live) panel.onEvent(event); },
    onReconnect: () => { for (const panel of live) panel.reload(); },
  });
} else {
  const status = document.querySelector("[data-live-status]");
  if (status) { status.dataset.state = "off"; status.textContent = ""; }
}

// PDF export: POST …/exports, then poll the export until it is done or failed.
const exportButton = document.querySelector("[data-export-pdf]");
const exportStatus = document.querySelector("[data-export-status]");
if (exportButton && data.exports) {
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    exportStatus.textContent = "Rendering the PDF…";
    exportStatus.dataset.state = "loading";
    try {
      const base = data.exports.slice(data.api_base.length);
      let state = await api.post(base, {});
      const deadline = Date.now() + 180000;
      while (state.state === "pending" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        state = await api.get(`${base}/${state.id}`);
      }
      if (state.state === "done") {
        const link = el("a", "btn small", `Download PDF (v${state.version}, ${Math.round(state.size / 1024)} KB)`);
        link.href = state.file_url;
        link.dataset.testid = "export-download";
        exportStatus.replaceChildren(link);
        exportStatus.dataset.state = "ready";
      } else {
        exportStatus.textContent = `The PDF could not be made: ${state.error || "it took too long"}`;
        exportStatus.dataset.state = "error";
      }
    } catch (exc) {
      exportStatus.textContent = `The PDF could not be made: ${exc.message}`;
      exportStatus.dataset.state = "error";
    } finally {
      exportButton.disabled = false;
    }
  });
}
