// What the media panels share: a panel frame with a loading / error / empty state (the
// .panel styles of workspace.css, so light and dark and the spinner come for free), the
// media API calls (docs/api.md "Media") and the small DOM helpers.
//
// Every media file is served sandboxed by the server (an opaque origin, no script unless
// HTML, and HTML only inside its own sandbox), so <img>, <audio>, <video> and sandboxed
// <iframe>s point straight at the item's file_url.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** GET an absolute API URL (file_url / rows_url the server gave) as JSON. */
export async function getJson(url, params, { signal } = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(name, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const query = search.toString();
  const response = await fetch(query ? `${url}?${query}` : url, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    signal,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** The media calls of a project API client (api.js createApi); csrf for preset writes. */
export function mediaApi(api, { csrf = "" } = {}) {
  const run = (id) => `/runs/${encodeURIComponent(id)}`;
  const teamBase = api.base.replace(/\/projects\/[^/]+$/, "");
  return {
    base: api.base,
    teamBase,
    /** {keys: [{key, type, runs, count, min_step, max_step}]} over these runs. */
    keys: (runIds, options) => api.get("/media/keys", { runs: runIds }, options),
    /** {key, steps, runs: [{run, step, items}]}: each run at `step` or nearest before. */
    across: (key, runIds, step, options) => api.get("/media", { key, runs: runIds, step }, options),
    heatmap: (runId, key, options) => api.get(`${run(runId)}/media/histogram`, { key, bins: 48 }, options),
    fileUrl: (runId, mediaId) => `${api.base}${run(runId)}/media/${encodeURIComponent(mediaId)}/file`,
    rows: (url, params, options) => getJson(url, params, options),
    presets: () => getJson(`${teamBase}/chart-presets`),
    savePreset: async (body, id) => {
      const response = await fetch(id ? `${teamBase}/chart-presets/${id}` : `${teamBase}/chart-presets`, {
        method: id ? "PATCH" : "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
        error.status = response.status;
        throw error;
      }
      return data;
    },
  };
}

/**
 * mediaFrame(container, {title, kind}) -> {head, tools, body, setState(state, message)}.
 * state is "loading" (spinner), "ready", "empty" or "error" (message shown).
 */
export function mediaFrame(container, { title, kind }) {
  container.classList.add("panel", "media-panel");
  container.dataset.kind = kind;
  const head = el("div", "chart-head");
  const h = el("h3", "chart-title", title);
  h.title = title;
  const tools = el("div", "panel-controls");
  head.append(h, tools);
  const status = el("div", "chart-status");
  status.setAttribute("role", "status");
  const body = el("div", "panel-body media-body");
  container.replaceChildren(head, status, body);
  function setState(state, message = "") {
    container.dataset.state = state;
    container.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    status.textContent = message || (state === "loading" ? "Loading…" : "");
    status.hidden = state === "ready" && !message;
  }
  setState("loading");
  return { head, tools, body, setState };
}

export function caption(text) {
  return text ? el("figcaption", "media-caption", text) : null;
}

/** A step slider over the given steps; onInput(step) while dragging (debounced). */
export function stepSlider(steps, { value, onChange, label = "Step" } = {}) {
  const wrap = el("label", "step-slider");
  const name = el("span", "step-label", `${label} `);
  const input = document.createElement("input");
  input.type = "range";
  input.min = "0";
  input.max = String(Math.max(0, steps.length - 1));
  input.step = "1";
  input.dataset.testid = "step-slider";
  input.setAttribute("aria-label", label);
  const at = value === undefined || value === null ? steps.length - 1 : Math.max(0, steps.findIndex((s) => s >= value));
  input.value = String(at < 0 ? steps.length - 1 : at);
  const shown = el("output", "step-value mono", steps[Number(input.value)]);
  let timer = 0;
  input.addEventListener("input", () => {
    shown.textContent = String(steps[Number(input.value)]);
    input.setAttribute("aria-valuetext", `step ${steps[Number(input.value)]}`);
    clearTimeout(timer);
    timer = setTimeout(() => onChange && onChange(steps[Number(input.value)]), 120);
  });
  wrap.append(name, input, shown);
  wrap.hidden = steps.length < 2;
  return { element: wrap, input, current: () => steps[Number(input.value)] };
}

/** The rows of a table item as objects keyed by column (charts need them all). */
export async function tableRecords(media, item, { limit = 10000 } = {}) {
  const columns = item.metadata.columns || [];
  const records = [];
  let offset = 0;
  while (records.length < limit) {
    const page = await media.rows(item.rows_url, { offset, limit: 1000 });
    for (const row of page.rows) {
      const record = {};
      columns.forEach((c, i) => {
        record[c] = row.cells[i];
      });
      records.push(record);
    }
    offset += page.rows.length;
    if (!page.rows.length || offset >= page.total) break;
  }
  return records;
}
