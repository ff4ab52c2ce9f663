// Line-chart panel (uPlot, npm): one line per run or group, a faint min/max band where a
// bucket holds many points, smoothing (EMA with debiased start, or running average) with
// the raw line faint behind, log x / log y, an outlier-ignoring y range, drag-to-zoom that
// asks the owner to re-query, and a hover legend with every line's value.
//
// The server computes (buckets, groups, bands); this module only draws. Used by the
// project workspace, the run page and the compare page:
//
//   import { createLineChart } from "/static/js/panels/line.js";
//   const chart = createLineChart(element, {
//     title: "train/loss",
//     series: [{ id: "3k9f2a", label: "baseline", color: "#4f7df3",
//                x: [...], y: [...], min: [...], max: [...], banded: true }],
//     xLabel: "Step", xTime: false,           // xTime: x is Unix seconds (wall time)
//     smoothing: { kind: "ema", weight: 0.6 }, // kind: none | ema | avg (window: n)
//     logX: false, logY: false, ignoreOutliers: false,
//     onZoom: (range) => {},                   // {xMin, xMax} after a drag; null on reset
//   });
//   chart.setLoading(true);  chart.update({ series });  chart.setError("…");  chart.destroy();
//
// State for tests and assistive tech is mirrored on the element: data-state (loading |
// ready | empty | error), data-lines, data-points (drawn points over all lines),
// data-bands, data-zoomed, aria-busy. After each draw the element dispatches a bubbling
// "chart-drawn" event whose detail.last maps each line's id to its last x (what a
// latency measurement or a test waits for; bench/live_latency.py).

import uPlot from "../../vendor/uplot/uPlot.esm.js";

const SCHEME = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function alpha(color, opacity) {
  // "#rrggbb" -> rgba(); other colour strings pass through with color-mix.
  if (/^#[0-9a-f]{6}$/i.test(color)) {
    const n = parseInt(color.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${opacity})`;
  }
  return `color-mix(in srgb, ${color} ${Math.round(opacity * 100)}%, transparent)`;
}

/** Short labels: 0.00123 -> "1.23e-3", 12345.6 -> "12346", 0.5 -> "0.5". */
export function formatValue(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const size = Math.abs(value);
  if (size !== 0 && (size < 1e-3 || size >= 1e6)) return value.toExponential(2).replace(/\.?0+e/, "e");
  if (size >= 1000) return String(Math.round(value));
  return String(parseFloat(value.toPrecision(4)));
}

/** EMA with the debiased start (as Adam / TensorBoard do), or a trailing running average.
 * Nulls (NaN buckets) stay gaps and do not reset the average. */
export function smooth(values, smoothing) {
  const kind = smoothing && smoothing.kind;
  if (!kind || kind === "none") return values;
  const out = new Array(values.length);
  if (kind === "ema") {
    const w = Math.min(Math.max(Number(smoothing.weight) || 0, 0), 0.999);
    let s = 0, n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) { out[i] = v; continue; }
      s = w * s + (1 - w) * v;
      n += 1;
      out[i] = s / (1 - Math.pow(w, n));
    }
    return out;
  }
  const size = Math.max(1, Math.round(Number(smoothing.window) || 10));
  const window = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) { out[i] = v; continue; }
    window.push(v);
    sum += v;
    if (window.length > size) sum -= window.shift();
    out[i] = sum / window.length;
  }
  return out;
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// Binary search: index of the last x <= target (or -1).
function lastAtOrBefore(xs, target) {
  let lo = 0, hi = xs.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= target) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

export function createLineChart(container, initial) {
  let options = { smoothing: { kind: "none" }, series: [], ...initial };
  let plot = null;
  let layoutKey = "";
  let prepared = null;
  let destroyed = false;

  container.classList.add("line-chart");
  const head = document.createElement("div");
  head.className = "chart-head";
  const title = document.createElement("h3");
  title.className = "chart-title";
  const reset = document.createElement("button");
  reset.type = "button";
  reset.className = "chart-reset secondary small";
  reset.textContent = "Reset zoom";
  reset.hidden = true;
  reset.addEventListener("click", () => options.onZoom && options.onZoom(null));
  head.append(title, reset);
  const canvas = document.createElement("div");
  canvas.className = "chart-canvas";
  const status = document.createElement("div");
  status.className = "chart-status";
  status.setAttribute("role", "status");
  const legend = document.createElement("div");
  legend.className = "chart-legend";
  legend.setAttribute("aria-live", "off");
  container.replaceChildren(head, canvas, status, legend);

  function setState(state, message = "") {
    container.dataset.state = state;
    container.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    status.textContent = message;
    status.hidden = !message;
  }

  // Line series -> aligned uPlot data + series/band options.
  function prepare() {
    const { logX, logY, smoothing } = options;
    const shown = options.series.filter((s) => s.x && s.x.length);
    const tables = [];
    const seriesOpts = [];
    const bands = [];
    const lines = []; // {s, x, y} per drawn line, for the legend
    let column = 1;
    let points = 0;
    const smoothed = smoothing && smoothing.kind && smoothing.kind !== "none";
    for (const s of shown) {
      const x = [], raw = [], lo = [], hi = [];
      for (let i = 0; i < s.x.length; i++) {
        if (logX && !(s.x[i] > 0)) continue;
        const keep = (v) => (v === null || v === undefined || (logY && !(v > 0)) ? null : v);
        x.push(s.x[i]);
        raw.push(keep(s.y[i]));
        lo.push(keep(s.min ? s.min[i] : null));
        hi.push(keep(s.max ? s.max[i] : null));
      }
      if (!x.length) continue;
      const y = smooth(raw, smoothing);
      const table = [x, y];
      seriesOpts.push({
        label: s.label, stroke: s.color, width: s.group ? 2 : 1.5, spanGaps: false,
        points: { show: x.length < 2 },
      });
      const yIndex = column++;
      if (smoothed) {
        table.push(raw);
        seriesOpts.push({ label: `${s.label} (raw)`, stroke: alpha(s.color, 0.25), width: 1 });
        column++;
      }
      if (s.banded) {
        table.push(hi, lo);
        seriesOpts.push({ label: "max", stroke: "transparent", width: 0, points: { show: false } });
        seriesOpts.push({ label: "min", stroke: "transparent", width: 0, points: { show: false } });
        bands.push({ series: [column, column + 1], fill: alpha(s.color, s.group ? 0.18 : 0.12) });
        column += 2;
      }
      tables.push(table);
      points += y.reduce((n, v) => (v === null || v === undefined ? n : n + 1), 0);
      lines.push({ s, x, y, yIndex });
    }
    const data = tables.length ? uPlot.join(tables) : [[]];
    return { data, seriesOpts, bands, lines, points };
  }

  function yRange(u, dataMin, dataMax) {
    if (options.logY) return uPlot.rangeLog(dataMin, dataMax, 10, true);
    if (options.ignoreOutliers && prepared) {
      const values = [];
      for (const line of prepared.lines) for (const v of line.y) if (v !== null && v !== undefined) values.push(v);
      values.sort((a, b) => a - b);
      const lo = quantile(values, 0.02), hi = quantile(values, 0.98);
      if (lo !== null && hi > lo) {
        const pad = (hi - lo) * 0.08;
        return [lo - pad, hi + pad];
      }
    }
    if (dataMin === null || dataMax === null) return [0, 1];
    return uPlot.rangeNum(dataMin, dataMax, 0.08, true);
  }

  function showLegend(idx) {
    if (!prepared) return;
    const x = idx === null || idx === undefined || !plot ? null : plot.data[0][idx];
    const items = prepared.lines.map(({ s, x: xs, y }) => {
      let value = null;
      if (x !== null) {
        const i = lastAtOrBefore(xs, x);
        value = i >= 0 ? y[i] : null;
      } else {
        for (let i = y.length - 1; i >= 0; i--) if (y[i] !== null && y[i] !== undefined) { value = y[i]; break; }
      }
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = s.color;
      const name = document.createElement("span");
      name.className = "legend-name";
      name.textContent = s.label;
      const val = document.createElement("span");
      val.className = "legend-value";
      val.textContent = formatValue(value);
      item.append(swatch, name, val);
      return item;
    });
    if (x !== null) {
      const at = document.createElement("span");
      at.className = "legend-x";
      at.textContent = `${options.xLabel || "x"} ${options.xTime ? new Date(x * 1000).toLocaleString() : formatValue(x)}`;
      items.unshift(at);
    }
    legend.replaceChildren(...items);
  }

  function build() {
    const fg = cssVar("--muted", "#5b6572");
    const grid = cssVar("--border", "#dde1e7");
    const width = Math.max(canvas.clientWidth || container.clientWidth || 320, 200);
    const height = options.height || 220;
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width,
      height,
      legend: { show: false },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { size: 6 },
        focus: { prox: 24 },
      },
      focus: { alpha: 0.35 },
      scales: {
        x: { time: !!options.xTime, distr: options.logX ? 3 : 1, range: options.xRange ? () => options.xRange : undefined },
        y: { distr: options.logY ? 3 : 1, range: yRange },
      },
      axes: [
        { ...axis, label: options.xLabel || "", labelSize: 18, labelFont: "12px system-ui", font: "11px system-ui" },
        { ...axis, size: 56, font: "11px system-ui", values: (u, splits) => splits.map(formatValue) },
      ],
      series: [{}, ...prepared.seriesOpts],
      bands: prepared.bands,
      hooks: {
        setCursor: [(u) => showLegend(u.cursor.idx)],
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const xMin = u.posToVal(u.select.left, "x");
            const xMax = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (options.onZoom) options.onZoom({ xMin, xMax });
          },
        ],
      },
    };
    if (plot) plot.destroy();
    plot = new uPlot(opts, prepared.data, canvas);
    plot.over.addEventListener("dblclick", () => options.onZoom && options.onZoom(null));
    plot.over.addEventListener("mouseleave", () => showLegend(null));
  }

  function render() {
    if (destroyed) return;
    title.textContent = options.title || "";
    reset.hidden = !options.zoomed;
    container.dataset.zoomed = options.zoomed ? "true" : "false";
    prepared = prepare();
    container.dataset.lines = String(prepared.lines.length);
    container.dataset.points = String(prepared.points);
    container.dataset.bands = String(prepared.bands.length);
    if (!prepared.lines.length) {
      if (plot) { plot.destroy(); plot = null; layoutKey = ""; }
      setState("empty", options.emptyMessage || "No data in this range.");
      legend.replaceChildren();
      return;
    }
    setState("ready");
    // Same lines and settings: only new data (live points, a re-queried zoom) -> setData.
    const key = JSON.stringify([
      prepared.seriesOpts.map((s) => [s.label, s.stroke]), prepared.bands.length,
      options.logX, options.logY, options.xTime, options.xLabel, options.height,
      options.xRange, options.ignoreOutliers, SCHEME && SCHEME.matches,
    ]);
    if (plot && key === layoutKey) plot.setData(prepared.data);
    else build();
    layoutKey = key;
    showLegend(null);
    const last = {};
    for (const s of options.series) if (s.x && s.x.length) last[s.id] = s.x[s.x.length - 1];
    container.dispatchEvent(new CustomEvent("chart-drawn", { bubbles: true, detail: { last } }));
  }

  const resize = new ResizeObserver(() => {
    if (plot && canvas.clientWidth && Math.abs(plot.width - canvas.clientWidth) > 2) {
      plot.setSize({ width: canvas.clientWidth, height: plot.height });
    }
  });
  resize.observe(canvas);
  const onScheme = () => { layoutKey = ""; render(); };
  if (SCHEME) SCHEME.addEventListener("change", onScheme);

  setState("loading", "Loading…");
  if (initial && initial.series && !initial.loading) render();

  return {
    element: container,
    /** Merge options and redraw (cheaply, when only the data changed). */
    update(patch) {
      options = { ...options, ...patch };
      render();
    },
    setLoading(message = "Loading…") {
      setState("loading", message);
    },
    setError(message) {
      if (plot) { plot.destroy(); plot = null; layoutKey = ""; }
      legend.replaceChildren();
      setState("error", message);
    },
    get options() { return options; },
    /** What is drawn: per line its id, label and number of points. */
    get drawn() {
      return prepared ? prepared.lines.map(({ s, y }) => ({ id: s.id, label: s.label, points: y.length })) : [];
    },
    destroy() {
      destroyed = true;
      resize.disconnect();
      if (SCHEME) SCHEME.removeEventListener("change", onScheme);
      if (plot) plot.destroy();
      plot = null;
      container.replaceChildren();
    },
  };
}
