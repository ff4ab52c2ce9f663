// A video item: GIFs (the SDK's default encoding) as images, MP4 / WebM in the player.

import { caption, el } from "./media-common.js";

export function renderVideo(item) {
  const figure = el("figure", "media-item media-video");
  figure.dataset.mediaId = item.id;
  const label = item.metadata.caption || `${item.key} at step ${item.step}`;
  if (item.format === "gif") {
    const image = new Image();
    image.src = item.file_url;
    image.alt = label;
    image.loading = "lazy";
    figure.append(image);
  } else {
    const video = document.createElement("video");
    video.controls = true;
    video.loop = true;
    video.muted = true;
    video.preload = "metadata";
    video.playsInline = true;
    video.src = item.file_url;
    video.setAttribute("aria-label", label);
    figure.append(video);
  }
  const text = caption(item.metadata.caption);
  if (text) figure.append(text);
  return figure;
}
