// The run page (templates/runs/run_detail.html): tabs, searchable config and summary
// tables, the metric and system charts (the workspace's panel system, workspace-charts.js,
// over this one run), the console (console.js), file previews, editing name / tags /
// notes and deleting through the run API, and live updates over the run's WebSocket
// (state, runtime, summary values, new chart points, new console lines). The Media tab
// draws the run's media keys as panels (panels/media-section.js).
//
// Page data comes from json_script "run-page-data" (apps/runs/web_views.py). Writes go to
// the API, which applies the ownership rule (members change their own runs, admins any);
// the page only offers the controls the server said the caller may use.

import { createApi, readPageData } from "./api.js";
import { colorFor, createStore, defaultViewState } from "./store.js";
import { createCharts } from "./workspace-charts.js";
import { createConsole } from "./console.js";
import { bindTableFilters } from "./run-tables.js";
import { createMediaSection } from "./panels/media-section.js";

const data = readPageData("run-page-data");
const api = createApi({ base: data.api_base, csrf: data.csrf });
const run = data.run;
let state = run.state;

// --------------------------------------------------------------------------- helpers

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m ${String(r).padStart(2, "0")}s`;
  if (m) return `${m}m ${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

function flash(message, kind = "error") {
  const box = document.getElementById("flash");
  if (!box) return;
  const alert = document.createElement("div");
  alert.className = `alert ${kind}`;
  alert.setAttribute("role", kind === "error" ? "alert" : "status");
  alert.textContent = message;
  box.replaceChildren(alert);
}

for (const swatch of document.querySelectorAll("[data-run-color]")) {
  swatch.style.background = colorFor(swatch.dataset.runColor);
}
bindTableFilters(document);

// --------------------------------------------------------------------------- state, runtime

let runtimeBase = run.runtime || 0;
let runtimeAt = performance.now();
const runtimeNode = document.querySelector("[data-runtime]");

function showRuntime() {
  if (!runtimeNode) return;
  const live = state === "running" ? (performance.now() - runtimeAt) / 1000 : 0;
  runtimeNode.textContent = formatDuration(runtimeBase + live);
}
showRuntime();
setInterval(showRuntime, 1000);

function setState(next) {
  if (!next || next === state) return;
  state = next;
  for (const badge of document.querySelectorAll("[data-run-state]")) {
    badge.textContent = next;
    badge.dataset.state = next;
    badge.className = `badge state-${next}`;
  }
}

// --------------------------------------------------------------------------- tabs

const tabs = [...document.querySelectorAll('.run-tabs [role="tab"]')];
const opened = new Set();
const onOpen = new Map(); // panel id -> callback the first time it is shown

function select(tab, { focus = false, updateHash = true } = {}) {
  for (const other of tabs) {
    const on = other === tab;
    other.setAttribute("aria-selected", on ? "true" : "false");
    other.tabIndex = on ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !on;
  }
  const id = tab.getAttribute("aria-controls");
  if (focus) tab.focus();
  if (updateHash) history.replaceState(null, "", id === "overview" ? location.pathname + location.search : `#${id}`);
  if (!opened.has(id)) {
    opened.add(id);
    const callback = onOpen.get(id);
    if (callback) callback();
  }
}

tabs.forEach((tab, index) => {
  tab.addEventListener("click", (event) => {
    event.preventDefault();
    select(tab);
  });
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) {
      event.preventDefault();
      select(tabs[(index + step + tabs.length) % tabs.length], { focus: true });
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      select(tabs[event.key === "Home" ? 0 : tabs.length - 1], { focus: true });
    }
  });
});

// --------------------------------------------------------------------------- charts

const X_AXES = [
  ["_step", "Step"],
  ["_runtime", "Relative time"],
  ["_timestamp", "Wall time"],
];

function chartToolbar(charts, store, keys) {
  const bar = document.createElement("div");
  bar.className = "chart-toolbar run-chart-toolbar";
  const view = store.get().view;

  const xLabel = document.createElement("label");
  xLabel.textContent = "x-axis ";
  const x = document.createElement("select");
  x.className = "inline-select";
  for (const [value, label] of [...X_AXES, ...keys.map((k) => [k, k])]) {
    x.append(new Option(label, value, false, value === view.xAxis));
  }
  x.addEventListener("change", () => {
    store.setView({ xAxis: x.value });
    charts.reloadAll();
  });
  xLabel.append(x);

  const smoothLabel = document.createElement("label");
  smoothLabel.textContent = "Smoothing ";
  const smooth = document.createElement("select");
  smooth.className = "inline-select";
  for (const [value, label] of [["none", "none"], ["ema", "EMA 0.6"], ["ema9", "EMA 0.9"], ["avg", "running avg (10)"]]) {
    smooth.append(new Option(label, value));
  }
  smooth.addEventListener("change", () => {
    const choice = smooth.value;
    const smoothing =
      choice === "ema" ? { kind: "ema", weight: 0.6 }
      : choice === "ema9" ? { kind: "ema", weight: 0.9 }
      : choice === "avg" ? { kind: "avg", window: 10 }
      : { kind: "none" };
    store.setView({ smoothing });
    charts.restyle();
  });
  smoothLabel.append(smooth);

  const checks = [
    ["logY", "Log y"],
    ["ignoreOutliers", "Ignore outliers"],
  ].map(([name, text]) => {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !!view[name];
    box.addEventListener("change", () => {
      store.setView({ [name]: box.checked });
      charts.restyle();
    });
    label.append(box, ` ${text}`);
    return label;
  });
  bar.append(xLabel, smoothLabel, ...checks);
  return bar;
}

const chartKeys = { metrics: new Set(data.metric_keys), system: new Set(data.system_keys) };
const panels = {};

function chartPanel(name, panelId, viewPatch) {
  const panel = document.getElementById(panelId);
  const grid = panel.querySelector("[data-chart-grid]");
  const store = createStore({
    runs: [{ id: run.id, name: run.name || run.id }],
    view: { ...defaultViewState(), collapsed: {}, ...viewPatch },
  });
  const container = document.createElement("div");
  container.className = "run-chart-sections";
  container.dataset.chartGrid = grid.dataset.chartGrid;
  const charts = createCharts({ api, store, container });
  const xKeys = name === "metrics" ? [...chartKeys.metrics] : [];
  const toolbar = chartToolbar(charts, store, xKeys);
  grid.replaceWith(toolbar, container);
  const empty = panel.querySelector("[data-chart-empty]");
  const show = () => {
    const keys = [...chartKeys[name]].sort();
    toolbar.hidden = container.hidden = !keys.length;
    if (empty) empty.hidden = keys.length > 0;
    charts.setKeys(keys);
  };
  show();
  return { charts, show };
}

onOpen.set("charts", () => {
  panels.metrics = chartPanel("metrics", "charts", {});
});
onOpen.set("system", () => {
  // System samples are numbered per sample: time reads better than the sample index.
  panels.system = chartPanel("system", "system", { xAxis: "_runtime" });
});

function chartsGotSteps(steps) {
  const parts = { metrics: {}, system: {} };
  for (const [key, step] of Object.entries(steps || {})) {
    parts[key.startsWith("system/") ? "system" : "metrics"][key] = step;
  }
  for (const [name, part] of Object.entries(parts)) {
    const fresh = Object.keys(part).filter((k) => !chartKeys[name].has(k));
    if (fresh.length) {
      // A key logged for the first time: a new chart (now, or when the tab opens).
      for (const key of fresh) chartKeys[name].add(key);
      const counter = document.querySelector(`[data-key-count="${name}"]`);
      if (counter) counter.textContent = String(chartKeys[name].size);
      if (panels[name]) panels[name].show();
    }
    if (panels[name] && Object.keys(part).length) panels[name].charts.onSteps(run.id, part);
  }
}

// --------------------------------------------------------------------------- media

// The run's images, tables, charts, players and histograms: one panel per media key
// (static/js/panels/media-section.js), loaded when the tab first opens.
onOpen.set("media", () => {
  const section = document.querySelector("[data-media-section]");
  const template = document.getElementById("media-empty-text");
  createMediaSection(section, {
    api,
    csrf: data.csrf,
    runs: [{ id: run.id, name: run.name || run.id, color: colorFor(run.id) }],
    canSave: true,
    emptyHtml: template ? template.content.cloneNode(true) : null,
    onKeys: (count) => {
      const counter = document.querySelector("[data-media-count]");
      if (counter) counter.textContent = String(count);
    },
  });
});

// --------------------------------------------------------------------------- console

const logsPanel = document.getElementById("logs");
const consoleCount = document.querySelector("[data-console-count]");
const log = createConsole(logsPanel, {
  api,
  runId: run.id,
  total: data.console_next,
  onCount: (n) => {
    if (consoleCount) consoleCount.textContent = String(n);
  },
});
onOpen.set("logs", () => log.open());

// --------------------------------------------------------------------------- files

const TEXT_TYPES = /^(text\/|application\/(json|x-yaml|yaml|xml|x-sh|toml|x-python))/;
const TEXT_NAMES = /\.(txt|log|md|json|jsonl|ya?ml|toml|cfg|ini|csv|tsv|py|sh|patch|diff|xml|html?|js|css|rst)$/i;
const IMAGE_NAMES = /\.(png|jpe?g|gif|webp|svg|bmp)$/i;
const PREVIEW_LIMIT = 1024 * 1024;

async function preview(button) {
  const pane = document.querySelector("[data-file-preview]");
  if (!pane) return;
  const { preview: url, path, type } = button.dataset;
  const size = Number(button.dataset.size);
  for (const row of document.querySelectorAll("tr[data-file]")) {
    row.classList.toggle("selected", row.dataset.file === path);
  }
  const title = document.createElement("h3");
  title.className = "mono";
  title.textContent = path;
  const download = document.createElement("a");
  download.href = url;
  download.download = "";
  download.className = "btn small secondary";
  download.textContent = "Download";
  const head = document.createElement("div");
  head.className = "preview-head";
  head.append(title, download);
  pane.replaceChildren(head);
  pane.setAttribute("aria-busy", "true");
  try {
    if ((type || "").startsWith("image/") || IMAGE_NAMES.test(path)) {
      const image = new Image();
      image.alt = path;
      image.className = "preview-image";
      image.src = url;
      await image.decode().catch(() => {
        throw new Error("the image could not be shown");
      });
      pane.append(image);
    } else if (TEXT_TYPES.test(type || "") || TEXT_NAMES.test(path)) {
      if (size > PREVIEW_LIMIT) throw new Error("the file is larger than 1 MB; download it instead");
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const pre = document.createElement("pre");
      pre.className = "preview-text";
      pre.textContent = await response.text();
      pane.append(pre);
    } else {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = "No preview for this kind of file.";
      pane.append(note);
    }
  } catch (exc) {
    const note = document.createElement("p");
    note.className = "muted";
    note.setAttribute("role", "alert");
    note.textContent = `No preview: ${exc.message}.`;
    pane.append(note);
  } finally {
    pane.setAttribute("aria-busy", "false");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-preview]");
  if (button) preview(button);
});

// --------------------------------------------------------------------------- edit, delete

const editForm = document.getElementById("run-edit");

function showRun(updated) {
  run.name = updated.name;
  for (const node of document.querySelectorAll("[data-run-name]")) node.textContent = updated.name || updated.id;
  const tags = document.querySelector("[data-run-tags]");
  if (tags && updated.tags) {
    tags.replaceChildren(
      ...updated.tags.map((tag) => {
        const item = document.createElement("li");
        item.className = "tag";
        item.textContent = tag;
        return item;
      }),
    );
  }
  const notes = document.querySelector("[data-run-notes]");
  if (notes && updated.notes !== undefined) {
    if (updated.notes) {
      const text = document.createElement("p");
      text.className = "notes-text";
      text.textContent = updated.notes;
      notes.replaceChildren(text);
    } else {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "No notes.";
      notes.replaceChildren(empty);
    }
  }
}

function openEditor(open) {
  if (!editForm) return;
  editForm.hidden = !open;
  for (const button of document.querySelectorAll('[data-action="edit"]')) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  if (open) editForm.querySelector("input").focus();
}

document.addEventListener("click", (event) => {
  const action = event.target.closest("[data-action]");
  if (!action) return;
  const name = action.dataset.action;
  if (name === "edit") openEditor(editForm.hidden);
  else if (name === "edit-cancel") openEditor(false);
  else if (name === "delete") document.getElementById("run-delete-dialog").showModal();
  else if (name === "delete-confirm") deleteRun(action);
});

if (editForm) {
  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = editForm.querySelector("[data-edit-error]");
    const submit = editForm.querySelector('button[type="submit"]');
    const form = new FormData(editForm);
    const body = {
      name: String(form.get("name") || "").trim(),
      notes: String(form.get("notes") || ""),
      tags: String(form.get("tags") || "")
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    };
    error.hidden = true;
    editForm.classList.add("is-submitting");
    submit.disabled = true;
    try {
      const updated = await api.runUpdate(run.id, body);
      showRun(updated);
      openEditor(false);
      flash("Run saved.", "success");
    } catch (exc) {
      error.textContent =
        exc.status === 403 ? `Permission denied: ${exc.message}` : exc.message || "The run could not be saved.";
      error.hidden = false;
    } finally {
      editForm.classList.remove("is-submitting");
      submit.disabled = false;
    }
  });
}

async function deleteRun(button) {
  const dialog = document.getElementById("run-delete-dialog");
  const error = dialog.querySelector("[data-delete-error]");
  button.disabled = true;
  error.hidden = true;
  try {
    await api.runDelete(run.id);
    window.location.assign(data.project_url);
  } catch (exc) {
    error.textContent = exc.message || "The run could not be deleted.";
    error.hidden = false;
    button.disabled = false;
  }
}

// --------------------------------------------------------------------------- live

function onEvent(event) {
  if (!event || event.run !== run.id) return;
  setState(event.state);
  if (typeof event.runtime === "number") {
    runtimeBase = event.runtime;
    runtimeAt = performance.now();
    showRuntime();
  }
  if (event.type === "updated") showRun({ ...run, ...event });
  if (event.summary) {
    for (const [key, value] of Object.entries(event.summary)) {
      const cell = document.querySelector(`#summary-table tr[data-key="${CSS.escape(key)}"] [data-summary-value]`);
      if (cell && (typeof value !== "object" || value === null)) cell.textContent = String(value);
    }
  }
  if (event.steps) chartsGotSteps(event.steps);
  if (event.console) {
    log.tail();
    if (consoleCount && !opened.has("logs")) {
      consoleCount.textContent = String(Number(consoleCount.textContent || 0) + event.console);
    }
  }
}

let everConnected = false;

function connect(delay = 1000) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let socket;
  try {
    socket = new WebSocket(`${scheme}//${location.host}${data.ws_path}`);
  } catch {
    return;
  }
  let accepted = false;
  socket.addEventListener("open", () => {
    accepted = true;
    document.body.dataset.live = "connected";
    // Whatever was written while disconnected: the console and the charts catch up.
    if (everConnected) {
      log.tail();
      for (const panel of Object.values(panels)) panel.charts.reloadAll();
    }
    everConnected = true;
  });
  socket.addEventListener("message", (message) => {
    try {
      onEvent(JSON.parse(message.data));
    } catch {
      /* a malformed event is ignored; the next one carries the latest state */
    }
  });
  socket.addEventListener("close", (close) => {
    document.body.dataset.live = "disconnected";
    if (close.code >= 4400 && close.code < 4500) return; // refused (no access): no retry
    const wait = accepted ? 1000 : Math.min(delay * 2, 15000);
    setTimeout(() => connect(wait), wait);
  });
}
connect();

// --------------------------------------------------------------------------- start

const fromHash = tabs.find((t) => `#${t.getAttribute("aria-controls")}` === location.hash);
select(fromHash || tabs[0], { updateHash: false });
document.documentElement.dataset.runPage = "ready";
