"""Media values that can be logged, as W&B's: Image, Audio, Video, Html, Object3D, Plotly.

Cost split (DESIGN.md §5, `log()` stays cheap): a constructor validates what it can from
shapes and types and takes a private copy of the caller's data (numpy arrays are copied,
PIL images copied, file paths remembered); encoding (PNG, WAV, GIF, JSON) happens on the
writer thread in `materialize()`, which writes the file under the run's `files/media/`
folder and returns the descriptor that the media record (and the summary) carry:
`{"_type": "image-file", "path": …, "sha256": …, "size": …, …}`. The file then travels
through the run-files upload like any saved file, and the media record tells the server
what it is.

Two inputs are converted on the caller's thread, because they are live objects of another
library that the caller goes on mutating: a matplotlib figure is rendered to PNG bytes,
a plotly figure to its JSON.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import orjson

MEDIA_DIR = "media"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class MediaError(ValueError):
    """A value that cannot become media (a bad shape, an unreadable file)."""


class MediaSink:
    """Where the writer thread puts media files: the run's files folder, and the list of
    paths written (each becomes a file record, uploaded before the media record)."""

    def __init__(self, files_dir: Path):
        self.files_dir = Path(files_dir)
        self.written: list[str] = []


class Media:
    """Base class: subclasses set `_type`, `_folder` and implement `_encode()`."""

    _type = "media"
    _folder = "other"
    caption: str | None = None

    def _encode(self) -> tuple[bytes, str, dict]:  # pragma: no cover - abstract
        """(file bytes, extension, extra descriptor fields) — on the writer thread."""
        raise NotImplementedError

    def materialize(self, sink: MediaSink, key: str, step: int, index: int) -> dict:
        """Encode, write the file under files_dir/media/<folder>/ and describe it."""
        content, ext, extra = self._encode()
        return write_media_file(sink, self._folder, key, step, index, content, ext) | {
            "_type": self._type,
            **({"caption": self.caption} if self.caption is not None else {}),
            **extra,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def write_media_file(
    sink: MediaSink, folder: str, key: str, step: int, index: int, content: bytes, ext: str
) -> dict:
    """Write content-addressed bytes; the name carries the key, step and hash."""
    sha256 = hashlib.sha256(content).hexdigest()
    safe_key = _SAFE.sub("_", key).strip("_.")[:80] or "media"
    rel = f"{MEDIA_DIR}/{folder}/{safe_key}_{step}_{index}_{sha256[:20]}.{ext}"
    dest = sink.files_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
        tmp.write_bytes(content)
        os.replace(tmp, dest)
    if rel not in sink.written:
        sink.written.append(rel)
    return {"path": rel, "sha256": sha256, "size": len(content)}


def _numpy():
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - numpy is there wherever arrays are
        raise MediaError("numpy is needed for array media (pip install numpy)") from exc
    return np


def _as_array(data: Any):
    """A private numpy copy of an array-like (torch tensors detached to the CPU)."""
    np = _numpy()
    if type(data).__module__.startswith("torch"):
        data = data.detach().to("cpu").numpy()
    return np.array(data, copy=True)


def _is_figure(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("matplotlib") and hasattr(value, "savefig")


def figure_png(figure: Any) -> bytes:
    """A matplotlib figure (or the pyplot module: its current figure) as PNG bytes."""
    if getattr(figure, "__name__", "") == "matplotlib.pyplot":
        figure = figure.gcf()
    buf = io.BytesIO()
    figure.savefig(buf, format="png")
    return buf.getvalue()


def read_file(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- Image

_IMAGE_EXTS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp"}
_IMAGE_EXT_OF_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_ext_of(content: bytes, fallback: str) -> str:
    for magic, ext in _IMAGE_EXT_OF_MAGIC:
        if content.startswith(magic):
            return ext
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    if b"<svg" in content[:2048]:
        return "svg"
    return fallback


def image_uint8(arr: Any):
    """An array of any common dtype and layout as HxW, HxWx1/2/3/4 uint8 (W&B's rules:
    floats in [0, 1] are scaled by 255, floats in [-1, 1] mapped from -1..1, anything
    else clipped to 0..255; CHW is transposed to HWC)."""
    np = _numpy()
    if arr.ndim == 3 and arr.shape[0] in (1, 2, 3, 4) and arr.shape[-1] not in (1, 2, 3, 4):
        arr = np.transpose(arr, (1, 2, 0))
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:
            finite = finite * 255.0
        elif lo >= -1.0 and hi <= 1.0:
            finite = (finite + 1.0) * 127.5
        return np.clip(np.rint(finite), 0, 255).astype(np.uint8)
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _check_image_shape(shape: tuple) -> None:
    ok = len(shape) == 2 or (
        len(shape) == 3 and (shape[-1] in (1, 2, 3, 4) or shape[0] in (1, 2, 3, 4))
    )
    if not ok or 0 in shape:
        raise MediaError(
            f"an image array must be HxW, HxWxC or CxHxW with 1-4 channels, got shape {shape}"
        )


def _png(arr: Any) -> bytes:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Image(Media):
    """`wandb.Image(data_or_path, mode=None, caption=None, grouping=None, classes=None,
    boxes=None, masks=None, file_type=None)`: numpy/torch arrays (any common dtype and
    layout), PIL images, file paths, matplotlib figures."""

    _type = "image-file"
    _folder = "images"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: dict | None = None,
        masks: dict | None = None,
        file_type: str | None = None,
        normalize: bool = True,
    ):
        self.caption = None if caption is None else str(caption)
        self.mode = mode
        self.grouping = grouping
        self.file_type = (file_type or "png").lower()
        if self.file_type not in _IMAGE_EXTS:
            raise MediaError(f"file_type must be one of {sorted(_IMAGE_EXTS)}")
        self._array = self._pil = self._bytes = self._path = None
        data = data_or_path
        if isinstance(data, Image):
            self._array, self._pil, self._bytes, self._path = (
                data._array,
                data._pil,
                data._bytes,
                data._path,
            )
        elif isinstance(data, (str, os.PathLike)):
            if not os.path.isfile(data):
                raise MediaError(f"no image file at {data}")
            self._path = os.fspath(data)
        elif _is_figure(data) or getattr(data, "__name__", "") == "matplotlib.pyplot":
            self._bytes = figure_png(data)
        elif type(data).__module__.startswith("PIL"):
            self._pil = data.copy()
        else:
            arr = _as_array(data)
            _check_image_shape(arr.shape)
            self._array = arr
        self.boxes = _check_boxes(boxes)
        self.masks = {}
        for name, mask in (masks or {}).items():
            if not isinstance(mask, dict) or ("mask_data" not in mask and "path" not in mask):
                raise MediaError(f"mask {name!r} needs mask_data (an array) or a path")
            entry = dict(mask)
            if "mask_data" in entry:
                entry["mask_data"] = _as_array(entry["mask_data"])
                if entry["mask_data"].ndim != 2:
                    raise MediaError(f"mask {name!r}: mask_data must be a 2-D array of class ids")
            self.masks[str(name)] = entry
        self.classes = classes

    def _image_bytes(self) -> tuple[bytes, str]:
        if self._bytes is not None:
            return self._bytes, "png"
        if self._path is not None:
            content = read_file(self._path)
            ext = Path(self._path).suffix.lower().lstrip(".")
            return content, image_ext_of(content, _IMAGE_EXTS.get(ext, ext) or "bin")
        if self._pil is not None:
            buf = io.BytesIO()
            fmt = "JPEG" if self.file_type in ("jpg", "jpeg") else self.file_type.upper()
            image = self._pil if fmt != "JPEG" else self._pil.convert("RGB")
            image.save(buf, format=fmt)
            return buf.getvalue(), "jpg" if fmt == "JPEG" else self.file_type
        arr = image_uint8(self._array)
        if self.file_type == "png":
            return _png(arr), "png"
        from PIL import Image as PILImage

        buf = io.BytesIO()
        fmt = "JPEG" if self.file_type in ("jpg", "jpeg") else self.file_type.upper()
        PILImage.fromarray(arr).convert("RGB" if fmt == "JPEG" else None).save(buf, format=fmt)
        return buf.getvalue(), "jpg" if fmt == "JPEG" else self.file_type

    def _encode(self) -> tuple[bytes, str, dict]:
        content, ext = self._image_bytes()
        extra: dict = {"format": ext}
        size = _image_size(content)
        if size:
            extra["width"], extra["height"] = size
        if self.boxes:
            extra["boxes"] = self.boxes
        if self.grouping is not None:
            extra["grouping"] = self.grouping
        if self.classes is not None:
            extra["classes"] = _jsonable(self.classes)
        return content, ext, extra

    def materialize(self, sink: MediaSink, key: str, step: int, index: int) -> dict:
        out = super().materialize(sink, key, step, index)
        if self.masks:
            masks = {}
            for name, mask in self.masks.items():
                if "mask_data" in mask:
                    arr = _numpy().clip(mask["mask_data"], 0, 255).astype("uint8")
                    content = _png(arr)
                else:
                    content = read_file(mask["path"])
                ref = write_media_file(
                    sink, "images", f"{key}_mask_{name}", step, index, content, "png"
                )
                ref["_type"] = "mask"
                if mask.get("class_labels") is not None:
                    ref["class_labels"] = {str(k): str(v) for k, v in mask["class_labels"].items()}
                masks[name] = ref
            out["masks"] = masks
        return out


def _image_size(content: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(content)) as image:
            return image.size
    except Exception:
        return None


def _check_boxes(boxes: dict | None) -> dict:
    """W&B's box format: {group: {"box_data": [{"position": {...}, "class_id": …}],
    "class_labels": {id: name}}}; returned as plain JSON."""
    if not boxes:
        return {}
    out = {}
    for name, group in boxes.items():
        if not isinstance(group, dict) or not isinstance(group.get("box_data"), (list, tuple)):
            raise MediaError(f"boxes {name!r} needs a box_data list")
        for box in group["box_data"]:
            position = box.get("position") if isinstance(box, dict) else None
            corners = {"minX", "maxX", "minY", "maxY"}
            middle = {"middle", "width", "height"}
            if not isinstance(position, dict) or not (
                corners <= position.keys() or middle <= position.keys()
            ):
                raise MediaError(
                    f"boxes {name!r}: each box needs a position with minX/maxX/minY/maxY "
                    "or middle/width/height"
                )
        out[str(name)] = _jsonable(group)
    return out


def _jsonable(value: Any) -> Any:
    from gradline.values import to_jsonable

    return to_jsonable(value)


# --------------------------------------------------------------------------- Audio


class Audio(Media):
    """`wandb.Audio(data_or_path, sample_rate=None, caption=None)`: a 1-D (mono) or
    samples x channels array (floats in -1..1 or integers) becomes a 16-bit WAV."""

    _type = "audio-file"
    _folder = "audio"

    def __init__(
        self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None
    ):
        self.caption = None if caption is None else str(caption)
        self.sample_rate = sample_rate
        self._path = self._array = None
        if isinstance(data_or_path, (str, os.PathLike)):
            if not os.path.isfile(data_or_path):
                raise MediaError(f"no audio file at {data_or_path}")
            self._path = os.fspath(data_or_path)
        else:
            if sample_rate is None:
                raise MediaError("Audio from an array needs sample_rate")
            arr = _as_array(data_or_path)
            if arr.ndim not in (1, 2) or arr.size == 0:
                raise MediaError(f"audio must be samples or samples x channels, got {arr.shape}")
            self._array = arr

    def _encode(self) -> tuple[bytes, str, dict]:
        if self._path is not None:
            content = read_file(self._path)
            ext = Path(self._path).suffix.lower().lstrip(".") or "bin"
            extra = {"format": ext}
            if self.sample_rate:
                extra["sample_rate"] = int(self.sample_rate)
            return content, ext, extra
        import wave

        np = _numpy()
        arr = self._array
        if np.issubdtype(arr.dtype, np.floating):
            pcm = (np.clip(np.nan_to_num(arr), -1.0, 1.0) * 32767).astype("<i2")
        elif arr.dtype == np.int16:
            pcm = arr.astype("<i2")
        else:
            pcm = np.clip(arr, -32768, 32767).astype("<i2")
        channels = 1 if pcm.ndim == 1 else pcm.shape[1]
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(int(self.sample_rate))
            out.writeframes(np.ascontiguousarray(pcm).tobytes())
        frames = pcm.shape[0]
        return (
            buf.getvalue(),
            "wav",
            {
                "format": "wav",
                "sample_rate": int(self.sample_rate),
                "channels": channels,
                "duration": frames / float(self.sample_rate),
            },
        )


# --------------------------------------------------------------------------- Video


class Video(Media):
    """`wandb.Video(data_or_path, caption=None, fps=None, format=None)`: an array of
    frames (time, channels, height, width) — W&B's layout — or (batch, time, …), or a file.

    Arrays are encoded as GIF with Pillow (W&B's default format too). format="mp4" or
    "webm" needs imageio-ffmpeg (`pip install gradline[video]`), whose wheel carries its
    own ffmpeg binary.
    """

    _type = "video-file"
    _folder = "videos"

    def __init__(
        self,
        data_or_path: Any,
        caption: str | None = None,
        fps: int | None = None,
        format: str | None = None,
    ):
        self.caption = None if caption is None else str(caption)
        self.fps = int(fps or 4)
        self._path = self._array = None
        if isinstance(data_or_path, (str, os.PathLike)):
            if not os.path.isfile(data_or_path):
                raise MediaError(f"no video file at {data_or_path}")
            self._path = os.fspath(data_or_path)
            self.format = (format or Path(self._path).suffix.lstrip(".") or "mp4").lower()
            return
        self.format = (format or "gif").lower()
        if self.format not in ("gif", "mp4", "webm"):
            raise MediaError("Video format must be gif, mp4 or webm")
        if self.format != "gif":
            try:
                import imageio_ffmpeg  # noqa: F401
            except ImportError as exc:
                raise MediaError(
                    f"Video format {self.format!r} needs imageio-ffmpeg "
                    "(pip install 'gradline[video]'); format='gif' needs only Pillow"
                ) from exc
        arr = _as_array(data_or_path)
        if arr.ndim == 5:  # batch x time x C x H x W: tile the batch side by side
            arr = _numpy().concatenate(list(arr), axis=-1)
        if arr.ndim != 4 or arr.shape[1] not in (1, 3, 4) or 0 in arr.shape:
            raise MediaError(
                f"a video array must be (time, channels, height, width), got {arr.shape}"
            )
        self._array = arr

    def _encode(self) -> tuple[bytes, str, dict]:
        if self._path is not None:
            return read_file(self._path), self.format, {"format": self.format, "fps": self.fps}
        np = _numpy()
        frames = [image_uint8(frame) for frame in self._array]  # CHW -> HWC uint8
        height, width = frames[0].shape[:2]
        extra = {"format": self.format, "fps": self.fps, "frames": len(frames)}
        extra |= {"width": width, "height": height}
        if self.format == "gif":
            from PIL import Image as PILImage

            images = [PILImage.fromarray(f).convert("RGB") for f in frames]
            buf = io.BytesIO()
            images[0].save(
                buf,
                format="GIF",
                save_all=True,
                append_images=images[1:],
                duration=max(1, round(1000 / self.fps)),
                loop=0,
            )
            return buf.getvalue(), "gif", extra
        import tempfile

        import imageio_ffmpeg

        rgb = [f if f.ndim == 3 and f.shape[-1] == 3 else _rgb(np, f) for f in frames]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, f"video.{self.format}")
            codec = "libvpx-vp9" if self.format == "webm" else "libx264"
            writer = imageio_ffmpeg.write_frames(
                out, (width, height), fps=self.fps, codec=codec, macro_block_size=1
            )
            writer.send(None)
            for frame in rgb:
                writer.send(np.ascontiguousarray(frame))
            writer.close()
            return read_file(out), self.format, extra


def _rgb(np, frame):
    if frame.ndim == 2:
        return np.stack([frame] * 3, axis=-1)
    return frame[:, :, :3]


# --------------------------------------------------------------------------- Html


class Html(Media):
    """`wandb.Html(data, inject=True)`: an HTML string, a file path or a file object.
    The server shows it only in a sandboxed frame (docs/media.md, Security)."""

    _type = "html-file"
    _folder = "html"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False):
        if hasattr(data, "read"):
            data = data.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        if not isinstance(data, (str, os.PathLike)):
            raise MediaError("Html takes a string, a path or a file object")
        text = os.fspath(data)
        if not data_is_not_path and len(text) < 4096 and os.path.isfile(text):
            text = read_file(text).decode("utf-8", errors="replace")
        self.html = text

    def _encode(self) -> tuple[bytes, str, dict]:
        return self.html.encode("utf-8"), "html", {"format": "html"}


# --------------------------------------------------------------------------- Object3D

_OBJECT3D_FILES = {"obj", "gltf", "glb", "stl", "babylon", "json"}


class Object3D(Media):
    """`wandb.Object3D(data_or_path)`: a point cloud from an (N, 3) array (x, y, z), (N, 4)
    (x, y, z, category) or (N, 6) (x, y, z, r, g, b); W&B's dict form
    ({"type": "lidar/beta", "points": …, "boxes": …}); or a .obj/.gltf/.glb/.stl file."""

    _type = "object3D-file"
    _folder = "object3d"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any):
        self.caption = None if caption is None else str(caption)
        self._path = self._array = None
        self._scene: dict = {}
        if isinstance(data_or_path, (str, os.PathLike)):
            ext = Path(data_or_path).suffix.lower().lstrip(".")
            if ext not in _OBJECT3D_FILES:
                raise MediaError(f"Object3D files must be one of {sorted(_OBJECT3D_FILES)}")
            if not os.path.isfile(data_or_path):
                raise MediaError(f"no 3D file at {data_or_path}")
            self._path = os.fspath(data_or_path)
            return
        if isinstance(data_or_path, dict):
            scene = dict(data_or_path)
            points = scene.pop("points", None)
            if points is None:
                raise MediaError("an Object3D dict needs points")
            self._scene = _jsonable(scene)
            data_or_path = points
        arr = _as_array(data_or_path)
        if arr.ndim != 2 or arr.shape[1] not in (3, 4, 6):
            raise MediaError(f"a point cloud is (N, 3), (N, 4) or (N, 6); got {arr.shape}")
        self._array = arr

    @classmethod
    def from_numpy(cls, data: Any) -> Object3D:
        return cls(data)

    @classmethod
    def from_file(cls, data_or_path: Any, file_type: str | None = None) -> Object3D:
        return cls(data_or_path)

    @classmethod
    def from_point_cloud(
        cls,
        points: Any,
        boxes: Any = None,
        vectors: Any = None,
        point_cloud_type: str = "lidar/beta",
    ) -> Object3D:
        scene = {"type": point_cloud_type, "points": points}
        if boxes is not None:
            scene["boxes"] = boxes
        if vectors is not None:
            scene["vectors"] = vectors
        return cls(scene)

    def _encode(self) -> tuple[bytes, str, dict]:
        if self._path is not None:
            ext = Path(self._path).suffix.lower().lstrip(".")
            return read_file(self._path), ext, {"format": ext}
        arr = self._array.astype("float64")
        scene = {"type": "lidar/beta", **self._scene, "points": arr.tolist()}
        body = orjson.dumps(scene, option=orjson.OPT_SERIALIZE_NUMPY)
        return body, "pts.json", {"format": "pts.json", "points": int(arr.shape[0])}


# --------------------------------------------------------------------------- Plotly


class Plotly(Media):
    """`wandb.Plotly(figure)`: a plotly figure (or its dict), stored as its JSON."""

    _type = "plotly-file"
    _folder = "plotly"

    def __init__(self, val: Any):
        if hasattr(val, "to_plotly_json"):
            self._json = orjson.dumps(
                val.to_plotly_json(), option=orjson.OPT_SERIALIZE_NUMPY, default=_plotly_default
            )
        elif isinstance(val, dict):
            self._json = orjson.dumps(val, option=orjson.OPT_SERIALIZE_NUMPY, default=str)
        elif _is_figure(val):
            raise MediaError("Plotly takes a plotly figure; log a matplotlib figure as an Image")
        else:
            raise MediaError("Plotly takes a plotly figure or its dict")

    def _encode(self) -> tuple[bytes, str, dict]:
        return self._json, "plotly.json", {"format": "plotly.json"}


def _plotly_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_plotly_json"):
        return value.to_plotly_json()
    return str(value)


def as_media(value: Any) -> Any:
    """On the caller's thread: live objects of other libraries become media now
    (matplotlib figures -> Image, pandas DataFrames -> Table, plotly figures -> Plotly,
    Tables -> a frozen copy); anything else is returned as it is."""
    from gradline.table import Table

    if isinstance(value, Media):
        frozen = getattr(value, "_frozen", None)  # tables and charts are mutable
        return frozen() if frozen is not None else value
    module = type(value).__module__
    if module.startswith("matplotlib") and _is_figure(value):
        return Image(value)
    if getattr(value, "__name__", "") == "matplotlib.pyplot":
        return Image(value)
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return Table(dataframe=value)._frozen()
    if module.startswith("plotly") and hasattr(value, "to_plotly_json"):
        return Plotly(value)
    return value
