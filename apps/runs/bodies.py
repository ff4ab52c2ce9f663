"""Request bodies of the run-tracking API: content encodings and JSON objects.

Every run route that reads a body goes through `inflate`: gzip (or zlib "deflate")
bodies are accepted on all of them (the API contract), and inflated with a hard bound —
the limit plain bodies have — so a small compressed body cannot expand into gigabytes
(a "gzip bomb" answers 413 after reading at most limit + 1 bytes).
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from django.conf import settings

from apps.core.errors import DomainError, TooLarge

NUL = "\x00"
ESCAPED_NUL = "\\u0000"


def inflate(raw: bytes, content_encoding: str | None = "") -> bytes:
    """The body's bytes with its Content-Encoding undone; 400/413/415 on bad input."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise DomainError(
            f"Unsupported Content-Encoding {content_encoding!r}; use gzip or none.",
            code="unsupported_encoding",
            status=415,
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise DomainError(f"Body is not valid {encoding} data.", code="invalid_encoding") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"Decompressed body exceeds {limit} bytes.", detail={"limit_bytes": limit})
    if raw and not inflater.eof:
        raise DomainError(f"Body is truncated {encoding} data.", code="invalid_encoding")
    return out


def json_object(raw: bytes) -> dict:
    """A JSON object body (empty body: {}); 400 naming the problem otherwise."""
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DomainError(f"Body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise DomainError("Body must be a JSON object.", code="invalid_json")
    return data


def request_json(request) -> dict:
    """The JSON object body of a run API request, gzip allowed."""
    return json_object(inflate(request.body, request.headers.get("Content-Encoding")))


def nul_path(value: Any, path: str) -> str | None:
    """Where `value` holds a NUL character (in a string, or a key of an object), as a
    dotted path below `path`; None if nowhere. PostgreSQL text and jsonb cannot store
    NUL, so such input is refused up front (400 naming it) instead of failing in SQL."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        # orjson writes NUL as \u0000: one C-level pass clears the common case.
        if b"\\u0000" not in orjson.dumps(value):
            return None
        for key, item in value.items():
            if "\x00" in key:
                return f"{path}.{key.replace(NUL, ESCAPED_NUL)}"
            found = nul_path(item, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}[{i}]")
            if found:
                return found
    return None
