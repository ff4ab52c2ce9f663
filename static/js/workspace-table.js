// The runs table of the workspace: server-driven (GET …/runs with the view's filters and
// order, keyset cursor pages fetched as the user scrolls), virtual scrolling (only the
// rows in sight are in the DOM, so 10,000 runs scroll smoothly), sortable headers, pinned
// and resizable columns, a colour swatch and an eye toggle per run, selection for bulk
// actions, and grouping with aggregate rows.

import { colorFor } from "./store.js";
import { compileFilters } from "./workspace-filters.js";

const ROW_HEIGHT = 34;
const PAGE_SIZE = 200;
const GROUPED_LIMIT = 10000; // rows loaded at once when grouping (aggregates need them all)
const SORTABLE_TOP = new Set(["name", "state", "group", "job_type", "created_at", "updated_at", "heartbeat_at"]);

export const COLUMN_LABELS = {
  name: "Name", state: "State", user: "User", created_at: "Created", runtime: "Runtime",
  tags: "Tags", group: "Group", job_type: "Job type", host: "Host", notes: "Notes",
  updated_at: "Updated", heartbeat_at: "Heartbeat", finished_at: "Finished", exit_code: "Exit code",
};
export const TOP_COLUMNS = Object.keys(COLUMN_LABELS).filter((c) => c !== "name");

export function cellValue(run, column) {
  if (column.startsWith("config.") || column.startsWith("summary.")) {
    const root = column.startsWith("config.") ? run.config : run.summary;
    const path = column.slice(column.indexOf(".") + 1);
    if (!root) return undefined;
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

function duration(seconds) {
  if (typeof seconds !== "number") return "";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

export function formatCell(column, value) {
  if (value === undefined || value === null) return "";
  if (column === "runtime") return duration(value);
  if (column.endsWith("_at") && typeof value === "string") {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
  }
  if (typeof value === "number") {
    const size = Math.abs(value);
    if (Number.isInteger(value) && size < 1e9) return String(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e6)) return value.toExponential(3);
    return String(parseFloat(value.toPrecision(5)));
  }
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The fields of the loaded runs' config and summary, for the column picker and filters. */
export function knownFields(runs) {
  const config = new Set(), summary = new Set();
  const walk = (prefix, node, into, depth) => {
    for (const [key, value] of Object.entries(node || {})) {
      if (value && typeof value === "object" && !Array.isArray(value) && depth < 3) walk(`${prefix}${key}.`, value, into, depth + 1);
      else into.add(`${prefix}${key}`);
    }
  };
  for (const run of runs.slice(0, 2000)) {
    walk("config.", run.config, config, 0);
    walk("summary.", run.summary, summary, 0);
  }
  return { config: [...config].sort(), summary: [...summary].sort() };
}

function groupValue(run, groupBy) {
  const value = cellValue(run, groupBy);
  return value === undefined || value === null || value === "" ? "(none)" : formatCell(groupBy, value);
}

export function createRunsTable({ api, store, elements, page, onRowsChanged }) {
  const { scroll, head, body, cols, status, count } = elements;
  let generation = 0;
  let cursor = null;
  let loading = false;
  let exhausted = false;
  let total = null;
  let items = []; // [{kind: "run", run} | {kind: "group", name, runs}]
  const collapsed = new Set();
  let error = null;

  function view() { return store.get().view; }
  function columns() {
    const v = view();
    const pinned = v.pinned.filter((c) => v.columns.includes(c));
    return ["name", ...pinned, ...v.columns.filter((c) => !pinned.includes(c))];
  }

  function params(extra) {
    const v = view();
    return { filters: compileFilters(v.filters, v.search), order: v.order, ...extra };
  }

  // Comment counts per run (GET P/comment-counts/runs: the project's commented runs),
  // shown as a badge beside the run's name; best effort, one request per reload.
  let commentCounts = {};
  async function loadCommentCounts(mine) {
    if (!page.api_base) return;
    try {
      const response = await fetch(`${page.api_base}/comment-counts/runs`, { credentials: "same-origin" });
      if (!response.ok || mine !== generation) return;
      commentCounts = (await response.json()).counts || {};
      if (Object.keys(commentCounts).length) render();
    } catch {
      // counts are decoration: the table works without them
    }
  }

  async function reload() {
    const mine = ++generation;
    cursor = null;
    exhausted = false;
    loading = false;
    error = null;
    status.textContent = "Loading runs…";
    status.hidden = false;
    scroll.setAttribute("aria-busy", "true");
    try {
      const first = await api.runs(params({ page_size: PAGE_SIZE, with_total: 1 }));
      if (mine !== generation) return;
      total = first.total;
      cursor = first.next_cursor;
      exhausted = !cursor;
      store.set({ runs: first.results });
      loadCommentCounts(mine);
      if (view().groupBy) await loadMore(GROUPED_LIMIT);
    } catch (exc) {
      if (mine !== generation) return;
      error = exc.message;
      store.set({ runs: [] });
    } finally {
      if (mine === generation) scroll.setAttribute("aria-busy", "false");
    }
    if (mine === generation) onRowsChanged();
  }

  async function loadMore(upTo) {
    // No cursor: the first page is still on its way (reload) or there is no next page.
    // (Returning here matters: render -> paint -> loadMore -> render would recurse.)
    if (loading || exhausted || !cursor) return;
    loading = true;
    const mine = generation;
    try {
      while (cursor && store.get().runs.length < upTo) {
        const next = await api.runs(params({ page_size: view().groupBy ? 1000 : PAGE_SIZE, cursor }));
        if (mine !== generation) return;
        cursor = next.next_cursor;
        exhausted = !cursor;
        store.set({ runs: [...store.get().runs, ...next.results] });
        if (!view().groupBy) break;
      }
    } catch (exc) {
      error = exc.message;
    } finally {
      if (mine === generation) loading = false;
    }
    if (mine === generation) render();
  }

  function buildItems() {
    const runs = store.get().runs;
    const groupBy = view().groupBy;
    if (!groupBy) { items = runs.map((run) => ({ kind: "run", run })); return; }
    const groups = new Map();
    for (const run of runs) {
      const name = groupValue(run, groupBy);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(run);
    }
    items = [];
    for (const [name, members] of groups) {
      items.push({ kind: "group", name, runs: members });
      if (!collapsed.has(name)) for (const run of members) items.push({ kind: "run", run, inGroup: true });
    }
  }

  function renderHead() {
    const v = view();
    const cs = columns();
    cols.replaceChildren(
      ...[["_select", 36], ["_eye", 36], ...cs.map((c) => [c, v.widths[c] || (c === "name" ? 200 : 120)])].map(([c, w]) => {
        const col = document.createElement("col");
        col.style.width = `${w}px`;
        col.dataset.column = c;
        return col;
      }),
    );
    const row = document.createElement("tr");
    const all = document.createElement("th");
    all.className = "col-select pinned";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.setAttribute("aria-label", "Select all loaded runs");
    const runs = store.get().runs;
    box.checked = runs.length > 0 && runs.every((r) => store.get().selected.has(r.id));
    box.addEventListener("change", () => {
      const selected = box.checked ? new Set(runs.map((r) => r.id)) : new Set();
      store.set({ selected });
    });
    all.append(box);
    const eye = document.createElement("th");
    eye.className = "col-eye pinned";
    eye.innerHTML = '<span class="sr-only">Shown in charts</span>';
    row.append(all, eye);
    let left = 72;
    cs.forEach((c, index) => {
      const th = document.createElement("th");
      th.dataset.column = c;
      th.scope = "col";
      const pinned = c === "name" || v.pinned.includes(c);
      if (pinned && index <= v.pinned.length) {
        th.classList.add("pinned");
        th.style.left = `${left}px`;
        left += v.widths[c] || (c === "name" ? 200 : 120);
      }
      const label = COLUMN_LABELS[c] || c.replace(/^(config|summary)\./, "");
      const sortable = SORTABLE_TOP.has(c) || c.startsWith("config.") || c.startsWith("summary.");
      const sorted = v.order === c ? "ascending" : v.order === `-${c}` ? "descending" : null;
      if (sorted) th.setAttribute("aria-sort", sorted);
      if (sortable) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.textContent = label;
        button.title = c;
        button.dataset.testid = `sort-${c}`;
        if (c.startsWith("config.")) button.classList.add("is-config");
        button.addEventListener("click", () => {
          // First click: descending for metrics and times, ascending for text.
          const descFirst = c.startsWith("summary.") || c.endsWith("_at");
          const order = sorted === "descending" ? c : sorted === "ascending" ? `-${c}` : descFirst ? `-${c}` : c;
          store.setView({ order });
        });
        th.append(button);
      } else {
        const span = document.createElement("span");
        span.textContent = label;
        th.append(span);
      }
      const grip = document.createElement("span");
      grip.className = "col-resize";
      grip.setAttribute("aria-hidden", "true");
      grip.addEventListener("pointerdown", (event) => startResize(event, c, th));
      th.append(grip);
      row.append(th);
    });
    head.replaceChildren(row);
  }

  function startResize(event, column, th) {
    event.preventDefault();
    const startX = event.clientX;
    const startWidth = th.getBoundingClientRect().width;
    const col = cols.querySelector(`col[data-column="${CSS.escape(column)}"]`);
    const move = (e) => { if (col) col.style.width = `${Math.max(60, startWidth + e.clientX - startX)}px`; };
    const up = (e) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      const width = Math.round(Math.max(60, startWidth + e.clientX - startX));
      store.setView({ widths: { ...view().widths, [column]: width } });
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  function runRow(run, inGroup) {
    const state = store.get();
    const v = view();
    const tr = document.createElement("tr");
    tr.dataset.run = run.id;
    tr.dataset.state = run.state;
    if (state.selected.has(run.id)) tr.classList.add("selected");
    if (state.hidden.has(run.id)) tr.classList.add("hidden-run");
    const select = document.createElement("td");
    select.className = "col-select pinned";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.selected.has(run.id);
    box.setAttribute("aria-label", `Select ${run.name || run.id}`);
    box.addEventListener("change", () => store.toggleSelected(run.id, box.checked));
    select.append(box);
    const eye = document.createElement("td");
    eye.className = "col-eye pinned";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "eye";
    const shown = !state.hidden.has(run.id);
    toggle.setAttribute("aria-pressed", shown ? "true" : "false");
    toggle.setAttribute("aria-label", `${shown ? "Hide" : "Show"} ${run.name || run.id} in charts`);
    toggle.textContent = shown ? "◉" : "○";
    toggle.style.color = colorFor(run.id);
    toggle.addEventListener("click", () => store.toggleHidden(run.id));
    eye.append(toggle);
    tr.append(select, eye);
    let left = 72;
    columns().forEach((c, index) => {
      const td = document.createElement("td");
      td.dataset.column = c;
      if (c === "name" || (v.pinned.includes(c) && index <= v.pinned.length)) {
        td.classList.add("pinned");
        td.style.left = `${left}px`;
        left += v.widths[c] || (c === "name" ? 200 : 120);
      }
      if (c === "name") {
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = colorFor(run.id);
        const link = document.createElement("a");
        link.href = `${page.run_url}${encodeURIComponent(run.id)}`;
        link.textContent = run.name || run.id;
        td.append(swatch, link);
        if (commentCounts[run.id]) {
          const count = document.createElement("span");
          count.className = "comment-count-cell";
          count.dataset.commentCount = String(commentCounts[run.id]);
          count.title = `${commentCounts[run.id]} comment(s)`;
          const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
          icon.setAttribute("viewBox", "0 0 24 24");
          icon.setAttribute("aria-hidden", "true");
          const bubble = document.createElementNS("http://www.w3.org/2000/svg", "path");
          bubble.setAttribute("d", "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z");
          icon.append(bubble);
          count.append(icon, String(commentCounts[run.id]));
          td.append(count);
        }
        if (inGroup) td.classList.add("in-group");
      } else if (c === "state") {
        const badge = document.createElement("span");
        badge.className = `badge state-${run.state}`;
        badge.textContent = run.state;
        td.append(badge);
      } else {
        td.textContent = formatCell(c, cellValue(run, c));
      }
      tr.append(td);
    });
    return tr;
  }

  function groupRow(item) {
    const tr = document.createElement("tr");
    tr.className = "group-row";
    tr.dataset.group = item.name;
    const cell = document.createElement("td");
    cell.className = "pinned";
    cell.colSpan = 2;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "group-toggle";
    const open = !collapsed.has(item.name);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.textContent = open ? "▾" : "▸";
    toggle.setAttribute("aria-label", `${open ? "Collapse" : "Expand"} group ${item.name}`);
    toggle.addEventListener("click", () => {
      if (collapsed.has(item.name)) collapsed.delete(item.name);
      else collapsed.add(item.name);
      render();
    });
    cell.append(toggle);
    tr.append(cell);
    columns().forEach((c) => {
      const td = document.createElement("td");
      td.dataset.column = c;
      if (c === "name") {
        td.classList.add("pinned");
        td.style.left = "72px";
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = colorFor(`group:${item.name}`);
        const label = document.createElement("strong");
        label.textContent = item.name;
        const n = document.createElement("span");
        n.className = "muted";
        n.textContent = ` ${item.runs.length} run${item.runs.length === 1 ? "" : "s"}`;
        td.append(swatch, label, n);
      } else {
        const values = item.runs.map((r) => cellValue(r, c)).filter((x) => typeof x === "number" && Number.isFinite(x));
        if (values.length && (c.startsWith("summary.") || c.startsWith("config.") || c === "runtime")) {
          const mean = values.reduce((a, b) => a + b, 0) / values.length;
          td.textContent = formatCell(c, mean);
          td.title = `mean of ${values.length}; min ${formatCell(c, Math.min(...values))}, max ${formatCell(c, Math.max(...values))}`;
          td.classList.add("aggregate");
        } else if (c === "state") {
          const states = {};
          for (const r of item.runs) states[r.state] = (states[r.state] || 0) + 1;
          td.textContent = Object.entries(states).map(([s, n]) => `${n} ${s}`).join(", ");
        }
      }
      tr.append(td);
    });
    return tr;
  }

  let frame = 0;
  function paint() {
    frame = 0;
    const top = scroll.scrollTop;
    const height = scroll.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 10);
    const last = Math.min(items.length, Math.ceil((top + height) / ROW_HEIGHT) + 10);
    const before = document.createElement("tr");
    before.className = "spacer";
    before.style.height = `${first * ROW_HEIGHT}px`;
    const after = document.createElement("tr");
    after.className = "spacer";
    after.style.height = `${(items.length - last) * ROW_HEIGHT}px`;
    const rows = [];
    for (let i = first; i < last; i++) {
      const item = items[i];
      rows.push(item.kind === "group" ? groupRow(item) : runRow(item.run, item.inGroup));
    }
    body.replaceChildren(before, ...rows, after);
    if (cursor && !exhausted && !view().groupBy && last >= items.length - 20) loadMore(store.get().runs.length + PAGE_SIZE);
  }

  function render() {
    buildItems();
    renderHead();
    const runs = store.get().runs;
    count.textContent = total === null ? "" : `${total}`;
    if (error) {
      status.textContent = `Could not load runs: ${error}`;
      status.hidden = false;
    } else if (!runs.length) {
      status.textContent = "No runs match these filters.";
      status.hidden = false;
    } else {
      status.hidden = !loading;
      status.textContent = loading ? "Loading more…" : "";
    }
    paint();
  }

  scroll.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(paint);
  });

  /** Live: merge a run's new state/summary into its row, if loaded. */
  function patchRun(id, patch) {
    const runs = store.get().runs;
    const index = runs.findIndex((r) => r.id === id);
    if (index < 0) return false;
    const run = runs[index];
    const next = { ...run, ...patch, summary: { ...(run.summary || {}), ...(patch.summary || {}) } };
    if (patch.heartbeat && next.state === "running") {
      next.runtime = Math.max(0, (Date.now() - new Date(run.created_at).getTime()) / 1000);
    }
    const copy = runs.slice();
    copy[index] = next;
    store.set({ runs: copy });
    return true;
  }

  /** The table as shown (columns, order, filters), as CSV. */
  function csv() {
    const cs = columns();
    const quote = (text) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
    const lines = [["id", ...cs].map(quote).join(",")];
    for (const run of store.get().runs) {
      lines.push([run.id, ...cs.map((c) => {
        const v = cellValue(run, c);
        if (v === undefined || v === null) return "";
        if (Array.isArray(v) && v.every((x) => typeof x !== "object")) return v.join(", "); // tags, as shown
        return typeof v === "object" ? JSON.stringify(v) : String(v);
      })].map(quote).join(","));
    }
    return lines.join("\n") + "\n";
  }

  return { reload, render, patchRun, csv, get total() { return total; }, columns };
}
