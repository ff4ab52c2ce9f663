// An image item: the picture, its caption, boxes drawn over it (W&B's box_data, pixel or
// fraction domain) and masks coloured by class over it, each toggled by a checkbox.

import { caption, el } from "./media-common.js";

const MASK_COLORS = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
];

function boxRect(box, width, height) {
  const p = box.position || {};
  const scaleX = box.domain === "pixel" ? 1 : width;
  const scaleY = box.domain === "pixel" ? 1 : height;
  if ("minX" in p) {
    return [p.minX * scaleX, p.minY * scaleY, (p.maxX - p.minX) * scaleX, (p.maxY - p.minY) * scaleY];
  }
  const [mx, my] = p.middle || [0, 0];
  return [(mx - p.width / 2) * scaleX, (my - p.height / 2) * scaleY, p.width * scaleX, p.height * scaleY];
}

function boxesLayer(groups, width, height) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.classList.add("media-overlay", "media-boxes");
  for (const [name, group] of Object.entries(groups || {})) {
    const labels = group.class_labels || {};
    for (const box of group.box_data || []) {
      const [x, y, w, h] = boxRect(box, width, height);
      const color = MASK_COLORS[Math.abs(Number(box.class_id) || 0) % MASK_COLORS.length];
      const rect = document.createElementNS(NS, "rect");
      for (const [k, v] of Object.entries({ x, y, width: w, height: h })) rect.setAttribute(k, String(v));
      rect.setAttribute("stroke", `rgb(${color.join(",")})`);
      rect.dataset.group = name;
      const title = document.createElementNS(NS, "title");
      title.textContent = box.box_caption || labels[box.class_id] || `class ${box.class_id}`;
      rect.append(title);
      svg.append(rect);
    }
  }
  return svg;
}

async function maskLayer(url, width, height) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = el("canvas", "media-overlay media-mask");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const d = pixels.data;
  for (let i = 0; i < d.length; i += 4) {
    const id = d[i];
    if (!id) {
      d[i + 3] = 0;
      continue;
    }
    const [r, g, b] = MASK_COLORS[id % MASK_COLORS.length];
    d[i] = r; d[i + 1] = g; d[i + 2] = b; d[i + 3] = 130;
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas;
}

export function renderImage(item) {
  const figure = el("figure", "media-item media-image");
  figure.dataset.mediaId = item.id;
  const frame = el("div", "media-image-frame");
  const image = new Image();
  image.src = item.file_url;
  image.alt = item.metadata.caption || `${item.key} at step ${item.step}`;
  image.loading = "lazy";
  image.decoding = "async";
  const width = item.metadata.width || 1, height = item.metadata.height || 1;
  // Keep the frame's aspect ratio before the image arrives (no layout jump).
  frame.style.aspectRatio = `${width} / ${height}`;
  frame.append(image);
  const toggles = el("div", "media-toggles");
  if (item.metadata.boxes && Object.keys(item.metadata.boxes).length) {
    const layer = boxesLayer(item.metadata.boxes, width, height);
    frame.append(layer);
    toggles.append(toggle("Boxes", layer));
  }
  for (const name of Object.keys(item.metadata.masks || {})) {
    const label = toggle(`Mask ${name}`, null);
    toggles.append(label);
    maskLayer(`${item.file_url}?mask=${encodeURIComponent(name)}`, width, height)
      .then((canvas) => {
        frame.append(canvas);
        label.querySelector("input").addEventListener("change", (e) => { canvas.hidden = !e.target.checked; });
      })
      .catch(() => label.remove());
  }
  figure.append(frame);
  const text = caption(item.metadata.caption);
  if (text) figure.append(text);
  if (toggles.childElementCount) figure.append(toggles);
  return figure;
}

function toggle(text, layer) {
  const label = el("label", "check");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = true;
  if (layer) box.addEventListener("change", () => { layer.style.display = box.checked ? "" : "none"; });
  label.append(box, ` ${text}`);
  return label;
}
