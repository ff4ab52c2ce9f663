// A 3D point cloud (Object3D logged from an array: rows of x, y, z, optionally a class
// or r, g, b) drawn with three.js from npm (/static/vendor/three/, loaded on first use).
// Drag to turn it, the wheel to zoom. Meshes (.obj, .glb, .stl) are offered as downloads.
// Without WebGL (some headless or locked-down browsers) the points are drawn as a 2D
// projection on a canvas, so the panel still shows the shape.

import { caption, el, getJson } from "./media-common.js";

const PALETTE = [[79, 70, 229], [230, 25, 75], [60, 180, 75], [245, 130, 48], [0, 130, 200], [145, 30, 180]];
const MAX_POINTS = 200_000;

function colorOf(point, index) {
  if (point.length >= 6) return [point[3], point[4], point[5]].map((c) => (c > 1 ? c / 255 : c));
  if (point.length === 4) return PALETTE[Math.abs(Math.round(point[3])) % PALETTE.length].map((c) => c / 255);
  return PALETTE[0].map((c) => c / 255);
}

function normalised(points) {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const p of points) for (let i = 0; i < 3; i++) { lo[i] = Math.min(lo[i], p[i]); hi[i] = Math.max(hi[i], p[i]); }
  const centre = lo.map((l, i) => (l + hi[i]) / 2);
  const size = Math.max(...hi.map((h, i) => h - lo[i]), 1e-9);
  return points.map((p) => [0, 1, 2].map((i) => ((p[i] - centre[i]) / size) * 2));
}

function hasWebGL() {
  try {
    const probe = document.createElement("canvas");
    return !!(probe.getContext("webgl2") || probe.getContext("webgl"));
  } catch {
    return false;
  }
}

async function drawWebGL(stage, points, colors) {
  if (!hasWebGL()) throw new Error("no WebGL");
  const THREE = await import("../../vendor/three/three.module.js");
  const renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true });
  const width = stage.clientWidth || 320, height = stage.clientHeight || 240;
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.setSize(width, height);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(50, width / height, 0.01, 100);
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(points.flat(), 3));
  geometry.setAttribute("color", new THREE.Float32BufferAttribute(colors.flat(), 3));
  const cloud = new THREE.Points(geometry, new THREE.PointsMaterial({ size: 0.03, vertexColors: true }));
  scene.add(cloud);
  let yaw = 0.6, pitch = 0.35, distance = 3.2;
  const render = () => {
    camera.position.set(
      distance * Math.cos(pitch) * Math.sin(yaw), distance * Math.sin(pitch), distance * Math.cos(pitch) * Math.cos(yaw),
    );
    camera.lookAt(0, 0, 0);
    renderer.render(scene, camera);
  };
  bindOrbit(renderer.domElement, (dx, dy, zoom) => {
    yaw -= dx * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, pitch + dy * 0.01));
    distance = Math.max(0.5, Math.min(20, distance * zoom));
    render();
  });
  stage.replaceChildren(renderer.domElement);
  render();
  return "webgl";
}

function draw2d(stage, points, colors) {
  const canvas = el("canvas", "pointcloud-2d");
  const width = stage.clientWidth || 320, height = stage.clientHeight || 240;
  const ratio = Math.min(window.devicePixelRatio || 1, 2);
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  let yaw = 0.6, pitch = 0.35, zoom = 1;
  const render = () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const scale = (Math.min(canvas.width, canvas.height) / 3.2) * zoom;
    const [cy, sy, cp, sp] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch)];
    points.forEach((p, i) => {
      const x = p[0] * cy - p[2] * sy;
      const z = p[0] * sy + p[2] * cy;
      const y = p[1] * cp - z * sp;
      ctx.fillStyle = `rgb(${colors[i].map((c) => Math.round(c * 255)).join(",")})`;
      ctx.fillRect(canvas.width / 2 + x * scale, canvas.height / 2 - y * scale, 2 * ratio, 2 * ratio);
    });
  };
  bindOrbit(canvas, (dx, dy, z) => {
    yaw -= dx * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, pitch + dy * 0.01));
    zoom = Math.max(0.2, Math.min(10, zoom / z));
    render();
  });
  stage.replaceChildren(canvas);
  render();
  return "canvas";
}

function bindOrbit(target, onMove) {
  let last = null;
  target.addEventListener("pointerdown", (e) => { last = [e.clientX, e.clientY]; target.setPointerCapture(e.pointerId); });
  target.addEventListener("pointermove", (e) => {
    if (!last) return;
    onMove(e.clientX - last[0], e.clientY - last[1], 1);
    last = [e.clientX, e.clientY];
  });
  target.addEventListener("pointerup", () => { last = null; });
  target.addEventListener("wheel", (e) => { e.preventDefault(); onMove(0, 0, e.deltaY > 0 ? 1.1 : 0.9); }, { passive: false });
}

export function renderPointCloud(item) {
  const figure = el("figure", "media-item media-pointcloud");
  figure.dataset.mediaId = item.id;
  const stage = el("div", "pointcloud-stage");
  stage.setAttribute("role", "img");
  stage.setAttribute("aria-label", `3D point cloud ${item.key} at step ${item.step}`);
  figure.append(stage);
  if (item.format !== "json") {
    const link = el("a", "btn small secondary", `Download the ${item.format.toUpperCase()} model`);
    link.href = item.file_url;
    link.download = "";
    stage.append(link);
    return figure;
  }
  stage.append(el("p", "muted", "Loading points…"));
  const note = el("figcaption", "media-caption");
  figure.append(note);
  getJson(item.file_url)
    .then(async (scene) => {
      const raw = (Array.isArray(scene.points) ? scene.points : []).filter((p) => Array.isArray(p) && p.length >= 3);
      const points = normalised(raw.slice(0, MAX_POINTS));
      const colors = raw.slice(0, MAX_POINTS).map(colorOf);
      let how;
      try {
        how = await drawWebGL(stage, points, colors);
      } catch {
        how = draw2d(stage, points, colors);
      }
      figure.dataset.renderer = how;
      figure.dataset.points = String(points.length);
      note.textContent = `${raw.length.toLocaleString()} points${how === "canvas" ? " (2D view: WebGL is not available)" : ""} — drag to turn, scroll to zoom`;
    })
    .catch((exc) => {
      stage.replaceChildren(el("p", "muted", `Could not load the points: ${exc.message}`));
    });
  const text = caption(item.metadata.caption);
  if (text) figure.append(text);
  return figure;
}
