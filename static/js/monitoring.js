// The monitor page (templates/monitoring/detail.html): a version-aware time series of one
// window metric (a line per model version, alias moves as dashed markers), the drift table
// of the latest window and, for the selected feature, its reference-vs-current
// distribution. Data comes from the metrics and drift routes (window aggregates and stored
// drift results; never raw predictions). While predictions stream in, ws:monitor-events
// says when rows were stored and the page re-reads the window metrics; it polls only while
// that socket is down. State for tests: #monitor-chart[data-state], [data-lines],
// [data-markers]; #drift-chart[data-feature]; #monitoring-app[data-live].

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { formatValue } from "./panels/line.js";

const COLORS = ["#4f7df3", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4", "#525df4"];
const POLL_MS = 10000; // while the live socket is down
const LIVE_MIN_MS = 1000; // at most one re-read per second while events arrive
const SKIP = new Set(["calibration", "prediction_hist", "class_counts", "confusion", "errors"]);

const app = document.getElementById("monitoring-app");
const api = app.dataset.api;
const metricSelect = document.getElementById("monitor-metric");
const rangeSelect = document.getElementById("monitor-range");
const status = document.getElementById("monitor-status");
const chartEl = document.getElementById("monitor-chart");
const driftTable = document.querySelector("#drift-table tbody");
const driftChartEl = document.getElementById("drift-chart");
const driftTitle = document.getElementById("drift-chart-title");
const driftWindow = document.getElementById("drift-window");

let series = null;
let chart = null;
let driftChart = null;
let drift = null;
let selectedFeature = null;

async function getJson(url) {
  const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await resp.json();
  if (!resp.ok) throw new Error((body.error && body.error.message) || `HTTP ${resp.status}`);
  return body;
}

function width(el) {
  return Math.max(320, el.clientWidth || 800);
}

function metricNames(data) {
  const names = new Set(Object.keys(data.series.all || {}).filter((k) => !SKIP.has(k)));
  const preferred = ["volume", "accuracy", "roc_auc", "f1", "mae", "latency_p95", "error_rate", "missing_rate"];
  return [...preferred.filter((n) => names.has(n)), ...[...names].filter((n) => !preferred.includes(n)).sort()];
}

function fillMetrics(data) {
  const names = metricNames(data);
  const current = metricSelect.value;
  if (metricSelect.options.length === names.length) return;
  metricSelect.replaceChildren(...names.map((n) => new Option(n, n, false, n === current)));
  if (!current && names.length) metricSelect.value = names.includes("accuracy") ? "accuracy" : names[0];
}

function markersPlugin(moves) {
  return {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.setLineDash([6, 4]);
          ctx.strokeStyle = "#888";
          ctx.fillStyle = "#666";
          ctx.font = `${11 * devicePixelRatio}px sans-serif`;
          for (const m of moves) {
            const x = u.valToPos(m.time, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            const label = `${m.from || "∅"} → ${m.to || "∅"}`;
            const right = x > u.bbox.left + u.bbox.width - 80 * devicePixelRatio;
            ctx.textAlign = right ? "right" : "left";
            ctx.fillText(label, right ? x - 4 : x + 4, u.bbox.top + 12 * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

function drawSeries() {
  if (!series) return;
  const metric = metricSelect.value;
  const xs = series.times;
  const lines = series.versions.map((v) => (series.series[v] && series.series[v][metric]) || xs.map(() => null));
  const data = [xs, ...lines];
  const opts = {
    width: width(chartEl),
    height: 280,
    title: `${metric} per ${series.window_seconds === 3600 ? "hour" : "day"}`,
    scales: {
      x: {
        time: true,
        // Alias moves after the last window start (the open window) stay in view.
        range: (u, min, max) => {
          const times = series.alias_moves.map((m) => m.time).filter((t) => t >= series.from);
          const lo = Math.min(min ?? Infinity, ...times);
          const hi = Math.max(max ?? -Infinity, ...times, (max ?? 0) + series.window_seconds / 4);
          return Number.isFinite(lo) ? [lo - series.window_seconds / 4, hi] : [min, max];
        },
      },
    },
    series: [
      {},
      ...series.versions.map((v, i) => ({
        label: v,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        points: { show: true, size: 5 },
        spanGaps: false,
        value: (u, val) => formatValue(val),
      })),
    ],
    axes: [{}, { values: (u, vals) => vals.map(formatValue) }],
    plugins: [markersPlugin(series.alias_moves)],
  };
  if (chart) chart.destroy();
  chartEl.replaceChildren();
  chart = new uPlot(opts, data, chartEl);
  chartEl.dataset.state = xs.length ? "ready" : "empty";
  chartEl.dataset.lines = String(series.versions.length);
  chartEl.dataset.markers = String(series.alias_moves.length);
}

async function loadSeries() {
  const span = Number(rangeSelect.value);
  const now = Date.now() / 1000;
  try {
    series = await getJson(`${api}/metrics?from=${now - span}&to=${now + 60}`);
    fillMetrics(series);
    drawSeries();
    status.textContent = `${series.times.length} windows · versions ${series.versions.join(", ") || "—"}`;
  } catch (err) {
    chartEl.dataset.state = "error";
    status.textContent = err.message;
  }
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function badgeCell(drifted) {
  const td = document.createElement("td");
  const span = document.createElement("span");
  span.className = drifted ? "badge badge-danger" : "badge";
  span.textContent = drifted ? "drift" : "ok";
  td.append(span);
  return td;
}

function drawDriftTable() {
  driftTable.replaceChildren();
  for (const f of drift.features) {
    const tr = document.createElement("tr");
    tr.dataset.feature = f.feature;
    tr.className = "drift-row" + (f.drifted ? " drifted" : "") + (f.feature === selectedFeature ? " selected" : "");
    const name = f.feature === "__prediction__" ? "prediction" : f.feature;
    tr.append(
      cell(name),
      cell(f.type),
      cell(f.method, "mono"),
      cell(formatValue(f.score), "mono"),
      cell(String(f.threshold), "mono"),
      badgeCell(f.drifted),
      cell(f.missing_rate === null || f.missing_rate === undefined ? "—" : `${(100 * f.missing_rate).toFixed(1)}%`),
    );
    tr.tabIndex = 0;
    tr.addEventListener("click", () => selectFeature(f.feature));
    tr.addEventListener("keydown", (e) => e.key === "Enter" && selectFeature(f.feature));
    driftTable.append(tr);
  }
}

function selectFeature(name) {
  selectedFeature = name;
  drawDriftTable();
  const f = drift.features.find((x) => x.feature === name);
  if (!f) return;
  const chartData = f.chart || {};
  const ref = chartData.reference || [];
  const cur = chartData.current || [];
  const share = (arr) => {
    const total = arr.reduce((a, b) => a + b, 0) || 1;
    return arr.map((v) => v / total);
  };
  let labels;
  if (chartData.categories) {
    labels = chartData.categories;
  } else if (chartData.edges) {
    const e = chartData.edges;
    labels = ref.map((_, i) => (i === 0 ? `< ${formatValue(e[0])}` : i > e.length - 1 ? `≥ ${formatValue(e[e.length - 1])}` : formatValue(e[i - 1])));
  } else {
    labels = [];
  }
  const xs = labels.map((_, i) => i);
  const bars = uPlot.paths.bars({ size: [0.4, 40], align: 0 });
  const opts = {
    width: width(driftChartEl),
    height: 240,
    title: `${name === "__prediction__" ? "prediction" : name}: reference vs current (${f.method} ${formatValue(f.score)})`,
    scales: { x: { time: false, range: [-0.6, Math.max(xs.length - 0.4, 1)] } },
    series: [
      {},
      { label: "reference", fill: "rgba(79,125,243,0.55)", stroke: "#4f7df3", paths: bars, points: { show: false } },
      { label: "current", fill: "rgba(232,116,59,0.55)", stroke: "#e8743b", paths: uPlot.paths.bars({ size: [0.4, 40], align: 1 }), points: { show: false } },
    ],
    axes: [
      { splits: () => xs, values: (u, vals) => vals.map((v) => labels[v] ?? "") , rotate: 0 },
      { values: (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) },
    ],
  };
  if (driftChart) driftChart.destroy();
  driftChartEl.replaceChildren();
  driftChart = new uPlot(opts, [xs, share(ref), share(cur)], driftChartEl);
  driftChartEl.dataset.feature = name;
  driftTitle.textContent = `${f.count} current values; bins are the reference profile's.`;
}

async function loadDrift() {
  try {
    drift = await getJson(`${api}/drift`);
  } catch (err) {
    driftWindow.textContent = err.message;
    return;
  }
  driftWindow.textContent = `window ${new Date(drift.start).toISOString().slice(0, 16).replace("T", " ")} UTC · ${drift.drifted} of ${drift.features.filter((f) => f.feature !== "__prediction__").length} features drifted`;
  drawDriftTable();
  const first = drift.features.find((f) => f.drifted) || drift.features[0];
  if (first && !selectedFeature) selectFeature(first.feature);
  else if (selectedFeature) selectFeature(selectedFeature);
}

metricSelect.addEventListener("change", drawSeries);
rangeSelect.addEventListener("change", loadSeries);
window.addEventListener("resize", () => {
  if (chart) chart.setSize({ width: width(chartEl), height: 280 });
});

const liveEl = document.getElementById("monitor-live");
let socketOpen = false;
let openedBefore = false;
let reloadTimer = null;
let delay = 500;

function reloadSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    loadSeries();
  }, LIVE_MIN_MS);
}

function showLive(state, text) {
  app.dataset.live = state;
  liveEl.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${app.dataset.events}`);
  socket.addEventListener("open", () => {
    socketOpen = true;
    delay = 500;
    showLive("live", "live");
    if (openedBefore) loadSeries(); // catch up on what was stored while it was down
    openedBefore = true;
  });
  socket.addEventListener("message", (message) => {
    if (JSON.parse(message.data).type === "windows") reloadSoon();
  });
  socket.addEventListener("close", () => {
    socketOpen = false;
    showLive("reconnecting", "reconnecting…");
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  });
}

loadSeries();
loadDrift();
connect();
setInterval(() => {
  if (!document.hidden && !socketOpen) loadSeries();
}, POLL_MS);
