"""Limits on the JSON clients send and on the JSON documents the API stores for them.

Two functions carry every guarantee, and every write path goes through them:

- `loads` parses every JSON request body of the API (the run, sweep and registry body
  reader `apps.runs.bodies.json_object`, the binary ingest header, and the DRF parser
  `apps.api.parsers.JSONParser` for the rest). It answers 400 on bad JSON and on
  nesting beyond orjson's parser limit (1024) instead of a RecursionError, and keeps
  integers beyond 64 bits exact, so that they can be refused instead of silently
  becoming floats.
- `check` / `problem` vet one user JSON document before it is stored (run config,
  summary, git, metadata, args, tags and strings of runs; ingest summary and config
  entries; artifact metadata; sweep configs): nested at most
  `settings.USER_JSON_MAX_DEPTH` containers deep, encoded in at most
  `settings.USER_JSON_MAX_BYTES` bytes, no NUL character (PostgreSQL text and jsonb
  cannot hold it), integers within 64 bits. The problem names the field (a dotted path
  below the field the caller passes).

Reads never fail on what is already stored: `encodable` turns any document (rows from
before these limits, or written around the API) into one orjson can write, replacing
subtrees nested too deeply with a marker string (`apps.api.responses.json_response`
falls back to it).

Not guaranteed: the size of documents merged from many writes (a run's config after a
thousand PATCHes of new keys) is bounded only per write.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings

from apps.core.errors import DomainError, field_error

# The integers orjson (and therefore every response) reads and writes exactly. Beyond
# them a number is not refused by JSON itself, but every reader we answer — orjson,
# browsers (2^53 already), pandas — would change it, and PostgreSQL jsonb cannot tell
# the integer 10^20 from the float 1e20, so it could not come back as sent. W&B's own
# backend keeps summaries as 64-bit numbers too; a refusal naming the field lets the
# user send the value as a float or a string instead of finding it altered later.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1

# orjson writes at most 254 levels; a response adds a few levels above stored documents.
ENCODABLE_DEPTH = 200
TRUNCATED = "[truncated: nested too deeply]"

NUL = "\x00"
ESCAPED_NUL = "\\u0000"

# bytes.translate table mapping every digit to "0": a run of 19 zeros then means an
# integer literal that may lie beyond 64 bits (a C-speed scan, ~1 ms per MB).
_DIGITS_AS_ZERO = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
_LONG_DIGIT_RUN = b"0" * 19


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    """The JSON value of a request body; DomainError (400, code invalid_json) if it is not
    JSON or is nested deeper than 1024 levels. Integers outside orjson's 64-bit range
    come back as exact Python ints (orjson would make them floats)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DomainError(f"Body is not valid JSON: {exc}", code="invalid_json") from exc
    encoded = raw.encode() if isinstance(raw, str) else raw
    if _LONG_DIGIT_RUN not in encoded.translate(_DIGITS_AS_ZERO):
        return data
    # Rare: a 19+ digit run (a long integer, or digits inside a string). orjson accepted
    # the body, so Python's parser reads the same document, with exact integers.
    try:
        return json.loads(encoded, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise DomainError(f"Body is not valid JSON: {exc}", code="invalid_json") from exc


def problem(value: Any, field: str, *, depth: int = 0) -> tuple[str, str] | None:
    """(where, message) for the first limit `value` breaks, stored as `field`; None if
    it may be stored. `where` is the field, or a dotted path below it. `depth`: how many
    containers already hold `value` in the stored document (1 for an entry of it)."""
    found = _walk(value, field, depth, settings.USER_JSON_MAX_DEPTH, field)
    if found:
        return found
    max_bytes = settings.USER_JSON_MAX_BYTES
    if isinstance(value, dict | list) and len(orjson.dumps(value)) > max_bytes:
        return field, f"{field} must encode to at most {max_bytes} bytes of JSON."
    if isinstance(value, str) and len(value) > max_bytes:
        return field, f"{field} must be at most {max_bytes} characters."
    return None


def check(value: Any, field: str) -> None:
    """Raise a 400 if `value` may not be stored as `field` (see problem): `detail.field`
    is `field`, the message names the place inside it."""
    found = problem(value, field)
    if found:
        raise field_error(found[1], field)


def _walk(value: Any, path: str, depth: int, max_depth: int, field: str):
    if isinstance(value, str):
        if NUL in value:
            return path, f"{path} must not contain NUL characters (\\u0000)."
        return None
    if type(value) is int:  # not bool
        if not MIN_INT <= value <= MAX_INT:
            return path, (
                f"{path} is an integer beyond 64 bits, which JSON readers would change; "
                "send it as a float or a string."
            )
        return None
    if isinstance(value, dict | list):
        depth += 1
        if depth > max_depth:  # named by the field, not a path hundreds of segments long
            return field, f"{field} is nested deeper than {max_depth} levels."
        if isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:
                    where = f"{path}.{key.replace(NUL, ESCAPED_NUL)}"
                    return where, f"{where} must not contain NUL characters (\\u0000)."
                found = _walk(item, f"{path}.{key}", depth, max_depth, field)
                if found:
                    return found
        else:
            for i, item in enumerate(value):
                found = _walk(item, f"{path}[{i}]", depth, max_depth, field)
                if found:
                    return found
    return None


def encodable(value: Any, depth: int = 0) -> Any:
    """A copy of `value` that orjson can write: containers nested deeper than
    ENCODABLE_DEPTH become the TRUNCATED marker, integers beyond 64 bits become floats
    (as stored run documents read back). For answering rows stored before the limits."""
    if isinstance(value, dict | list | tuple):
        if depth >= ENCODABLE_DEPTH:
            return TRUNCATED
        if isinstance(value, dict):
            return {key: encodable(item, depth + 1) for key, item in value.items()}
        return [encodable(item, depth + 1) for item in value]
    if type(value) is int and not MIN_INT <= value <= MAX_INT:
        try:
            return float(value)
        except OverflowError:
            return str(value)
    return value
