// The custom-chart editor: Vega-Lite JSON on the left, a live preview over the chosen
// table's rows on the right (redrawn as you type; a parse or spec error is shown, the
// last good drawing stays), and "Save as preset" storing it under a name for the whole
// team (POST /api/v1/teams/<team>/chart-presets). Saved presets can be loaded back into
// the editor and are offered by every table and chart panel ("Chart as").

import { el, tableRecords } from "./media-common.js";
import { drawChart } from "./custom-chart.js";

/** A starting spec for a table: the first two columns as a point chart. */
export function starterSpec(columns) {
  const [x, y] = [columns[0] || "x", columns[1] || columns[0] || "y"];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    data: { name: "table" },
    mark: { type: "point", tooltip: true },
    encoding: {
      x: { field: x, type: "quantitative" },
      y: { field: y, type: "quantitative" },
    },
  };
}

/**
 * openChartEditor({media, item, spec, canSave, onSaved}) -> the <dialog> (already open).
 * `item` is the table (or chart) whose rows the preview uses.
 */
export function openChartEditor({ media, item, spec, canSave = true, onSaved }) {
  const dialog = el("dialog", "chart-editor");
  dialog.setAttribute("aria-label", "Custom chart editor");
  dialog.dataset.testid = "chart-editor";
  const head = el("div", "chart-editor-head");
  head.append(el("h2", "", `Custom chart over ${item.key}`));
  const close = el("button", "secondary small", "Close");
  close.type = "button";
  close.addEventListener("click", () => dialog.close());
  head.append(close);

  const columns = item.metadata.columns || [];
  const hint = el("p", "muted small chart-editor-hint", `Data: "table" — columns ${columns.map((c) => JSON.stringify(c)).join(", ")}`);
  const source = el("textarea", "chart-editor-source mono");
  source.spellcheck = false;
  source.setAttribute("aria-label", "Vega-Lite spec (JSON)");
  source.value = JSON.stringify(spec || starterSpec(columns), null, 2);
  const problem = el("p", "errorlist chart-editor-error");
  problem.setAttribute("role", "alert");
  problem.hidden = true;
  const preview = el("div", "chart-editor-preview vega-panel");
  preview.dataset.testid = "chart-editor-preview";
  preview.setAttribute("aria-busy", "true");

  const presets = document.createElement("select");
  presets.className = "inline-select";
  presets.setAttribute("aria-label", "Load a preset");
  presets.append(new Option("Load a preset…", ""));
  const name = document.createElement("input");
  name.placeholder = "Preset name";
  name.maxLength = 128;
  name.setAttribute("aria-label", "Preset name");
  const save = el("button", "small", "Save as preset");
  save.type = "button";
  save.hidden = name.hidden = !canSave;
  const saved = el("span", "muted chart-editor-status");
  saved.setAttribute("role", "status");
  const actions = el("div", "chart-editor-actions");
  actions.append(presets, name, save, saved);

  const left = el("div", "chart-editor-left");
  left.append(hint, source, problem);
  const grid = el("div", "chart-editor-grid");
  grid.append(left, preview);
  dialog.append(head, actions, grid);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();

  let rows = null;
  let known = [];
  let timer = 0;
  let drawing = 0;
  async function redraw() {
    const mine = ++drawing;
    let parsed;
    try {
      parsed = JSON.parse(source.value);
    } catch (exc) {
      problem.textContent = `Not valid JSON: ${exc.message}`;
      problem.hidden = false;
      return;
    }
    preview.setAttribute("aria-busy", "true");
    try {
      if (!rows) rows = await tableRecords(media, item);
      // Drawn in place (Vega sizes "container" charts from the element's width); the
      // last good drawing stays until this one succeeds.
      const target = el("div", "chart-editor-canvas");
      preview.append(target);
      try {
        await drawChart(target, parsed, rows);
      } catch (exc) {
        target.remove();
        throw exc;
      }
      if (mine !== drawing) {
        target.remove();
        return;
      }
      for (const old of [...preview.children]) if (old !== target) old.remove();
      preview.dataset.state = "ready";
      problem.hidden = true;
    } catch (exc) {
      if (mine !== drawing) return;
      problem.textContent = `The chart cannot be drawn: ${exc.message}`;
      problem.hidden = false;
      preview.dataset.state = "error";
    } finally {
      if (mine === drawing) preview.setAttribute("aria-busy", "false");
    }
  }
  source.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(redraw, 350);
  });

  media.presets()
    .then((answer) => {
      known = answer.presets;
      presets.append(...known.map((p) => new Option(p.name, String(p.id))));
    })
    .catch(() => { presets.hidden = true; });
  presets.addEventListener("change", () => {
    const chosen = known.find((p) => String(p.id) === presets.value);
    if (!chosen) return;
    source.value = JSON.stringify(chosen.spec, null, 2);
    name.value = chosen.name;
    redraw();
  });
  save.addEventListener("click", async () => {
    let parsed;
    try {
      parsed = JSON.parse(source.value);
    } catch (exc) {
      problem.textContent = `Not valid JSON: ${exc.message}`;
      problem.hidden = false;
      return;
    }
    if (!name.value.trim()) {
      saved.textContent = "Name the preset first.";
      name.focus();
      return;
    }
    save.disabled = true;
    try {
      const existing = known.find((p) => p.name === name.value.trim());
      const preset = await media.savePreset({ name: name.value.trim(), spec: parsed }, existing && existing.id);
      if (!existing) {
        known.push(preset);
        presets.append(new Option(preset.name, String(preset.id)));
      } else {
        Object.assign(existing, preset);
      }
      saved.textContent = `Saved “${preset.name}” for the team.`;
      dialog.dataset.saved = preset.name;
      if (onSaved) onSaved(preset);
    } catch (exc) {
      saved.textContent = `Not saved: ${exc.message}`;
    } finally {
      save.disabled = false;
    }
  });
  redraw();
  return dialog;
}
