// A histogram key over time: the server re-bins every step's histogram onto common bins
// (GET …/runs/<run>/media/histogram); this draws the matrix on a canvas — steps along x,
// values along y, the count as colour (the accent colour's intensity, so it follows light
// and dark). Hovering shows the step, the bin and its count.

import { cssVar } from "./vega.js";
import { el } from "./media-common.js";

function rgb(color) {
  const probe = document.createElement("span");
  probe.style.color = color;
  document.body.append(probe);
  const value = getComputedStyle(probe).color.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  probe.remove();
  return value;
}

function tick(value) {
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

/** drawHeatmap(container, {steps, edges, counts}) -> the canvas (data-* for tests). */
export function drawHeatmap(container, data) {
  const wrap = el("div", "heatmap");
  const canvas = el("canvas", "heatmap-canvas");
  const tip = el("div", "heatmap-tip mono");
  tip.hidden = true;
  wrap.append(canvas, tip);
  container.replaceChildren(wrap);
  const { steps, edges, counts } = data;
  canvas.dataset.steps = String(steps.length);
  canvas.dataset.bins = String(edges.length - 1);
  const ratio = Math.min(window.devicePixelRatio || 1, 2);
  const width = Math.max(260, wrap.clientWidth || 320), height = 220;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  const left = 52, bottom = 26, top = 6, right = 8;
  const plotW = width - left - right, plotH = height - top - bottom;
  const max = Math.max(1e-12, ...counts.map((row) => Math.max(...row)));
  const [ar, ag, ab] = rgb(cssVar("--accent", "#4f46e5"));
  const [br, bg, bb] = rgb(cssVar("--surface", "#ffffff"));
  const bins = edges.length - 1;
  const cellW = plotW / steps.length, cellH = plotH / bins;
  counts.forEach((row, s) => {
    row.forEach((count, b) => {
      // sqrt: small counts stay visible next to a tall peak.
      const t = Math.sqrt(count / max);
      ctx.fillStyle = `rgb(${Math.round(br + (ar - br) * t)},${Math.round(bg + (ag - bg) * t)},${Math.round(bb + (ab - bb) * t)})`;
      ctx.fillRect(left + s * cellW, top + plotH - (b + 1) * cellH, Math.ceil(cellW), Math.ceil(cellH));
    });
  });
  const muted = cssVar("--muted", "#5b6572");
  ctx.strokeStyle = cssVar("--border", "#dde1e7");
  ctx.strokeRect(left + 0.5, top + 0.5, plotW, plotH);
  ctx.fillStyle = muted;
  ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const value = edges[0] + ((edges[bins] - edges[0]) * i) / 4;
    ctx.fillText(tick(value), left - 6, top + plotH - (plotH * i) / 4);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const labels = Math.min(steps.length, Math.max(2, Math.floor(plotW / 70)));
  for (let i = 0; i < labels; i++) {
    const s = Math.round(((steps.length - 1) * i) / Math.max(1, labels - 1));
    ctx.fillText(String(steps[s]), left + (s + 0.5) * cellW, top + plotH + 6);
  }
  canvas.addEventListener("pointermove", (event) => {
    const box = canvas.getBoundingClientRect();
    const s = Math.floor((event.clientX - box.left - left) / cellW);
    const b = Math.floor((top + plotH - (event.clientY - box.top)) / cellH);
    if (s < 0 || s >= steps.length || b < 0 || b >= bins) {
      tip.hidden = true;
      return;
    }
    tip.textContent = `step ${steps[s]} · [${tick(edges[b])}, ${tick(edges[b + 1])}) · ${tick(counts[s][b])}`;
    tip.hidden = false;
  });
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Histogram over ${steps.length} steps, ${bins} bins`);
  return canvas;
}
