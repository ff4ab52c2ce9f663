"""Names, aliases, version references and manifests of the registry: validation and the
digest, shared by services and selectors so both read a reference the same way."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from apps.core.errors import DomainError, field_error
from apps.runs.services import clean_file_path

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}")
VERSION_RE = re.compile(r"v(0|[1-9][0-9]{0,8})")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
LATEST = "latest"
MAX_FILES = 100_000
MAX_ALIASES = 32


def clean_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise field_error(
            f"{field} must be 1-128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit.",
            field,
        )
    return value


# Registered models also take inner spaces ("My Registered Model", as W&B's quickstart
# names one); never leading or trailing, never two in a row.
MODEL_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]| (?! )){0,126}(?<! )")


def clean_model_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not MODEL_NAME_RE.fullmatch(value):
        raise field_error(
            f"{field} must be 1-128 letters, digits, '.', '_', '-' or single inner spaces, "
            "starting with a letter or digit.",
            field,
        )
    return value


def clean_type(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", value):
        raise field_error("type must be 1-64 letters, digits, '.', '_' or '-'.", "type")
    return value


def clean_alias(value: Any, field: str = "alias") -> str:
    """A settable alias: a name that is neither `latest` (always the newest version) nor
    shaped like a version label."""
    alias = clean_name(value, field)
    if alias == LATEST:
        raise field_error("'latest' always names the newest version; it cannot be set.", field)
    if VERSION_RE.fullmatch(alias):
        raise field_error(f"'{alias}' is reserved for version labels.", field)
    return alias


def clean_aliases(value: Any) -> list[str]:
    """The `aliases` of a new version or link; `latest` is accepted (it is implied)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ALIASES:
        raise field_error(f"aliases must be a list of at most {MAX_ALIASES} names.", "aliases")
    aliases: list[str] = []
    for item in value:
        if item == LATEST:
            continue
        alias = clean_alias(item, "aliases")
        if alias not in aliases:
            aliases.append(alias)
    return aliases


def clean_ref(value: Any, field: str) -> str:
    """A version reference from a body: `v<N>`, an alias or `latest`."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise field_error(f"{field} must be a version label like 'v2', an alias or latest.", field)
    return value


def version_index(ref: str) -> int | None:
    """The index of a `v<N>` reference, None for an alias."""
    return int(ref[1:]) if VERSION_RE.fullmatch(ref) else None


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int


def clean_manifest(value: Any) -> list[ManifestEntry]:
    if not isinstance(value, list) or len(value) > MAX_FILES:
        raise field_error(f"files must be a list of at most {MAX_FILES} entries.", "files")
    entries: list[ManifestEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        field = f"files[{i}]"
        if not isinstance(item, dict):
            raise field_error(f"{field} must be an object with path, sha256 and size.", field)
        try:
            path = clean_file_path(item.get("path"))
        except DomainError as exc:
            raise field_error(exc.message, f"{field}.path") from None
        sha256 = item.get("sha256")
        if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
            raise field_error("sha256 must be 64 lowercase hex digits.", f"{field}.sha256")
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
            raise field_error("size must be a non-negative integer.", f"{field}.size")
        if path in seen:
            raise field_error(f"Path {path!r} is listed twice.", f"{field}.path")
        seen.add(path)
        entries.append(ManifestEntry(path, sha256, size))
    return entries


def manifest_digest(entries: list[ManifestEntry]) -> str:
    """SHA-256 over `path NUL sha256 NUL size LF` lines sorted by path (the SDK computes
    the same, so a client knows a version's digest before uploading)."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        digest.update(f"{entry.path}\0{entry.sha256}\0{entry.size}\n".encode())
    return digest.hexdigest()
