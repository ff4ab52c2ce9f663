"""The SDK files this server offers (apps/sdkindex/build.py puts them in SDK_DIST_DIR).

Guarantees: only regular files directly inside SDK_DIST_DIR whose names look like a
gradline distribution are ever listed or served, so a request cannot name any other
file. Digests are recomputed when a file's size or mtime changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PROJECT = "gradline"
_FILE_RE = re.compile(r"^gradline-[0-9][A-Za-z0-9._+-]*\.(whl|tar\.gz)$")
_digests: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Distribution:
    filename: str
    path: Path
    sha256: str
    version: str


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def distributions() -> list[Distribution]:
    folder = Path(settings.SDK_DIST_DIR)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and _FILE_RE.match(path.name):
            version = path.name.split("-")[1].removesuffix(".tar.gz")
            out.append(Distribution(path.name, path, _sha256(path), version))
    return out


def wheel() -> Distribution | None:
    """The wheel to tell people to install (the newest, if several)."""
    wheels = [d for d in distributions() if d.filename.endswith(".whl")]
    return wheels[-1] if wheels else None


def distribution_get(filename: str) -> Distribution | None:
    return next((d for d in distributions() if d.filename == filename), None)
