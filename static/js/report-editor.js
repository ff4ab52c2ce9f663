// The report editor (templates/reports/edit.html): Markdown in a textarea, and *Insert
// panel*, which writes a ```panel block (JSON, apps/reports/document.py) at the cursor:
// a line chart of metric keys, a runs table or the media of a run set — the project's
// newest runs, given run ids, or a saved workspace view, whose filters and order are
// compiled here into the runs API's query exactly as the workspace compiles them
// (workspace-filters.js), with the view's name kept as the caption's note.

import { readPageData } from "./api.js";
import { compileFilters } from "./workspace-filters.js";

const data = readPageData("report-editor-data") || { keys: [], views: [] };
const $ = (selector) => document.querySelector(selector);
const body = $("[data-editor-body]");
const type = $("[data-panel-type]");
const runset = $("[data-panel-runset]");
const error = $("[data-panel-error]");

for (const key of data.keys) {
  const option = document.createElement("option");
  option.value = key;
  $("[data-key-list]").append(option);
}
for (const view of data.views) {
  const option = document.createElement("option");
  option.value = `view:${view.id}`;
  option.textContent = `Saved view: ${view.name}`;
  runset.append(option);
}

function list(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean);
}

function paint() {
  for (const node of document.querySelectorAll("[data-for]")) node.hidden = node.dataset.for !== type.value;
  for (const node of document.querySelectorAll("[data-for-runset]")) node.hidden = node.dataset.forRunset !== runset.value;
}
type.addEventListener("change", paint);
runset.addEventListener("change", paint);
paint();

function runSet() {
  const limit = Math.max(1, Math.min(20, Number($("[data-panel-limit]").value) || 10));
  if (runset.value === "ids") {
    const ids = list($("[data-panel-ids]").value);
    if (!ids.length) throw new Error("Give at least one run id.");
    return { ids: ids.slice(0, 20) };
  }
  if (runset.value.startsWith("view:")) {
    const view = data.views.find((v) => `view:${v.id}` === runset.value);
    const spec = (view && view.spec) || {};
    const set = { limit, view: view ? view.name : undefined };
    const filters = compileFilters(spec.filters || [], spec.search || "");
    if (filters) set.filters = filters;
    if (spec.order) set.order = spec.order;
    return set;
  }
  return { limit, order: "-created_at" };
}

function panel() {
  const spec = { type: type.value };
  const title = $("[data-panel-title]").value.trim();
  if (title) spec.title = title;
  if (type.value === "chart") {
    spec.keys = list($("[data-panel-keys]").value).slice(0, 8);
    if (!spec.keys.length) throw new Error("A chart needs at least one metric key.");
  } else if (type.value === "runs") {
    spec.columns = list($("[data-panel-columns]").value).slice(0, 12);
  } else {
    const key = $("[data-panel-media-key]").value.trim();
    if (key) spec.key = key;
  }
  spec.runs = runSet();
  return spec;
}

$("[data-panel-insert]").addEventListener("click", () => {
  let spec;
  try {
    spec = panel();
  } catch (exc) {
    error.textContent = exc.message;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  const block = "```panel\n" + JSON.stringify(spec) + "\n```\n";
  const at = body.selectionStart ?? body.value.length;
  const before = body.value.slice(0, at);
  const lead = before && !before.endsWith("\n\n") ? (before.endsWith("\n") ? "\n" : "\n\n") : "";
  body.value = before + lead + block + "\n" + body.value.slice(at);
  const caret = (before + lead + block + "\n").length;
  body.focus();
  body.setSelectionRange(caret, caret);
});
