// Live sweep page (templates/sweeps/sweep_detail.html): listens on the project's events
// socket (workspace-live.js: reconnects with back-off) and, when one of this sweep's
// trials changes (a trial handed out, a run created, started, ended), reads the page
// again and swaps in the counts, the best trial, the trials table and the chart data;
// sweeps.js redraws the charts on "sweep:data". Reading the page rather than patching
// rows keeps one source of truth (apps/sweeps/web_selectors.py) for order and values.
import { connectLive } from "./workspace-live.js";

const root = document.getElementById("sweep-live");
const PARTS = ["sweep-stats", "best-trial", "trials", "sweep-charts"];
const REFRESH_MS = 400; // events come in bursts (created, state, trial): one read for them

function trialIds() {
  return new Set([...document.querySelectorAll("tr[data-trial]")].map((row) => row.dataset.trial));
}

let timer = null;
let reading = false;
let again = false;

async function refresh() {
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of PARTS) {
      const now = document.querySelector(`[data-testid="${part}"]`);
      const next = fresh.querySelector(`[data-testid="${part}"]`);
      if (!now || !next) continue;
      if (part === "sweep-charts" && now.querySelector("[data-chart]") && next.querySelector("[data-chart]")) {
        // Keep the drawn charts; only their data changes (sweeps.js redraws).
        const data = document.getElementById("sweep-chart-data");
        const nextData = fresh.getElementById("sweep-chart-data");
        if (data && nextData) data.textContent = nextData.textContent;
        continue;
      }
      now.replaceWith(document.importNode(next, true));
    }
    root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
    document.dispatchEvent(new CustomEvent("sweep:data"));
    applyFilter();
  } finally {
    reading = false;
    if (again) {
      again = false;
      schedule();
    }
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_MS);
}

function onEvent(event) {
  const mine =
    (event.type === "sweep_trial" && event.sweep === root.dataset.sweep) ||
    (["created", "state"].includes(event.type) && trialIds().has(event.run));
  if (mine) schedule();
}

// The parallel-coordinates brush (sweeps.js dispatches "sweep:filter" with the run ids
// inside every brushed axis, or null for none): rows of other trials are hidden.
let filter = null;

function applyFilter() {
  const rows = document.querySelectorAll("tr[data-trial]");
  let shown = 0;
  rows.forEach((row) => {
    const hide = filter !== null && !filter.has(row.dataset.trial);
    row.hidden = hide;
    if (!hide) shown += 1;
  });
  const note = document.getElementById("trials-filter-note");
  if (note) {
    note.hidden = filter === null;
    note.textContent = filter === null ? "" : `${shown} of ${rows.length} trials in the brushed ranges`;
  }
}

document.addEventListener("sweep:filter", (event) => {
  filter = event.detail === null ? null : new Set(event.detail);
  applyFilter();
});

if (root) {
  connectLive({
    path: root.dataset.path,
    statusElement: document.getElementById("live-status"),
    onEvent,
    onReconnect: schedule,
  });
}
