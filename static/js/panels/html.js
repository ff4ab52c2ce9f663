// An Html item in a sandboxed frame. `sandbox="allow-scripts"` without allow-same-origin
// gives the document an opaque origin: its scripts run (plotly exports need them) but
// cannot read this page's DOM, cookies or storage, and the server's own CSP for the file
// (docs/media.md, Security) forbids any network request from it.

import { caption, el } from "./media-common.js";

export function renderHtml(item) {
  const figure = el("figure", "media-item media-html");
  figure.dataset.mediaId = item.id;
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.referrerPolicy = "no-referrer";
  frame.loading = "lazy";
  frame.title = item.metadata.caption || `${item.key} at step ${item.step}`;
  frame.src = item.file_url;
  figure.append(frame);
  const text = caption(item.metadata.caption);
  if (text) figure.append(text);
  return figure;
}
