"""The two wire formats of an ingest request, decoded into a validated `Batch`.

- JSON (application/json): an object with "points" and "system" as
  [key, step, value, wall_time] lists, plus "console", "console_offset", "summary",
  "config" and "heartbeat"; parsed by apps.runs.bodies.json_object (held to the JSON
  limits) and checked by validation.validate.
- Binary (application/x-gradline-batch, docs/api.md "Binary batches"): a JSON header and
  four little-endian arrays, read here with numpy without copying; structural damage
  (prefix, version, header, lengths) refuses the request, the records go to
  validation.binary_columns.

Either may be gzip-compressed (Content-Encoding); `decode_request` inflates, picks the
format by Content-Type and returns the Batch.
"""

from __future__ import annotations

import struct

import numpy as np

from apps.core import jsonlimits
from apps.core.errors import DomainError
from apps.runs.bodies import TooLarge, inflate, json_object
from apps.runs.ingest.contract import MAX_POINTS, Batch
from apps.runs.ingest.validation import binary_columns, validate, validate_other_parts

# Content-Type: application/x-gradline-batch (docs/api.md, "Binary batches"):
#   magic   4 bytes  b"GLB1" (the 1 is the format version)
#   hlen    uint32 LE, length of the header
#   header  hlen bytes of UTF-8 JSON: {"keys": [names], "n_points": N, "n_system": M,
#           and optionally "summary", "config", "console", "console_offset", "heartbeat"}
#   then, for T = N + M records (the N points first, then the M system samples),
#   four little-endian arrays: step int64[T], value float64[T], wall_time float64[T],
#   key uint32[T] (an index into "keys").
# The 8-byte arrays come first so that they stay aligned when 8 + hlen is a multiple of
# 8 (writers pad the header with spaces); readers accept any alignment.

BATCH_CONTENT_TYPE = "application/x-gradline-batch"
BATCH_MAGIC = b"GLB1"
BATCH_PREFIX = struct.Struct("<4sI")
BATCH_RECORD_BYTES = 8 + 8 + 8 + 4
_BINARY_ONLY = ("keys", "n_points", "n_system")


def is_binary(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == BATCH_CONTENT_TYPE


def decode_request(raw: bytes, content_encoding: str = "", content_type: str = "") -> Batch:
    """An ingest request body (JSON or binary, gzip allowed) -> a validated Batch."""
    data = inflate(raw, content_encoding)
    if is_binary(content_type):
        return validate_binary(data)
    return validate(json_object(data))


def _binary_error(message: str, status: int = 400) -> DomainError:
    return DomainError(message, code="invalid_batch", status=status)


def validate_binary(data: bytes) -> Batch:
    """Check a binary batch with whole-array operations: no Python object per point.
    Structural damage (lengths, header) refuses the request; bad records are rejected
    one by one with the same reasons and (part, index) as in the JSON format."""
    if len(data) < BATCH_PREFIX.size:
        raise _binary_error("Binary batch is shorter than its 8-byte prefix.")
    magic, hlen = BATCH_PREFIX.unpack_from(data)
    if magic != BATCH_MAGIC:
        if magic[:3] == BATCH_MAGIC[:3]:  # a newer version: the client falls back to JSON
            raise _binary_error(f"Unsupported binary batch version {magic!r}.", status=415)
        raise _binary_error("Binary batch must start with b'GLB1'.")
    start = BATCH_PREFIX.size + hlen
    if start > len(data):
        raise _binary_error("Binary batch header is longer than the body.")
    try:
        header = jsonlimits.loads(data[BATCH_PREFIX.size : start])
    except DomainError as exc:
        raise _binary_error(f"Binary batch header: {exc.message}") from exc
    if not isinstance(header, dict):
        raise _binary_error("Binary batch header must be a JSON object.")
    keys, n_points, n_system = (header.get(name) for name in _BINARY_ONLY)
    if not isinstance(keys, list):
        raise _binary_error('Binary batch header needs "keys": a list of key names.')
    for name, count in (("n_points", n_points), ("n_system", n_system)):
        if type(count) is not int or count < 0:
            raise _binary_error(f'Binary batch header needs "{name}": an integer >= 0.')
    if "points" in header or "system" in header:
        raise _binary_error('A binary batch carries points in its arrays, not in "points".')
    total = n_points + n_system
    if total > MAX_POINTS:
        raise TooLarge(
            f"At most {MAX_POINTS} points (points + system) per batch; got {total}.",
            code="too_many_points",
            detail={"limit": MAX_POINTS, "got": total},
        )
    if len(data) - start != total * BATCH_RECORD_BYTES:
        raise _binary_error(
            f"Binary batch body holds {len(data) - start} bytes after the header; "
            f"{total} records need {total * BATCH_RECORD_BYTES}."
        )
    batch = Batch()
    if total:
        step = np.frombuffer(data, "<i8", total, start)
        value = np.frombuffer(data, "<f8", total, start + 8 * total)
        wall = np.frombuffer(data, "<f8", total, start + 16 * total)
        kidx = np.frombuffer(data, "<u4", total, start + 24 * total)
        binary_columns(step, value, wall, kidx, n_points, keys, batch)
    validate_other_parts(header, batch)
    return batch
