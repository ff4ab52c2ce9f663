// The media of some runs as panels, one per key (GET P/media/keys?runs=): the run page's
// Media tab (one run) and the workspace's Media section (the runs the table shows, at
// most MAX_RUNS). Keys are grouped as W&B does: pictures and players first, then
// tables and charts, then histograms.

import { el, mediaApi } from "./media-common.js";
import { createMediaPanel } from "./media-panel.js";

const MAX_RUNS = 20;
const ORDER = ["chart", "image", "video", "audio", "html", "object3d", "plotly", "table", "histogram"];

/**
 * createMediaSection(container, {api, csrf, runs, canSave, onKeys}) -> {update(runs), reload()}
 * `runs`: [{id, name, color}]; onKeys(count) after each load (for a tab's counter).
 */
export function createMediaSection(container, { api, csrf = "", runs = [], canSave = false, onKeys, emptyHtml }) {
  const media = mediaApi(api, { csrf });
  let shown = runs.slice(0, MAX_RUNS);
  let panels = new Map(); // "key\ttype" -> panel
  let generation = 0;
  const grid = el("div", "media-grid");
  grid.dataset.testid = "media-panels";
  const status = el("div", "chart-loading");
  status.setAttribute("role", "status");
  const empty = el("div", "empty media-empty");
  empty.hidden = true;
  if (emptyHtml) empty.append(emptyHtml);
  container.replaceChildren(status, empty, grid);

  async function load() {
    const mine = ++generation;
    container.setAttribute("aria-busy", "true");
    container.dataset.state = "loading";
    status.replaceChildren(el("span", "spinner"), " Loading media…");
    status.hidden = false;
    if (!shown.length) {
      for (const panel of panels.values()) panel.destroy();
      panels = new Map();
      grid.replaceChildren();
      finish(0);
      return;
    }
    try {
      const answer = await media.keys(shown.map((r) => r.id));
      if (mine !== generation) return;
      const keys = answer.keys
        .slice()
        .sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type) || a.key.localeCompare(b.key));
      const next = new Map();
      const nodes = [];
      for (const entry of keys) {
        const id = `${entry.key}\t${entry.type}`;
        let panel = panels.get(id);
        let node;
        if (panel) {
          node = panel.node;
          panel.update(shown);
        } else {
          node = el("div", "chart-panel media-panel-slot");
          if (["table", "chart", "histogram"].includes(entry.type) || shown.length > 1) node.classList.add("wide");
          panel = createMediaPanel(node, { media, key: entry.key, type: entry.type, runs: shown, canSave });
          panel.node = node;
        }
        next.set(id, panel);
        nodes.push(node);
      }
      for (const [id, panel] of panels) if (!next.has(id)) panel.destroy();
      panels = next;
      grid.replaceChildren(...nodes);
      finish(keys.length);
    } catch (exc) {
      if (mine !== generation) return;
      status.textContent = `Could not load the media: ${exc.message}`;
      container.dataset.state = "error";
      container.setAttribute("aria-busy", "false");
    }
  }

  function finish(count) {
    status.hidden = true;
    empty.hidden = count > 0;
    container.dataset.state = "ready";
    container.dataset.keys = String(count);
    container.setAttribute("aria-busy", "false");
    if (onKeys) onKeys(count);
  }

  load();
  return {
    update(nextRuns) {
      const limited = nextRuns.slice(0, MAX_RUNS);
      const same = limited.map((r) => r.id).join(",") === shown.map((r) => r.id).join(",");
      shown = limited;
      if (!same) load();
    },
    reload: load,
  };
}
