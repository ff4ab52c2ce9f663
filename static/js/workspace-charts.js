// The workspace's chart panels: by default one line chart per metric key, in sections by
// key prefix (train/, val/, …; system/ collapsed), over the runs shown in the table (the
// first CHART_RUNS not switched off with the eye toggle), or one line per group with a
// band when the table is grouped (GET …/history/grouped). Charts load when they scroll
// into view, re-query the visible range at full detail when zoomed, and refresh (at most
// once a second each) when live events report new steps for their key.

import { colorFor } from "./store.js";
import { compileFilters } from "./workspace-filters.js";
import { createLineChart } from "./panels/line.js";
import { groupSeries, seriesFromBuckets, stepRangeFor } from "./panels/history.js";

export const CHART_RUNS = 10;
const REFRESH_MS = 1000;
const BATCH_KEYS = 5;
const X_LABELS = { _step: "Step", _runtime: "Relative time (s)", _timestamp: "Wall time" };

function sectionOf(key) {
  const slash = key.indexOf("/");
  return slash > 0 ? key.slice(0, slash) : "";
}

export function createCharts({ api, store, container, onGroupsChanged, waitForRows = false }) {
  const charts = new Map(); // key -> {chart, element, zoom, loaded, timer, pending, seq}
  const sections = new Map(); // name -> {details, grid}
  let keys = [];
  // The workspace's charts draw the table's runs (`waitForRows`): none loads before the
  // table's first page has arrived (reloadAll says so), else a chart in view at start
  // would load once with no runs. The run page's store holds its run from the start.
  let rowsArrived = !waitForRows;
  const observer = new IntersectionObserver(
    (entries) => {
      if (!rowsArrived) return;
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const item = charts.get(entry.target.dataset.key);
        if (item && !item.loaded) load(item);
      }
    },
    { rootMargin: "200px" },
  );

  function view() { return store.get().view; }

  // Charts that load together (the page opening, the rows changing) share requests: the
  // keys asked for in one task with the same runs, axis, buckets and range go into one
  // history request per BATCH_KEYS keys, so twenty charts cost four requests, not twenty
  // (each request pays its own admission and run lookup; a few still run in parallel).
  const queued = []; // {params, key, resolve, reject}
  function historyFor(params, key) {
    return new Promise((resolve, reject) => {
      if (!queued.length) queueMicrotask(sendQueued);
      queued.push({ params, key, resolve, reject });
    });
  }

  function sendQueued() {
    const chunksOf = new Map(); // the request's other parameters -> chunks of entries
    for (const entry of queued.splice(0)) {
      const signature = JSON.stringify(entry.params);
      const chunks = chunksOf.get(signature) || [[]];
      chunksOf.set(signature, chunks);
      if (chunks[chunks.length - 1].length >= BATCH_KEYS) chunks.push([]);
      chunks[chunks.length - 1].push(entry);
    }
    for (const chunks of chunksOf.values()) {
      for (const chunk of chunks) {
        const keys = [...new Set(chunk.map((entry) => entry.key))];
        api.history({ ...chunk[0].params, keys }).then(
          (answer) => chunk.forEach((entry) => entry.resolve(answer)),
          (exc) => chunk.forEach((entry) => entry.reject(exc)),
        );
      }
    }
  }

  /** The runs drawn: the table's first rows minus hidden ones (ids, for the history API). */
  function chartRuns() {
    return store.shownRuns().slice(0, CHART_RUNS);
  }

  function sectionFor(name) {
    if (sections.has(name)) return sections.get(name);
    const details = document.createElement("details");
    details.className = "chart-section";
    details.dataset.section = name || "charts";
    details.open = !view().collapsed[name || "charts"];
    const summary = document.createElement("summary");
    summary.textContent = name ? `${name}/` : "Charts";
    const counter = document.createElement("span");
    counter.className = "muted section-count";
    summary.append(counter);
    const grid = document.createElement("div");
    grid.className = "chart-grid";
    details.append(summary, grid);
    details.addEventListener("toggle", () => {
      const collapsed = { ...view().collapsed, [name || "charts"]: !details.open };
      store.setView({ collapsed });
      // Charts drawn while collapsed had no width: redraw them. Ones never loaded keep
      // their loading state (a redraw with no series would claim "no data").
      if (details.open) for (const item of charts.values()) if (item.section === name && item.loaded && !item.busy) item.chart.update({});
    });
    sections.set(name, { details, grid, counter });
    return sections.get(name);
  }

  function orderSections() {
    const names = [...sections.keys()].sort((a, b) => {
      const rank = (n) => (n === "" ? 0 : n === "system" ? 2 : 1);
      return rank(a) - rank(b) || a.localeCompare(b);
    });
    container.replaceChildren(...names.map((n) => sections.get(n).details), ...extraPanels());
  }

  let extras = [];
  function extraPanels() { return extras; }
  function setExtraPanels(elements) { extras = elements; orderSections(); }

  function setKeys(next) {
    const hidden = new Set(view().hiddenKeys);
    keys = next.filter((k) => !hidden.has(k));
    for (const key of keys) {
      if (charts.has(key)) continue;
      const section = sectionOf(key);
      const { grid } = sectionFor(section);
      const element = document.createElement("div");
      element.className = "chart-panel";
      element.dataset.key = key;
      element.dataset.testid = "chart";
      grid.append(element);
      const item = { key, section, element, zoom: null, loaded: false, timer: 0, seq: 0 };
      item.chart = createLineChart(element, {
        title: key,
        series: [],
        loading: true,
        onZoom: (range) => zoom(item, range),
      });
      charts.set(key, item);
      observer.observe(element);
    }
    for (const [key, item] of charts) {
      if (keys.includes(key)) continue;
      observer.unobserve(item.element);
      item.chart.destroy();
      item.element.remove();
      charts.delete(key);
    }
    for (const [name, s] of sections) {
      const n = s.grid.children.length;
      s.counter.textContent = ` ${n}`;
      if (!n) sections.delete(name);
    }
    orderSections();
  }

  function chartOptions() {
    const v = view();
    return {
      xLabel: X_LABELS[v.xAxis] || v.xAxis,
      xTime: v.xAxis === "_timestamp",
      smoothing: v.smoothing,
      logX: v.logX,
      logY: v.logY,
      ignoreOutliers: v.ignoreOutliers,
    };
  }

  async function load(item) {
    item.loaded = true;
    item.busy = true;
    item.loadedAt = performance.now();
    const seq = ++item.seq;
    const v = view();
    const runs = chartRuns();
    const width = item.element.clientWidth || 400;
    const params = {
      keys: [item.key],
      x_axis: v.xAxis,
      buckets: Math.max(50, Math.min(1000, Math.round(width))),
      min_step: item.zoom ? item.zoom.minStep : undefined,
      max_step: item.zoom ? item.zoom.maxStep : undefined,
    };
    if (!item.chart.options.series.length) item.chart.setLoading();
    else item.element.setAttribute("aria-busy", "true");
    try {
      let series;
      let bucketWidth = null;
      if (v.groupBy) {
        const answer = await api.get("/history/grouped", {
          ...params,
          group_by: v.groupBy,
          filters: compileFilters(v.filters, v.search),
        });
        if (seq !== item.seq) return;
        bucketWidth = answer.bucket_width;
        series = answer.groups.map((group) => {
          const label = group.value === null || group.value === undefined ? "(none)" : String(group.value);
          return groupSeries(group.series[item.key], {
            id: `group:${label}`, label: `${label} (${group.run_ids.length})`,
            color: colorFor(`group:${label}`), band: v.band,
          });
        });
        onGroupsChanged && onGroupsChanged(answer);
      } else if (!runs.length) {
        series = [];
      } else {
        const { keys: _, ...shared } = params;
        const answer = await historyFor({ ...shared, runs: runs.map((r) => r.id) }, item.key);
        if (seq !== item.seq) return;
        const byId = new Map(answer.runs.map((r) => [r.run, r]));
        bucketWidth = Math.max(0, ...answer.runs.map((r) => r.bucket_width || 0)) || null;
        series = runs
          .filter((run) => byId.has(run.id))
          .map((run) => seriesFromBuckets(byId.get(run.id).series[item.key], {
            id: run.id, label: run.name || run.id, color: colorFor(run.id),
          }));
      }
      item.element.dataset.grouped = v.groupBy ? "true" : "false";
      item.element.dataset.bucketWidth = bucketWidth === null ? "" : String(bucketWidth);
      item.chart.update({
        ...chartOptions(),
        series,
        zoomed: !!item.zoom,
        xRange: item.zoom ? [item.zoom.xMin, item.zoom.xMax] : undefined,
      });
    } catch (exc) {
      if (seq === item.seq) item.chart.setError(`Could not load ${item.key}: ${exc.message}`);
    } finally {
      if (seq === item.seq) {
        item.busy = false;
        // Live steps that came in meanwhile: one more refresh, after this answer is drawn.
        if (item.pending) { item.pending = false; refreshSoon(item); }
      }
    }
  }

  // A throttle, not a debounce: the first live step after a quiet spell is drawn at once;
  // under a stream of steps the chart still asks at most once per REFRESH_MS.
  function refreshSoon(item) {
    if (item.timer) return;
    const wait = Math.max(0, (item.loadedAt || -Infinity) + REFRESH_MS - performance.now());
    item.timer = setTimeout(() => { item.timer = 0; load(item); }, wait);
  }

  function zoom(item, range) {
    if (!range) {
      item.zoom = null;
    } else if (view().xAxis === "_step") {
      item.zoom = { xMin: range.xMin, xMax: range.xMax, minStep: Math.max(0, Math.floor(range.xMin)), maxStep: Math.ceil(range.xMax) };
    } else {
      const steps = stepRangeFor(item.chart.options.series, range.xMin, range.xMax);
      if (!steps) return;
      item.zoom = { xMin: range.xMin, xMax: range.xMax, minStep: steps[0], maxStep: steps[1] };
    }
    load(item);
  }

  /** Everything again (runs, grouping or chart settings changed); `keepZoom` when only
   * the rows changed (a zoomed chart keeps its range; a new x axis must not). */
  function reloadAll({ keepZoom = false } = {}) {
    rowsArrived = true;
    for (const item of charts.values()) {
      item.loaded = false;
      if (!keepZoom) item.zoom = null;
    }
    // Observing again delivers a fresh entry per chart: those in (or near) view load now,
    // the others when they scroll in.
    for (const item of charts.values()) {
      observer.unobserve(item.element);
      observer.observe(item.element);
    }
  }

  /** Redraw with new display settings (smoothing, log scales): no new request. */
  function restyle() {
    for (const item of charts.values()) if (item.loaded) item.chart.update(chartOptions());
  }

  /** Live: the run logged new steps of these keys. */
  function onSteps(runId, steps) {
    const grouped = !!view().groupBy;
    if (!grouped && !chartRuns().some((r) => r.id === runId)) return;
    for (const key of Object.keys(steps || {})) {
      const item = charts.get(key);
      if (!item || !item.loaded) continue;
      // Never supersede a load in flight with a live refresh: on a slow server each
      // refresh would cancel the one before and the chart would never be drawn.
      if (item.busy) item.pending = true;
      else refreshSoon(item);
    }
  }

  return { setKeys, reloadAll, restyle, onSteps, setExtraPanels, get keys() { return keys; }, charts };
}
