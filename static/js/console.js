// A run's console output on the run page (templates/runs/run_detail.html, "Logs"): the
// newest lines first loaded from the console API (paged by line index: "Load earlier
// lines" fetches the page before), a search over the loaded lines, a stderr-only filter,
// and a live tail that follows new lines as run events report them.
//
// ANSI colours: SGR escape codes are parsed into spans with classes (ansi-fg-1, ansi-bold …;
// 256-colour and true-colour values are set through element.style); every other escape
// sequence is dropped. Text only ever reaches the page through textContent, never as
// markup.
//
//   import { createConsole, parseAnsi } from "/static/js/console.js";
//   const log = createConsole(section, { api, runId: "3k9f2a", total: 120 });
//   log.tail();   // fetch what was written since (a live event said so)

const PAGE = 1000;
// Lines kept in the page at most; older ones are dropped from the top while following.
const MAX_KEPT = 20000;

// ESC [ params final | OSC … BEL/ST | other two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

const CUBE = [0, 95, 135, 175, 215, 255];

function xterm256(n) {
  if (n < 16) return null; // a class instead
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v}, ${v}, ${v})`;
  }
  const i = n - 16;
  return `rgb(${CUBE[Math.floor(i / 36)]}, ${CUBE[Math.floor(i / 6) % 6]}, ${CUBE[i % 6]})`;
}

function freshStyle() {
  return { bold: false, dim: false, italic: false, underline: false, fg: null, bg: null };
}

// One SGR sequence (the numbers between ESC[ and m) applied to the current style.
function applySgr(style, params) {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(style, freshStyle());
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c >= 30 && c <= 37) style.fg = c - 30;
    else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = c - 40;
    else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
    else if (c === 49) style.bg = null;
    else if (c === 38 || c === 48) {
      let value = null;
      if (codes[i + 1] === 5 && codes.length > i + 2) {
        const n = codes[i + 2];
        value = n < 16 ? n : xterm256(n);
        i += 2;
      } else if (codes[i + 1] === 2 && codes.length > i + 4) {
        const [r, g, b] = codes.slice(i + 2, i + 5).map((v) => Math.max(0, Math.min(255, v)));
        value = `rgb(${r}, ${g}, ${b})`;
        i += 4;
      }
      if (c === 38) style.fg = value;
      else style.bg = value;
    }
  }
}

/** Text with ANSI escapes -> [{text, classes: [...], fg, bg}] (fg/bg: CSS colours for
 * 256-colour and true-colour codes, else null). A carriage return (a progress bar
 * redrawing itself) keeps only what was written after it. */
export function parseAnsi(raw) {
  let text = String(raw);
  const cr = text.lastIndexOf("\r", text.length - 2);
  if (cr >= 0) text = text.slice(cr + 1);
  text = text.replace(/\r$/, "");
  const segments = [];
  const style = freshStyle();
  let last = 0;
  const push = (chunk) => {
    if (!chunk) return;
    const classes = [];
    if (style.bold) classes.push("ansi-bold");
    if (style.dim) classes.push("ansi-dim");
    if (style.italic) classes.push("ansi-italic");
    if (style.underline) classes.push("ansi-underline");
    if (typeof style.fg === "number") classes.push(`ansi-fg-${style.fg}`);
    if (typeof style.bg === "number") classes.push(`ansi-bg-${style.bg}`);
    segments.push({
      text: chunk,
      classes,
      fg: typeof style.fg === "string" ? style.fg : null,
      bg: typeof style.bg === "string" ? style.bg : null,
    });
  };
  ESCAPES.lastIndex = 0;
  let match;
  while ((match = ESCAPES.exec(text)) !== null) {
    push(text.slice(last, match.index));
    if (match[2] === "m") applySgr(style, match[1]);
    last = ESCAPES.lastIndex;
  }
  push(text.slice(last));
  return segments;
}

/** The text a line shows (escapes removed), for searching. */
export function plainText(raw) {
  return parseAnsi(raw).map((s) => s.text).join("");
}

function renderLine(record) {
  const row = document.createElement("div");
  row.className = `console-line stream-${record.stream}`;
  row.dataset.line = String(record.line);
  row.dataset.stream = record.stream;
  const number = document.createElement("span");
  number.className = "ln";
  number.textContent = String(record.line + 1);
  number.setAttribute("aria-hidden", "true");
  const body = document.createElement("span");
  body.className = "txt";
  for (const segment of parseAnsi(record.text)) {
    if (!segment.classes.length && !segment.fg && !segment.bg) {
      body.append(document.createTextNode(segment.text));
      continue;
    }
    const span = document.createElement("span");
    span.className = segment.classes.join(" ");
    if (segment.fg) span.style.color = segment.fg;
    if (segment.bg) span.style.backgroundColor = segment.bg;
    span.textContent = segment.text;
    body.append(span);
  }
  row.append(number, body);
  if (record.stream === "stderr") {
    const marker = document.createElement("span");
    marker.className = "sr-only";
    marker.textContent = " (stderr)";
    row.append(marker);
  }
  return row;
}

export function createConsole(section, { api, runId, total = 0, onCount }) {
  const box = section.querySelector("[data-console]");
  const search = section.querySelector("[data-console-search]");
  const stderrOnly = section.querySelector("[data-console-stderr]");
  const follow = section.querySelector("[data-console-follow]");
  const earlier = section.querySelector("[data-console-earlier]");
  const status = section.querySelector("[data-console-status]");

  let first = null; // index of the first line shown
  let next = 0; // the next line index to fetch (API next_offset)
  let known = total; // lines the server has, as far as we know
  let started = false;
  let queue = Promise.resolve();

  function setStatus(text) {
    if (status) status.textContent = text;
  }

  function matches(row) {
    if (stderrOnly && stderrOnly.checked && row.dataset.stream !== "stderr") return false;
    const needle = search ? search.value.trim().toLowerCase() : "";
    return !needle || row.querySelector(".txt").textContent.toLowerCase().includes(needle);
  }

  function applyFilter() {
    const rows = box.querySelectorAll(".console-line");
    let shown = 0;
    for (const row of rows) {
      const visible = matches(row);
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    const filtering = (search && search.value.trim()) || (stderrOnly && stderrOnly.checked);
    box.classList.toggle("filtering", !!filtering);
    if (!rows.length) setStatus("");
    else if (filtering) setStatus(`${shown} of ${rows.length} loaded lines match`);
    else if (first > 0) setStatus(`lines ${first + 1}–${next} of ${Math.max(known, next)}`);
    else setStatus(next === 1 ? "1 line" : `${next} lines`);
  }

  function atBottom() {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  function showEmpty() {
    if (box.querySelector(".console-line") || box.querySelector(".console-empty")) return;
    const empty = document.createElement("p");
    empty.className = "console-empty muted";
    empty.textContent = "No console output yet. The SDK captures stdout and stderr while the run is active.";
    box.append(empty);
  }

  function append(lines, { prepend = false } = {}) {
    box.querySelectorAll(".chart-loading, .console-empty").forEach((n) => n.remove());
    const stick = !prepend && follow && follow.checked && (atBottom() || !box.querySelector(".console-line"));
    const fragment = document.createDocumentFragment();
    for (const record of lines) {
      const row = renderLine(record);
      row.hidden = !matches(row);
      fragment.append(row);
    }
    if (prepend) {
      const before = box.scrollHeight;
      box.prepend(fragment);
      box.scrollTop += box.scrollHeight - before;
    } else {
      box.append(fragment);
      const rows = box.querySelectorAll(".console-line");
      for (let i = 0; i < rows.length - MAX_KEPT; i++) rows[i].remove();
      const head = box.querySelector(".console-line");
      if (head) first = Number(head.dataset.line);
      if (stick) box.scrollTop = box.scrollHeight;
    }
    if (earlier) earlier.hidden = !(first > 0);
    applyFilter();
  }

  async function fetchPage(offset, limit) {
    const answer = await api.console(runId, { offset, limit });
    return answer;
  }

  function serial(task) {
    queue = queue.then(task, task);
    return queue;
  }

  async function start() {
    started = true;
    box.setAttribute("aria-busy", "true");
    try {
      const offset = Math.max(0, known - PAGE);
      const answer = await fetchPage(offset, PAGE);
      first = answer.lines.length ? answer.lines[0].line : offset;
      next = answer.next_offset;
      append(answer.lines);
      if (!answer.lines.length) showEmpty();
      await drain();
    } catch (exc) {
      box.replaceChildren();
      const error = document.createElement("p");
      error.className = "console-error";
      error.setAttribute("role", "alert");
      error.textContent = `Could not load the console: ${exc.message}`;
      box.append(error);
    } finally {
      box.setAttribute("aria-busy", "false");
      box.dataset.state = "ready";
    }
  }

  // Everything after `next`, page by page.
  async function drain() {
    for (;;) {
      const answer = await fetchPage(next, PAGE);
      if (!answer.lines.length) break;
      next = answer.next_offset;
      known = Math.max(known, next);
      append(answer.lines);
      if (onCount) onCount(known);
      if (answer.lines.length < PAGE) break;
    }
  }

  if (earlier) {
    earlier.addEventListener("click", () =>
      serial(async () => {
        if (!(first > 0)) return;
        earlier.disabled = true;
        try {
          const offset = Math.max(0, first - PAGE);
          const answer = await fetchPage(offset, first - offset);
          const lines = answer.lines.filter((l) => l.line < first);
          if (lines.length) first = lines[0].line;
          else first = 0;
          append(lines, { prepend: true });
        } finally {
          earlier.disabled = false;
        }
      }),
    );
  }
  if (search) search.addEventListener("input", applyFilter);
  if (stderrOnly) stderrOnly.addEventListener("change", applyFilter);
  if (follow) {
    follow.addEventListener("change", () => {
      if (follow.checked) box.scrollTop = box.scrollHeight;
    });
  }

  return {
    /** Load the newest page (once; the Logs tab calls it when first shown). */
    open() {
      if (!started) serial(start);
    },
    /** New lines were written (a live event, or a reconnect catching up). */
    tail() {
      if (started) serial(drain);
    },
  };
}
