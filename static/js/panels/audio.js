// An audio item: the browser's player over the sandboxed file.

import { caption, el } from "./media-common.js";

export function renderAudio(item) {
  const figure = el("figure", "media-item media-audio");
  figure.dataset.mediaId = item.id;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.src = item.file_url;
  audio.setAttribute("aria-label", item.metadata.caption || `${item.key} at step ${item.step}`);
  figure.append(audio);
  const meta = [item.metadata.sample_rate && `${item.metadata.sample_rate} Hz`, item.format].filter(Boolean).join(" · ");
  const text = caption([item.metadata.caption, meta].filter(Boolean).join(" — "));
  if (text) figure.append(text);
  return figure;
}
