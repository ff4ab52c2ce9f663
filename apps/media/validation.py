"""Checking uploaded media by content before it enters the media index.

Guaranteed:
- A media item's format is what its bytes are (magic numbers, then a parse), never what
  its name or the client claims: a file named .png that holds HTML is refused as an
  image. Each media type accepts only its own formats (`ALLOWED`), and the item is
  served with the Content-Type of the format found here.
- Raster images are opened header-first: dimensions above
  `settings.MEDIA_MAX_IMAGE_PIXELS` are refused before any pixel is decoded (Pillow's
  own decompression-bomb limit is set to the same value), then the whole image is
  decoded once, so a truncated or corrupt file is refused too.
- JSON media (plotly figures, point clouds) must parse as a JSON object within the
  API's JSON limits.

Not guaranteed: that an SVG or HTML document is harmless — it is not made harmless, it
is only ever served sandboxed (apps.media.api_views.MediaFileView): an opaque origin,
no access to the app's cookies or DOM.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from apps.core import jsonlimits
from apps.core.errors import DomainError
from apps.media.models import MediaType

HEAD_BYTES = 64 * 1024
MAX_JSON_MEDIA_BYTES = 64 * 1024 * 1024

CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "glb": "model/gltf-binary",
    "obj": "text/plain; charset=utf-8",
    "stl": "model/stl",
}
ALLOWED = {
    MediaType.IMAGE: {"png", "jpeg", "gif", "webp", "bmp", "svg"},
    MediaType.AUDIO: {"wav", "mp3", "ogg", "flac", "mp4"},
    MediaType.VIDEO: {"gif", "mp4", "webm", "ogg"},
    MediaType.HTML: {"html"},
    MediaType.OBJECT3D: {"json", "glb", "obj", "stl"},
    MediaType.PLOTLY: {"json"},
}
RASTER = {"png", "jpeg", "gif", "webp", "bmp"}
PILImage.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_IMAGE_PIXELS


def invalid(message: str, code: str = "invalid_media") -> DomainError:
    return DomainError(message, code=code)


@dataclass
class Checked:
    format: str
    content_type: str
    extra: dict


def sniff(head: bytes) -> str | None:
    """The format the first bytes say, or None. Text formats (HTML, SVG, JSON, OBJ)
    are recognised only when the bytes are text."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"BM") and len(head) > 26:
        return "bmp"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"glTF"):
        return "glb"
    text = _as_text(head)
    if text is None:
        return "stl" if len(head) >= 84 else None  # binary STL has no magic number
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(("{", "[")):
        return "json"
    if "<svg" in stripped[:4096] and not stripped.startswith(("<!doctype html", "<html")):
        return "svg"
    if stripped.startswith("solid"):
        return "stl"
    if stripped.startswith(("v ", "#", "o ", "g ", "vn ", "mtllib")):
        return "obj"
    return "html"  # any other text: served as HTML would be, so it is HTML


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut by the head's end
            return head[: exc.start].decode("utf-8")
        return None


def _describe(fmt: str | None) -> str:
    if fmt is None:
        return "binary data of no known media format"
    return {"html": "HTML (or other text)", "json": "JSON"}.get(fmt, f"a {fmt.upper()} file")


def check_file(media_type: str, storage_name: str, path: str) -> Checked:
    """Validate a stored run file as `media_type`; DomainError (invalid_media) if not."""
    with default_storage.open(storage_name, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        fmt = sniff(head)
        allowed = ALLOWED[media_type]
        if fmt not in allowed:
            raise invalid(
                f"{path} is not a valid {MediaType(media_type).label.lower()}: its content is "
                f"{_describe(fmt)}; accepted formats: {', '.join(sorted(allowed))}."
            )
        extra: dict = {}
        if media_type == MediaType.IMAGE and fmt in RASTER:
            fh.seek(0)
            extra = _check_raster(fh, fmt, path)
        elif fmt == "json":
            fh.seek(0)
            _check_json(fh, path)
        elif fmt in ("html", "obj", "svg"):
            fh.seek(0)
            _check_text(fh, path)
    return Checked(fmt, CONTENT_TYPES[fmt], extra)


def _header_dimensions(head: bytes, fmt: str) -> tuple[int, int] | None:
    """Width and height read straight from the header, before Pillow sees the file."""
    if fmt == "png" and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if fmt == "gif" and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if fmt == "bmp" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    return None


def _too_large(path: str, width: int, height: int, limit: int) -> DomainError:
    return invalid(
        f"{path} is {width} x {height} pixels; images may have at most {limit} pixels.",
        code="image_too_large",
    )


def _check_raster(fh, fmt: str, path: str) -> dict:
    limit = settings.MEDIA_MAX_IMAGE_PIXELS
    dimensions = _header_dimensions(fh.read(32), fmt)
    if dimensions and dimensions[0] * dimensions[1] > limit:
        raise _too_large(path, *dimensions, limit)
    fh.seek(0)
    formats = ["JPEG" if fmt == "jpeg" else fmt.upper()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(fh, formats=formats) as image:
                width, height = image.size
                if width * height > limit:
                    raise _too_large(path, width, height, limit)
                image.load()  # decodes every pixel: missing pixel data fails here
            fh.seek(0)
            with PILImage.open(fh, formats=formats) as image:
                image.verify()  # every chunk to the end (CRCs, PNG's IEND): a cut file fails
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise invalid(f"{path} is refused: {exc}", code="image_too_large") from None
    except DomainError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise invalid(f"{path} is not a readable {fmt.upper()} image: {exc}") from None
    return {"width": width, "height": height}


def _check_json(fh, path: str) -> None:
    raw = fh.read(MAX_JSON_MEDIA_BYTES + 1)
    if len(raw) > MAX_JSON_MEDIA_BYTES:
        raise invalid(f"{path} is larger than {MAX_JSON_MEDIA_BYTES} bytes of JSON.")
    try:
        value = jsonlimits.loads(raw)
    except DomainError as exc:
        raise invalid(f"{path} is not valid JSON: {exc.message}") from None
    if not isinstance(value, dict):
        raise invalid(f"{path} must hold a JSON object.")


def _check_text(fh, path: str) -> None:
    while chunk := fh.read(1024 * 1024):
        if b"\x00" in chunk:
            raise invalid(f"{path} is not text: it holds NUL bytes.")
