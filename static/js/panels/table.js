// The table viewer: a logged table paged, sorted and filtered by the server
// (GET …/media/<id>/rows: offset/limit, sort/order, filters), never loaded whole. Click a
// column header to sort (ascending, descending, logged order); the filter row adds
// conditions (column, operator, value) as chips. Media cells (images, audio, video, HTML
// …) render inline from their own items' files; lists and objects show as JSON.

import { el } from "./media-common.js";
import { renderImage } from "./image.js";
import { renderAudio } from "./audio.js";
import { renderVideo } from "./video.js";
import { renderHtml } from "./html.js";

const PAGE = 25;
const OPS = [["contains", "contains"], ["eq", "="], ["ne", "≠"], ["lt", "<"], ["lte", "≤"], ["gt", ">"], ["gte", "≥"]];
const CELL_RENDERERS = {
  "image-file": renderImage, "audio-file": renderAudio, "video-file": renderVideo, "html-file": renderHtml,
};

function cellNode(media, runId, cell) {
  const td = el("td");
  if (cell === null || cell === undefined) {
    td.className = "muted";
    td.textContent = "—";
  } else if (typeof cell === "number") {
    td.className = "num mono";
    td.textContent = Number.isInteger(cell) ? String(cell) : Number(cell.toPrecision(6)).toString();
  } else if (typeof cell === "boolean") {
    td.className = "mono";
    td.textContent = String(cell);
  } else if (typeof cell === "object" && cell.media_id && CELL_RENDERERS[cell._type]) {
    td.className = "media-cell";
    const item = {
      id: cell.media_id, key: "", step: 0, format: cell.format || "",
      file_url: media.fileUrl(runId, cell.media_id),
      metadata: { ...cell, caption: cell.caption },
    };
    td.append(CELL_RENDERERS[cell._type](item));
  } else if (typeof cell === "object") {
    td.className = "mono json-cell";
    td.textContent = JSON.stringify(cell);
  } else {
    td.textContent = String(cell);
  }
  return td;
}

/**
 * createTableViewer(container, {media, runId, item, onPage}) -> {reload(), state()}
 * `item` is a table (or chart) media item with rows_url and metadata.columns.
 */
export function createTableViewer(container, { media, runId, item, onPage }) {
  const columns = item.metadata.columns || [];
  const state = { offset: 0, sort: null, order: "asc", filters: [] };
  const root = el("div", "table-viewer");
  root.dataset.testid = "table-viewer";

  const bar = el("form", "table-viewer-filter");
  const column = document.createElement("select");
  column.className = "inline-select";
  column.setAttribute("aria-label", "Filter column");
  column.append(...columns.map((c) => new Option(c, c)));
  const op = document.createElement("select");
  op.className = "inline-select";
  op.setAttribute("aria-label", "Filter operator");
  op.append(...OPS.map(([value, label]) => new Option(label, value)));
  const value = document.createElement("input");
  value.placeholder = "value";
  value.setAttribute("aria-label", "Filter value");
  const add = el("button", "small secondary", "Filter");
  add.type = "submit";
  bar.append(column, op, value, add);
  const chips = el("div", "filter-bar table-viewer-chips");

  const scroll = el("div", "table-wrap table-viewer-scroll");
  const table = el("table", "media-table");
  const thead = el("thead");
  const tbody = el("tbody");
  table.append(thead, tbody);
  scroll.append(table);

  const pager = el("div", "table-viewer-pager");
  const prev = el("button", "small secondary", "Previous");
  const next = el("button", "small secondary", "Next");
  prev.type = next.type = "button";
  const where = el("span", "muted table-viewer-where");
  where.setAttribute("role", "status");
  pager.append(prev, where, next);
  root.append(bar, chips, scroll, pager);
  container.replaceChildren(root);

  function paintHead() {
    const row = el("tr");
    row.append(el("th", "num muted", "#"));
    for (const name of columns) {
      const th = el("th");
      th.scope = "col";
      const button = el("button", "link sort-button", name);
      button.type = "button";
      const sorted = state.sort === name;
      th.setAttribute("aria-sort", sorted ? (state.order === "asc" ? "ascending" : "descending") : "none");
      if (sorted) button.append(el("span", "sort-mark", state.order === "asc" ? " ▲" : " ▼"));
      button.addEventListener("click", () => {
        if (!sorted) Object.assign(state, { sort: name, order: "asc" });
        else if (state.order === "asc") state.order = "desc";
        else Object.assign(state, { sort: null, order: "asc" });
        state.offset = 0;
        load();
      });
      th.append(button);
      row.append(th);
    }
    thead.replaceChildren(row);
  }

  function paintChips() {
    chips.replaceChildren(
      ...state.filters.map((f, index) => {
        const chip = el("span", "chip", `${f.column} ${OPS.find(([o]) => o === f.op)[1]} ${JSON.stringify(f.value)}`);
        const remove = el("button", "chip-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", `Remove filter on ${f.column}`);
        remove.addEventListener("click", () => {
          state.filters.splice(index, 1);
          state.offset = 0;
          load();
        });
        chip.append(remove);
        return chip;
      }),
    );
    chips.hidden = !state.filters.length;
  }

  bar.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = value.value.trim();
    if (!text) return;
    let parsed = text;
    if (op.value !== "contains") {
      // Numbers compare as numbers, true/false/null as JSON; anything else as text.
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    state.filters.push({ column: column.value, op: op.value, value: parsed });
    state.offset = 0;
    value.value = "";
    load();
  });
  prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  next.addEventListener("click", () => { state.offset += PAGE; load(); });

  let generation = 0;
  async function load() {
    const mine = ++generation;
    paintHead();
    paintChips();
    root.setAttribute("aria-busy", "true");
    root.dataset.state = "loading";
    try {
      const page = await media.rows(item.rows_url, {
        offset: state.offset, limit: PAGE, sort: state.sort, order: state.sort ? state.order : null,
        filters: state.filters.length ? state.filters : null,
      });
      if (mine !== generation) return;
      tbody.replaceChildren(
        ...page.rows.map((row) => {
          const tr = el("tr");
          tr.dataset.row = String(row.index);
          tr.append(el("td", "num muted mono", row.index));
          row.cells.forEach((cell) => tr.append(cellNode(media, runId, cell)));
          return tr;
        }),
      );
      if (!page.rows.length) {
        const tr = el("tr");
        const td = el("td", "muted", state.filters.length ? "No row matches the filters." : "The table is empty.");
        td.colSpan = columns.length + 1;
        tr.append(td);
        tbody.append(tr);
      }
      const last = state.offset + page.rows.length;
      where.textContent = page.total ? `${(state.offset + 1).toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()}` : "0 rows";
      prev.disabled = state.offset === 0;
      next.disabled = last >= page.total;
      root.dataset.total = String(page.total);
      root.dataset.state = "ready";
      if (onPage) onPage(page);
    } catch (exc) {
      if (mine !== generation) return;
      root.dataset.state = "error";
      where.textContent = `Could not load rows: ${exc.message}`;
    } finally {
      if (mine === generation) root.setAttribute("aria-busy", "false");
    }
  }
  load();
  return { reload: load, state: () => ({ ...state }) };
}
