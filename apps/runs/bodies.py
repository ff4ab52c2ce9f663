"""Request bodies of the run-tracking, sweep and registry APIs: content encodings and
JSON objects. (What may be stored of them is checked by apps.core.jsonlimits.check.)

Every run route that reads a body goes through `inflate`: gzip (or zlib "deflate")
bodies are accepted on all of them (the API contract), and inflated with a hard bound —
the limit plain bodies have — so a small compressed body cannot expand into gigabytes
(a "gzip bomb" answers 413 after reading at most limit + 1 bytes).
"""

from __future__ import annotations

import zlib

from django.conf import settings
from django.http.request import RawPostDataException

from apps.core import jsonlimits
from apps.core.errors import DomainError, TooLarge


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
    """A JSON object body (empty body: {}); 400 naming the problem otherwise. Parsed by
    apps.core.jsonlimits.loads, like every JSON body of the API."""
    if not raw:
        return {}
    data = jsonlimits.loads(raw)
    if not isinstance(data, dict):
        raise DomainError("Body must be a JSON object.", code="invalid_json")
    return data


def request_json(request) -> dict:
    """The JSON object body of a run API request, gzip allowed."""
    try:
        raw = request.body
    except RawPostDataException:
        # A browser's POST (session authentication): DRF's CSRF check read request.POST,
        # which on a DRF Request parses the stream through the API's JSON parser
        # (apps.api.parsers, the same jsonlimits.loads); the raw bytes are gone by now.
        data = request.data
        if not data:
            return {}
        if not isinstance(data, dict):
            raise DomainError("Body must be a JSON object.", code="invalid_json") from None
        return data
    return json_object(inflate(raw, request.headers.get("Content-Encoding")))
