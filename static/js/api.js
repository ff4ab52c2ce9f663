// A small client for the Gradline HTTP API (docs/api.md) as the signed-in browser uses it:
// session cookie plus the CSRF token on writes. Every call returns parsed JSON or throws
// an ApiError carrying the server's {"error": {code, message, detail}}.
//
//   import { createApi, readPageData } from "/static/js/api.js";
//   const page = readPageData("workspace-data");   // {{ data|json_script:"workspace-data" }}
//   const api = createApi({ base: page.api_base, csrf: page.csrf });
//   const page1 = await api.runs({ filters, order: "-summary.loss", page_size: 100 });
//   const charts = await api.history({ runs: ["a", "b"], keys: ["loss"], buckets: 400 });

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (error && error.code) || "http_error";
    this.detail = (error && error.detail) || null;
  }
}

/** The JSON a template embedded with `{{ value|json_script:"id" }}` (allowed under CSP). */
export function readPageData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) {
      if (value.length) search.set(name, value.join(","));
    } else if (typeof value === "object") {
      search.set(name, JSON.stringify(value));
    } else {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * createApi({base, csrf}): `base` is the project's API root,
 * "/api/v1/teams/<team>/projects/<project>"; paths below are relative to it.
 */
export function createApi({ base, csrf }) {
  async function request(method, path, { params, body, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf) headers["X-CSRFToken"] = csrf;
    const response = await fetch(`${base}${path}${query(params)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data && data.error);
    return data;
  }

  return {
    base,
    get: (path, params, options) => request("GET", path, { ...options, params }),
    post: (path, body, options) => request("POST", path, { ...options, body }),
    patch: (path, body, options) => request("PATCH", path, { ...options, body }),
    put: (path, body, options) => request("PUT", path, { ...options, body }),
    delete: (path, options) => request("DELETE", path, options),

    /** GET /runs: {filters (object), order, cursor, page_size, columns (list), with_total}. */
    runs: (params, options) => request("GET", "/runs", { ...options, params }),
    run: (id, options) => request("GET", `/runs/${encodeURIComponent(id)}`, options),
    runUpdate: (id, body) => request("PATCH", `/runs/${encodeURIComponent(id)}`, { body }),
    runDelete: (id) => request("DELETE", `/runs/${encodeURIComponent(id)}`),
    /** Every metric key of the project: {keys: [...]}. */
    metricKeys: (params, options) => request("GET", "/metric-keys", { ...options, params }),
    /** Bucketed series of several runs: {runs, keys, buckets, min_step, max_step, x_axis}. */
    history: (params, options) => request("GET", "/history", { ...options, params }),
    /** One run's bucketed series. */
    runHistory: (id, params, options) =>
      request("GET", `/runs/${encodeURIComponent(id)}/history`, { ...options, params }),
    console: (id, params, options) =>
      request("GET", `/runs/${encodeURIComponent(id)}/console`, { ...options, params }),
    files: (id, options) => request("GET", `/runs/${encodeURIComponent(id)}/files`, options),
  };
}

/** Fetch every page of a cursor-paged list endpoint, up to `limit` rows. */
export async function collectPages(fetchPage, limit = 10000) {
  const rows = [];
  let cursor = null;
  do {
    const page = await fetchPage(cursor);
    rows.push(...page.results);
    cursor = page.next_cursor;
  } while (cursor && rows.length < limit);
  return rows;
}
