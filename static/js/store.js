// The workspace's one small store: which runs are selected and shown in charts, a stable
// colour per run, and the view state (table columns, filters, chart settings) that a
// saved view persists. Pages (workspace, run page, compare) import it; nothing here
// touches the DOM or the network.
//
//   import { createStore, colorFor, defaultViewState } from "/static/js/store.js";
//   const store = createStore({ view: defaultViewState() });
//   store.subscribe((state, changed) => …);   // changed: Set of top-level keys
//   store.set({ view: { ...store.get().view, xAxis: "_runtime" } });
//   store.toggleHidden("3k9f2a");             // the eye toggle
//   colorFor("3k9f2a")                        // same colour on every page, every load

// Colour-blind-friendly hues that read on both the light and the dark surface.
export const PALETTE = [
  "#4f7df3", "#e8590c", "#2f9e44", "#d6336c", "#7950f2", "#0c8599",
  "#c08000", "#e03131", "#5c940d", "#9c36b5", "#1971c2", "#a0522d",
  "#099268", "#f06595", "#748ffc", "#868e96",
];

function hash(text) {
  // FNV-1a: small, fast and well spread for short ids.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The colour of a run (or group) id: derived from the id alone, so it is the same in
 * the table, every chart and every page without coordination. */
export function colorFor(id) {
  return PALETTE[hash(String(id)) % PALETTE.length];
}

/** The view state a project starts with ("automatic"): what a saved view stores. */
export function defaultViewState() {
  return {
    version: 1,
    // Runs table
    search: "",
    filters: [], // [{field, op, value}] – compiled to the API's filter JSON by workspace-filters.js
    order: "-created_at",
    columns: ["state", "user", "created_at", "runtime"], // besides the name column
    pinned: [], // column names kept at the left
    widths: {}, // column name -> px
    groupBy: "", // "", "group", "job_type" or "config.<path>"
    // Charts
    xAxis: "_step",
    smoothing: { kind: "none", weight: 0.6, window: 10 }, // kind: none | ema | avg
    logX: false,
    logY: false,
    ignoreOutliers: false,
    band: "std", // grouped charts: std | minmax
    collapsed: { system: true }, // section name -> collapsed
    panels: [], // extra panels: [{kind: "scatter"|"bar"|"parallel"|"importance", ...}]
    hiddenKeys: [], // metric keys whose default chart was removed
  };
}

/** A tiny observable store. `set` merges top-level keys and notifies subscribers with
 * the set of keys that changed (by identity). */
export function createStore(initial = {}) {
  let state = {
    runs: [], // rows of the runs table currently loaded (API shape)
    selected: new Set(), // run ids ticked in the table
    hidden: new Set(), // run ids switched off with the eye toggle
    view: defaultViewState(),
    ...initial,
  };
  const listeners = new Set();

  function set(patch) {
    const changed = new Set();
    for (const [key, value] of Object.entries(patch)) {
      if (state[key] !== value) changed.add(key);
    }
    if (!changed.size) return;
    state = { ...state, ...patch };
    for (const listener of [...listeners]) listener(state, changed);
  }

  return {
    get: () => state,
    set,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Merge into the view state (one level deep). */
    setView(patch) {
      set({ view: { ...state.view, ...patch } });
    },
    toggleSelected(id, on) {
      const next = new Set(state.selected);
      const want = on === undefined ? !next.has(id) : on;
      if (want) next.add(id);
      else next.delete(id);
      set({ selected: next });
    },
    toggleHidden(id, hide) {
      const next = new Set(state.hidden);
      const want = hide === undefined ? !next.has(id) : hide;
      if (want) next.add(id);
      else next.delete(id);
      set({ hidden: next });
    },
    /** Runs drawn in charts: the loaded rows minus the hidden ones. */
    shownRuns() {
      return state.runs.filter((run) => !state.hidden.has(run.id));
    },
  };
}
