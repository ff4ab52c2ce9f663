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


# A version's time-to-live (W&B's Artifact.ttl) in whole seconds: positive, at most about
# a century (created_at + ttl must stay a date).
MAX_TTL_SECONDS = 100 * 366 * 86_400


def clean_ttl(value: Any) -> int | None:
    """`ttl_seconds` of a body: a positive integer, or null for "never expires"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TTL_SECONDS:
        raise field_error(
            f"ttl_seconds must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}, "
            "or null (never expires).",
            "ttl_seconds",
        )
    return value


# W&B's rule for artifact version tags: words of letters, digits, '_' or '-', single
# spaces between them.
TAG_RE = re.compile(r"[-\w]+(?: [-\w]+)*")
MAX_TAGS = 32


def clean_tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise field_error(f"tags must be a list of at most {MAX_TAGS} tags.", "tags")
    tags: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > 128 or not TAG_RE.fullmatch(item):
            raise field_error(
                "each tag must be 1-128 letters, digits, '_' or '-', single spaces between words.",
                "tags",
            )
        if item not in tags:
            tags.append(item)
    return tags


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


# W&B's reference schemes (Artifact.add_reference); the server stores them, never fetches.
REFERENCE_SCHEMES = ("file", "http", "https", "s3", "gs")
MAX_URI = 4096
MAX_REFERENCE_DIGEST = 512
MAX_REFERENCE_EXTRA = 4096


@dataclass(frozen=True)
class ReferenceEntry:
    path: str
    uri: str
    digest: str
    size: int | None
    extra: dict


def _printable(value: str) -> bool:
    return value.isprintable()


def _extra_value(value: Any) -> bool:
    """An ETag, a version id, a content type: short strings or plain numbers."""
    if isinstance(value, str):
        return len(value) <= MAX_REFERENCE_EXTRA and _printable(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def clean_references(value: Any, file_paths: set[str]) -> list[ReferenceEntry]:
    """The `references` of a new version: entries pointing outside Gradline, each at a
    path no stored file of the version has."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) + len(file_paths) > MAX_FILES:
        raise field_error(
            f"references must be a list; files and references together at most {MAX_FILES}.",
            "references",
        )
    entries: list[ReferenceEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        field = f"references[{i}]"
        if not isinstance(item, dict):
            raise field_error(f"{field} must be an object with path, ref, digest and size.", field)
        try:
            path = clean_file_path(item.get("path"))
        except DomainError as exc:
            raise field_error(exc.message, f"{field}.path") from None
        if path in seen or path in file_paths:
            raise field_error(f"Path {path!r} is listed twice.", f"{field}.path")
        seen.add(path)
        uri = item.get("ref")
        scheme = uri.partition("://")[0].lower() if isinstance(uri, str) and "://" in uri else ""
        if (
            not isinstance(uri, str)
            or len(uri) > MAX_URI
            or not _printable(uri)
            or scheme not in REFERENCE_SCHEMES
        ):
            raise field_error(
                f"ref must be a URI of at most {MAX_URI} printable characters with scheme "
                + ", ".join(f"{s}://" for s in REFERENCE_SCHEMES)
                + ".",
                f"{field}.ref",
            )
        digest = item.get("digest")
        if (
            not isinstance(digest, str)
            or not digest
            or len(digest) > MAX_REFERENCE_DIGEST
            or not _printable(digest)
        ):
            raise field_error(
                f"digest must be 1-{MAX_REFERENCE_DIGEST} printable characters.",
                f"{field}.digest",
            )
        size = item.get("size")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63
        ):
            raise field_error("size must be a non-negative integer or null.", f"{field}.size")
        extra = item.get("extra") or {}
        if (
            not isinstance(extra, dict)
            or len(extra) > 16
            or not all(isinstance(k, str) and _extra_value(v) for k, v in extra.items())
        ):
            raise field_error(
                "extra must be an object of at most 16 string or number values.",
                f"{field}.extra",
            )
        entries.append(ReferenceEntry(path, uri, digest, size, dict(extra)))
    return entries


def manifest_digest(
    entries: list[ManifestEntry], references: list[ReferenceEntry] | tuple = ()
) -> str:
    """SHA-256 over `path NUL sha256 NUL size LF` lines sorted by path (the SDK computes
    the same, so a client knows a version's digest before uploading). A reference adds
    `path NUL "ref" NUL uri NUL digest NUL size LF`; without references the digest is
    what it always was."""
    lines = [(e.path, f"{e.path}\0{e.sha256}\0{e.size}\n") for e in entries]
    lines += [
        (r.path, f"{r.path}\0ref\0{r.uri}\0{r.digest}\0{'' if r.size is None else r.size}\n")
        for r in references
    ]
    digest = hashlib.sha256()
    for _path, line in sorted(lines):
        digest.update(line.encode())
    return digest.hexdigest()
