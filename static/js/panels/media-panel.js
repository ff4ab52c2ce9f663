// One panel per media key, over one run (the run page's Media tab) or several (the
// workspace's Media section). What it draws depends on the key's type:
// - image, audio, video, html, object3d, plotly: a column per run with that run's items
//   at the chosen step or its nearest before (GET P/media?key=&runs=&step=), and a step
//   slider over every step any of the runs logged the key at;
// - table: the table viewer (paged, sorted, filtered by the server) of one run's table
//   at the step, with "Custom chart…" opening the editor over it;
// - chart (plot.* and plot_table): the logged Vega-Lite spec drawn over its table, or a
//   team preset chosen under "Chart as"; the rows below on demand;
// - histogram: the heatmap of the key over steps (the server bins, this draws).
// Each panel keeps data-state (loading / ready / empty / error) and data-step current.

import { el, mediaFrame, stepSlider, tableRecords } from "./media-common.js";
import { renderImage } from "./image.js";
import { renderAudio } from "./audio.js";
import { renderVideo } from "./video.js";
import { renderHtml } from "./html.js";
import { renderPointCloud } from "./pointcloud.js";
import { drawHeatmap } from "./histogram-heatmap.js";
import { createTableViewer } from "./table.js";
import { drawChart } from "./custom-chart.js";
import { openChartEditor } from "./chart-editor.js";

const TYPE_LABELS = {
  image: "Images", audio: "Audio", video: "Video", html: "HTML", object3d: "3D", plotly: "Plotly",
  histogram: "Histogram over steps", table: "Table", chart: "Custom chart",
};

function renderPlotly(item) {
  const figure = el("figure", "media-item media-plotly");
  const link = el("a", "btn small secondary", "Plotly figure (JSON)");
  link.href = item.file_url;
  link.download = "";
  figure.append(link);
  return figure;
}

const RENDERERS = {
  image: renderImage, audio: renderAudio, video: renderVideo, html: renderHtml,
  object3d: renderPointCloud, plotly: renderPlotly,
};

let presetCache = null;
function teamPresets(media) {
  if (!presetCache) presetCache = media.presets().then((a) => a.presets).catch(() => []);
  return presetCache;
}
/** Forget the cached presets (after one is saved). */
export function presetsChanged() {
  presetCache = null;
}

/**
 * createMediaPanel(container, {media, key, type, runs: [{id, name, color}], canSave})
 * -> {update(runs), destroy()}
 */
export function createMediaPanel(container, { media, key, type, runs, canSave = false }) {
  const frame = mediaFrame(container, { title: key, kind: type });
  container.dataset.key = key;
  frame.head.querySelector(".chart-title").append(el("small", "muted media-type", ` ${TYPE_LABELS[type] || type}`));
  let shownRuns = runs;
  let step = null; // null: each run's last step
  let generation = 0;
  let selectedRun = null;
  let presetId = "";
  const everLogged = new Set(); // runs seen with items of this key (they keep a column)

  const sliderSlot = el("div", "media-slider-slot");
  const content = el("div", "media-content");
  frame.body.append(sliderSlot, content);

  const runSelect = document.createElement("select");
  runSelect.className = "inline-select";
  runSelect.setAttribute("aria-label", `Run shown in ${key}`);
  runSelect.addEventListener("change", () => { selectedRun = runSelect.value; load(); });
  const presetSelect = document.createElement("select");
  presetSelect.className = "inline-select";
  presetSelect.setAttribute("aria-label", `Chart ${key} as`);
  presetSelect.dataset.testid = "chart-as";
  presetSelect.addEventListener("change", () => { presetId = presetSelect.value; load(); });
  const editButton = el("button", "secondary small", "Custom chart…");
  editButton.type = "button";
  editButton.dataset.testid = "open-chart-editor";
  const single = ["table", "chart", "histogram"].includes(type);
  if (single) frame.tools.append(runSelect);
  if (type === "table" || type === "chart") {
    frame.tools.append(presetSelect, editButton);
    teamPresets(media).then((presets) => paintPresets(presets));
  }

  function paintPresets(presets) {
    const keep = presetId;
    presetSelect.replaceChildren(
      new Option(type === "chart" ? "Chart as logged" : "Chart as…", ""),
      ...presets.map((p) => new Option(p.name, String(p.id))),
    );
    presetSelect.value = keep;
    presetSelect.hidden = !presets.length;
    presetSelect._presets = presets;
  }

  function paintRunSelect(available) {
    runSelect.replaceChildren(...available.map((r) => new Option(r.name || r.id, r.id)));
    if (!available.some((r) => r.id === selectedRun)) selectedRun = available.length ? available[0].id : null;
    runSelect.value = selectedRun || "";
    runSelect.hidden = available.length < 2;
  }

  let current = null; // the single-run panels' item now shown
  editButton.addEventListener("click", () => {
    if (!current) return;
    const chosen = (presetSelect._presets || []).find((p) => String(p.id) === presetId);
    openChartEditor({
      media, item: current, canSave,
      spec: chosen ? chosen.spec : current.type === "chart" ? current.metadata.spec : undefined,
      onSaved: () => {
        presetsChanged();
        teamPresets(media).then(paintPresets);
      },
    });
  });

  function runColumn(run, answer) {
    const column = el("section", "media-column");
    column.dataset.run = run.id;
    const head = el("div", "media-column-head");
    const swatch = el("span", "swatch");
    if (run.color) swatch.style.background = run.color;
    head.append(swatch, el("span", "media-run-name", run.name || run.id));
    const at = el("small", "muted mono media-run-step", answer.step === null ? "" : `step ${answer.step}`);
    head.append(at);
    column.append(head);
    const items = el("div", `media-items media-items-${type}`);
    if (!answer.items.length) {
      items.append(el("p", "muted media-none", step === null ? "Nothing logged." : `Nothing at or before step ${step}.`));
    }
    for (const item of answer.items) items.append((RENDERERS[type] || renderPlotly)(item));
    column.append(items);
    return column;
  }

  async function drawSingle(item, runId) {
    current = item;
    editButton.hidden = !item;
    if (!item) {
      content.replaceChildren(el("p", "muted media-none", "Nothing logged at or before this step."));
      return;
    }
    if (type === "table") {
      const chosen = (presetSelect._presets || []).find((p) => String(p.id) === presetId);
      const holder = el("div", "media-table-holder");
      const parts = [];
      if (chosen) {
        const chart = el("div", "vega-panel media-chart");
        parts.push(chart);
        await drawChart(chart, chosen.spec, await tableRecords(media, item));
      }
      parts.push(holder);
      content.replaceChildren(...parts);
      createTableViewer(holder, { media, runId, item });
      return;
    }
    // A chart: the logged spec (or a preset) over its rows; the rows on demand below.
    const chosen = (presetSelect._presets || []).find((p) => String(p.id) === presetId);
    const spec = chosen ? chosen.spec : item.metadata.spec;
    const chart = el("div", "vega-panel media-chart");
    chart.dataset.testid = "custom-chart";
    const rows = el("details", "media-rows");
    rows.append(el("summary", "muted", `Table (${(item.metadata.nrows || 0).toLocaleString()} rows)`));
    let opened = false;
    rows.addEventListener("toggle", () => {
      if (!rows.open || opened) return;
      opened = true;
      const holder = el("div");
      rows.append(holder);
      createTableViewer(holder, { media, runId, item });
    });
    content.replaceChildren(chart, rows);
    const records = await tableRecords(media, item);
    await drawChart(chart, spec, records);
    chart.dataset.rows = String(records.length);
  }

  async function load() {
    const mine = ++generation;
    frame.setState("loading");
    const ids = shownRuns.map((r) => r.id);
    if (!ids.length) {
      content.replaceChildren();
      frame.setState("empty", "No runs shown.");
      return;
    }
    try {
      if (type === "histogram") {
        // The runs that logged the key (their last items say so), then one run's heatmap.
        const logged = await media.across(key, ids, null);
        if (mine !== generation) return;
        const available = shownRuns.filter((r) => logged.runs.some((w) => w.run === r.id && w.items.length));
        paintRunSelect(available.length ? available : shownRuns.slice(0, 1));
        const data = await media.heatmap(selectedRun, key);
        if (mine !== generation) return;
        if (!data.steps.length) {
          content.replaceChildren();
          frame.setState("empty", "No histogram logged by this run.");
          return;
        }
        const canvas = drawHeatmap(content, data);
        container.dataset.steps = canvas.dataset.steps;
        frame.setState("ready", data.total_steps > data.steps.length ? `${data.steps.length} of ${data.total_steps} steps shown` : "");
        return;
      }
      const answer = await media.across(key, ids, step);
      if (mine !== generation) return;
      paintSlider(answer.steps);
      if (single) {
        const withItems = answer.runs.filter((r) => r.items.length);
        const available = shownRuns.filter((r) => withItems.some((w) => w.run === r.id));
        paintRunSelect(available.length ? available : shownRuns.slice(0, 1));
        const chosen = answer.runs.find((r) => r.run === selectedRun);
        await drawSingle(chosen && chosen.items[0], selectedRun);
      } else {
        const byId = new Map(answer.runs.map((r) => [r.run, r]));
        const grid = el("div", "media-columns");
        // Runs that never logged the key get no column (one that has, but not by this
        // step, says so in its column).
        for (const r of answer.runs) if (r.step !== null) everLogged.add(r.run);
        const shownColumns = shownRuns.filter((r) => everLogged.has(r.id));
        grid.dataset.columns = String(shownColumns.length);
        for (const run of shownColumns) grid.append(runColumn(run, byId.get(run.id) || { step: null, items: [] }));
        content.replaceChildren(grid);
      }
      if (mine !== generation) return;
      container.dataset.step = step === null ? String(answer.steps[answer.steps.length - 1] ?? "") : String(step);
      frame.setState("ready");
    } catch (exc) {
      if (mine !== generation) return;
      frame.setState("error", `Could not load ${key}: ${exc.message}`);
    }
  }

  let sliderSteps = "";
  function paintSlider(steps) {
    const signature = steps.join(",");
    if (signature === sliderSteps) return;
    sliderSteps = signature;
    const slider = stepSlider(steps, {
      value: step,
      onChange: (chosen) => {
        step = chosen;
        load();
      },
    });
    sliderSlot.replaceChildren(slider.element);
  }

  load();
  return {
    update(nextRuns) {
      const before = shownRuns.map((r) => r.id).join(",");
      shownRuns = nextRuns;
      if (nextRuns.map((r) => r.id).join(",") !== before) load();
    },
    reload: load,
    destroy() {
      generation++;
      container.replaceChildren();
    },
  };
}
