"""The ingest hot path (DESIGN.md §4): parse, validate and store one batch of a run.

Two body formats carry the same batch: JSON ([key, step, value, wall_time] lists) and
the binary columnar format (`validate_binary`), which is checked with whole-array
operations and builds no Python object per point. Both end as the same `Batch`.

Guarantees:
- Exactly once per (run, key, step): the primary key of runs_point makes a second copy
  impossible; a re-sent batch reports its points as duplicates, a different value for a
  stored (key, step) is rejected as "conflict" and never overwrites it.
- The counts are exact, also with concurrent writers: every writer of a run's points
  takes the run's row lock (`FOR NO KEY UPDATE`) before touching points, rollups or key
  summaries, so classification, rollups and summaries see a stable run. Writers of
  different runs never wait for each other.
- Invalid records are rejected one by one with a reason naming the field; the valid
  records of the same batch are stored.

How points are written, under that lock:
- a point above its key's high-water step (the common, append-only case) cannot exist
  yet: such points are COPYed (binary) straight into runs_point;
- the others (retries, re-syncs, out-of-order steps) go through a staging table: COPY
  into a temporary table, INSERT … ON CONFLICT DO NOTHING RETURNING, and a join against
  the stored values separates duplicates from conflicts.
Rollups and per-key summaries are then merged from the points actually inserted.

Only this module writes runs_point / runs_rollup (with apps/runs/selectors reading them),
so a move to Citus or TimescaleDB stays inside these two places.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction

from apps.core import jsonlimits
from apps.core.errors import DomainError, NotFound, field_error
from apps.runs import rollups
from apps.runs.bodies import TooLarge, inflate, json_object
from apps.runs.models import Run

logger = logging.getLogger(__name__)

MAX_POINTS = 100_000
MAX_STEP = 2**53 - 1  # exact in a float64, so browsers and pandas read steps exactly
MAX_KEY_LENGTH = 256
MAX_CONSOLE_LINES = 100_000
MAX_CONSOLE_LINE_CHARS = 64 * 1024
MAX_CONSOLE_LINE_NUMBER = 2**63 - 1  # runs_consoleline.line and runs_run.console_next: bigint
MAX_ERRORS_LISTED = 1000
RESERVED_KEYS = frozenset({"_step", "_runtime", "_timestamp"})
SYSTEM_PREFIX = "system/"
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
PARTS = ("points", "system")

_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
_PG_TRAILER = b"\xff\xff"


# --------------------------------------------------------------------------- parsing


@dataclass
class Batch:
    """A validated batch: metric columns (points then system) plus the other parts."""

    names: list[str] = field(default_factory=list)  # distinct keys; kidx indexes this list
    kidx: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    step: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    value: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    wall: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    # Where each valid record came from, to report conflicts by (part, index).
    part: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    console: list[tuple[str, float, str]] = field(default_factory=list)
    console_index: list[int] = field(default_factory=list)
    console_offset: int | None = None
    summary: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    heartbeat: bool = False
    errors: list[dict] = field(default_factory=list)
    rejected: int = 0

    def reject(self, part: str, index: int | None, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append({"index": index, "part": part, "reason": reason})


def _key_error(key: Any, system: bool) -> str | None:
    if type(key) is not str:
        return "key: must be a string"
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"key: must be 1-{MAX_KEY_LENGTH} characters"
    if key in RESERVED_KEYS:
        return f"key: {key!r} is reserved"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        return "key: must not contain control characters"
    if system != key.startswith(SYSTEM_PREFIX):
        return (
            "key: system metrics must start with 'system/'"
            if system
            else "key: the 'system/' prefix is reserved for system metrics"
        )
    return None


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            return None
    if kind is str:
        return NONFINITE.get(value)
    return None


def _record_error(rec: Any, system: bool) -> str | None:
    if type(rec) is not list or len(rec) != 4:
        return "record: must be [key, step, value, wall_time]"
    key, step, value, wall = rec
    reason = _key_error(key, system)
    if reason:
        return reason
    if type(step) is not int or not 0 <= step <= MAX_STEP:
        return f"step: must be an integer from 0 to {MAX_STEP}"
    if _number(value) is None:
        return 'value: must be a number or "NaN", "Infinity", "-Infinity"'
    w = _number(wall) if type(wall) is not str else None
    if w is None or not math.isfinite(w) or w < 0:
        return "wall_time: must be a finite number of Unix seconds"
    return None


def _columns_fast(records: list, system: bool):
    """Vectorised validation; None when anything is off (the slow path then reports)."""
    if set(map(type, records)) != {list}:
        return None
    try:  # strict: every record has the same length, and unpacking checks it is 4
        keys, steps, values, walls = zip(*records, strict=True)
    except ValueError:
        return None
    try:  # _key_error also checks the type of each distinct key
        distinct = set(keys)
    except TypeError:  # unhashable keys (lists, objects)
        return None
    if any(_key_error(k, system) for k in distinct):
        return None
    if set(map(type, steps)) != {int}:
        return None
    value_types = set(map(type, values))
    if not value_types <= {float, int, str}:
        return None
    if str in value_types:
        values = [NONFINITE.get(v, v) if type(v) is str else v for v in values]
        if str in set(map(type, values)):
            return None
    if not set(map(type, walls)) <= {float, int}:
        return None
    n = len(records)
    try:  # OverflowError: an int beyond int64 (step) or float range (value, wall_time)
        step_arr = np.fromiter(steps, np.int64, n)
        value_arr = np.fromiter(values, np.float64, n)
        wall_arr = np.fromiter(walls, np.float64, n)
    except OverflowError:
        return None
    if step_arr.min() < 0 or step_arr.max() > MAX_STEP:
        return None
    if not np.isfinite(wall_arr).all() or wall_arr.min() < 0:
        return None
    return keys, step_arr, value_arr, wall_arr, np.arange(n, dtype=np.int64)


def _columns_slow(records: list, system: bool, part: str, batch: Batch):
    keys, steps, values, walls, index = [], [], [], [], []
    for i, rec in enumerate(records):
        reason = _record_error(rec, system)
        if reason:
            batch.reject(part, i, reason)
            continue
        keys.append(rec[0])
        steps.append(rec[1])
        values.append(_number(rec[2]))
        walls.append(float(rec[3]))
        index.append(i)
    return (
        keys,
        np.array(steps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.array(walls, dtype=np.float64),
        np.array(index, dtype=np.int64),
    )


def _validate_console(records: Any, batch: Batch) -> None:
    if records is None:
        return
    if not isinstance(records, list):
        batch.reject("console", None, "console: must be a list of [stream, wall_time, line]")
        return
    if len(records) > MAX_CONSOLE_LINES:
        raise TooLarge(
            f"At most {MAX_CONSOLE_LINES} console lines per batch.", code="too_many_lines"
        )
    for i, rec in enumerate(records):
        if type(rec) is not list or len(rec) != 3:
            batch.reject("console", i, "record: must be [stream, wall_time, line]")
            continue
        stream, wall, line = rec
        if stream not in ("stdout", "stderr"):
            batch.reject("console", i, 'stream: must be "stdout" or "stderr"')
            continue
        w = _number(wall) if type(wall) is not str else None
        if w is None or not math.isfinite(w) or w < 0:
            batch.reject("console", i, "wall_time: must be a finite number of Unix seconds")
            continue
        if type(line) is not str:
            batch.reject("console", i, "line: must be a string")
            continue
        # PostgreSQL text cannot hold NUL; very long lines are cut, not dropped.
        line = line[:MAX_CONSOLE_LINE_CHARS].replace("\x00", "\ufffd")
        batch.console.append((stream, w, line))
        batch.console_index.append(i)


def _validate_object(body: dict, part: str, batch: Batch) -> dict:
    """The entries of `summary` / `config` that may be stored; each other one is
    rejected naming it (apps.core.jsonlimits: NUL, nesting depth, integer range, size)."""
    value = body.get(part)
    if value is None:
        return {}
    if not isinstance(value, dict):
        batch.reject(part, None, f"{part}: must be a JSON object")
        return {}
    good = {}
    for key, item in value.items():
        if not key or len(key) > MAX_KEY_LENGTH:
            batch.reject(part, None, f"{part}: key {key[:40]!r} must be 1-256 characters")
            continue
        if "\x00" in key:  # jsonb cannot hold NUL
            escaped = key.replace("\x00", "\\u0000")
            batch.reject(part, None, f"{part}.{escaped}: must not contain NUL characters")
            continue
        found = jsonlimits.problem(item, f"{part}.{key}", depth=1)
        if found:
            batch.reject(part, None, found[1])
            continue
        good[key] = item
    found = jsonlimits.problem(good, part)  # the entries together (their encoded size)
    if found:
        batch.reject(part, None, found[1])
        return {}
    return good


def validate(body: dict) -> Batch:
    """Check every record; valid ones become numpy columns, bad ones errors with reasons."""
    batch = Batch()
    total = 0
    for part in PARTS:
        records = body.get(part)
        if isinstance(records, list):
            total += len(records)
    if total > MAX_POINTS:
        raise TooLarge(
            f"At most {MAX_POINTS} points (points + system) per batch; got {total}.",
            code="too_many_points",
            detail={"limit": MAX_POINTS, "got": total},
        )
    names: dict[str, int] = {}
    kidx_parts, step_parts, value_parts, wall_parts, part_parts, index_parts = (
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for part_no, part in enumerate(PARTS):
        records = body.get(part)
        if records is None:
            continue
        if not isinstance(records, list):
            batch.reject(part, None, f"{part}: must be a list of [key, step, value, wall_time]")
            continue
        if not records:
            continue
        system = part == "system"
        columns = _columns_fast(records, system)
        if columns is None:
            columns = _columns_slow(records, system, part, batch)
        keys, steps, values, walls, index = columns
        if not len(index):
            continue
        setdefault = names.setdefault
        for key in set(keys):
            setdefault(key, len(names))
        kidx_parts.append(np.fromiter(map(names.__getitem__, keys), np.int64, len(keys)))
        step_parts.append(steps)
        value_parts.append(values)
        wall_parts.append(walls)
        part_parts.append(np.full(len(index), part_no, dtype=np.int8))
        index_parts.append(index)
    if kidx_parts:
        batch.names = list(names)
        batch.kidx = np.concatenate(kidx_parts)
        batch.step = np.concatenate(step_parts)
        batch.value = np.concatenate(value_parts)
        batch.wall = np.concatenate(wall_parts)
        batch.part = np.concatenate(part_parts)
        batch.index = np.concatenate(index_parts)
    _validate_other_parts(body, batch)
    return batch


def _validate_other_parts(body: dict, batch: Batch) -> None:
    """console, console_offset, summary, config, heartbeat (the same in both formats)."""
    _validate_console(body.get("console"), batch)
    offset = body.get("console_offset")
    if offset is not None:
        # Lines are numbered from the offset, and the run's console_next (one past the
        # last line) is a bigint too: it must fit.
        last = MAX_CONSOLE_LINE_NUMBER - len(batch.console)
        if type(offset) is not int or not 0 <= offset <= last:
            batch.reject("console", None, f"console_offset: must be an integer from 0 to {last}")
            batch.console, batch.console_index = [], []
        else:
            batch.console_offset = offset
    batch.summary = _validate_object(body, "summary", batch)
    batch.config = _validate_object(body, "config", batch)
    heartbeat = body.get("heartbeat", False)
    if type(heartbeat) is not bool:  # a request-level flag, not a record: the batch is refused
        raise field_error("heartbeat must be true or false.", "heartbeat")
    batch.heartbeat = heartbeat


# ------------------------------------------------------------------ the binary format
#
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
# Reason codes of the vectorised checks, in the order the JSON path checks fields.
_OK, _BAD_KEY_INDEX, _BAD_KEY_NAME, _BAD_STEP, _BAD_WALL = 0, 1, 2, 3, 4
_REASONS = {
    _BAD_KEY_INDEX: "key: index out of range of the header's keys",
    _BAD_STEP: f"step: must be an integer from 0 to {MAX_STEP}",
    _BAD_WALL: "wall_time: must be a finite number of Unix seconds",
}


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
        _binary_columns(data, start, total, n_points, keys, batch)
    _validate_other_parts(header, batch)
    return batch


def _binary_columns(data: bytes, start: int, total: int, n_points: int, keys: list, batch):
    step = np.frombuffer(data, "<i8", total, start)
    value = np.frombuffer(data, "<f8", total, start + 8 * total)
    wall = np.frombuffer(data, "<f8", total, start + 16 * total)
    kidx = np.frombuffer(data, "<u4", total, start + 24 * total)
    system = np.zeros(total, dtype=bool)
    system[n_points:] = True
    # Each key name used is checked once per part it is used in (system keys must start
    # with "system/", others must not); `pos` is a record's position in `used`.
    in_range = kidx < len(keys)
    used = np.unique(kidx[in_range])
    pos = np.searchsorted(used, np.where(in_range, kidx, 0))
    names: dict[str, int] = {}
    lut = np.full(len(used), -1, dtype=np.int64)  # position in `used` -> index in names
    key_errors: dict[tuple[int, int], str] = {}
    bad_key = np.zeros((len(used), 2), dtype=bool)  # [position, is_system]
    for i, k in enumerate(used.tolist()):
        name = keys[k]
        for is_system in (0, 1):
            message = _key_error(name, bool(is_system))
            if message:
                key_errors[(i, is_system)] = message
                bad_key[i, is_system] = True
        if not bad_key[i].all():
            lut[i] = names.setdefault(name, len(names))
    # Later assignments win: the order is the JSON path's (key, step, value, wall_time).
    reason = np.zeros(total, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        reason[~(wall >= 0) | ~np.isfinite(wall)] = _BAD_WALL
    reason[(step < 0) | (step > MAX_STEP)] = _BAD_STEP
    if key_errors:
        reason[in_range & bad_key[pos, system.astype(np.intp)]] = _BAD_KEY_NAME
    reason[~in_range] = _BAD_KEY_INDEX
    index = np.arange(total, dtype=np.int64)
    index[n_points:] -= n_points
    part = system.astype(np.int8)
    valid = reason == _OK
    if not valid.all():
        bad = np.flatnonzero(~valid)
        batch.rejected += len(bad)
        for j in bad[:MAX_ERRORS_LISTED].tolist():
            code = int(reason[j])
            if code == _BAD_KEY_NAME:
                message = key_errors[(int(pos[j]), int(system[j]))]
            else:
                message = _REASONS[code]
            if len(batch.errors) < MAX_ERRORS_LISTED:
                batch.errors.append(
                    {"index": int(index[j]), "part": PARTS[part[j]], "reason": message}
                )
        step, value, wall, pos, part, index = (
            a[valid] for a in (step, value, wall, pos, part, index)
        )
    batch.names = list(names)
    batch.kidx = lut[pos]
    batch.step, batch.value, batch.wall = step, value, wall
    batch.part, batch.index = part, index


# --------------------------------------------------------------------------- writing


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    errors: list[dict] = field(default_factory=list)
    console_accepted: int = 0
    console_duplicates: int = 0
    # For the live event: highest stored step per key touched, and new summary values.
    steps: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    state: str = ""

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted + self.console_accepted,
            "duplicates": self.duplicates + self.console_duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
            "conflicts": self.conflicts,
            "metrics": {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "conflicts": self.conflicts,
            },
            "console": {"accepted": self.console_accepted, "duplicates": self.console_duplicates},
        }


_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class _Retry(Exception):
    """The optimistic direct COPY met an existing row: redo the batch through staging."""


def json_number(value: float, integral: bool) -> int | float | str:
    """A stored value for JSON: an int for a key whose values are all whole numbers
    (MetricKey.integral), else json_safe."""
    if integral and math.isfinite(value):
        return int(value)
    return json_safe(value)


# Whole numbers up to 2^53 are exact in float64; beyond, "integral" says nothing.
_EXACT_INT = float(2**53)


def _integral_per_key(kidx: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Per run of equal keys in `kidx` (sorted, as group_stats groups them): whether every
    finite value is a whole number. NaN and ±Inf say nothing either way."""
    brk = np.empty(len(kidx), dtype=bool)
    brk[0] = True
    np.not_equal(kidx[1:], kidx[:-1], out=brk[1:])
    with np.errstate(invalid="ignore"):
        whole = ~np.isfinite(value) | ((np.trunc(value) == value) & (np.abs(value) <= _EXACT_INT))
    return np.logical_and.reduceat(whole, np.flatnonzero(brk))


def json_safe(value: float) -> float | str:
    """A float for JSON: non-finite values become the strings of the wire contract."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _copy_binary(cur, table: str, columns: str, records: np.ndarray) -> None:
    payload = _PG_HEADER + records.tobytes() + _PG_TRAILER
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


def _binary_rows(fields: list[tuple[str, str, np.ndarray | int]]) -> np.ndarray:
    """A numpy record array laid out as PostgreSQL binary COPY tuples (no NULLs)."""
    n = next(len(v) for _, _, v in fields if isinstance(v, np.ndarray))
    dtype = [("nfields", ">i2")]
    for name, kind, _ in fields:
        dtype += [(f"len_{name}", ">i4"), (name, kind)]
    rows = np.empty(n, dtype=dtype)
    rows["nfields"] = len(fields)
    for name, kind, values in fields:
        rows[f"len_{name}"] = np.dtype(kind).itemsize
        rows[name] = values
    return rows


def _nullable(values: np.ndarray) -> list:
    return [None if math.isnan(v) else v for v in values.tolist()]


def write_batch(run: Run, batch: Batch) -> IngestResult:
    """Store a validated batch for `run` (already resolved through a team-scoped query)."""
    force_staging = False
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _write(run, batch, force_staging=force_staging)
        except _Retry:
            force_staging = True
        except (OperationalError, *_RETRYABLE) as exc:
            # Should two transactions still deadlock (e.g. on project keys), PostgreSQL
            # aborts one of them and that batch is simply redone.
            cause = exc if isinstance(exc, _RETRYABLE) else exc.__cause__
            if not isinstance(cause, _RETRYABLE) or attempt == 2:
                raise
    raise RuntimeError("unreachable")  # pragma: no cover


def _write(run: Run, batch: Batch, *, force_staging: bool) -> IngestResult:
    result = IngestResult(rejected=batch.rejected, errors=list(batch.errors))
    with connection.cursor() as wrapper:
        cur = wrapper.cursor  # the psycopg cursor: COPY and array parameters
        # Waiting longer than this for the run lock answers 503 + Retry-After (the API
        # view maps LockNotAvailable), so a stuck writer never hangs its peers.
        cur.execute(f"SET LOCAL lock_timeout = '{int(settings.INGEST_LOCK_TIMEOUT_MS)}ms'")
        cur.execute(
            "SELECT state, summary_overrides, console_next FROM runs_run "
            "WHERE id = %s FOR NO KEY UPDATE",
            (run.id,),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound("Run not found.")
        state, overrides, console_next = row
        overrides = overrides if isinstance(overrides, dict) else orjson.loads(overrides or "{}")
        touched: dict[str, tuple[float, int, bool]] = {}
        if len(batch.kidx):
            touched = _write_points(cur, run, batch, result, force_staging=force_staging)
        if batch.console:
            _write_console(cur, run, batch, result, console_next)
        result.state = _update_run(cur, run, batch, state, overrides, touched, result)
    return result


def _ensure_keys(cur, run: Run, names: list[str]) -> dict[str, tuple[int, int]]:
    """name -> (key id, high-water step or -1) for every name, creating missing keys."""
    cur.execute(
        "SELECT name, id, coalesce(max_step, -1) FROM runs_metrickey "
        "WHERE run_id = %s AND name = ANY(%s)",
        (run.id, names),
    )
    found = {name: (key_id, hw) for name, key_id, hw in cur.fetchall()}
    missing = sorted(set(names) - found.keys())
    if missing:
        cur.execute(
            "INSERT INTO runs_metrickey (team_id, run_id, name, count, nan_count, sum) "
            "SELECT %s, %s, n, 0, 0, 0 FROM unnest(%s::text[]) AS n "
            "ON CONFLICT (run_id, name) DO NOTHING RETURNING name, id",
            (run.team_id, run.id, missing),
        )
        for name, key_id in cur.fetchall():
            found[name] = (key_id, -1)
        lost = [name for name in missing if name not in found]
        if lost:  # created meanwhile by another writer (none should, under the run lock)
            cur.execute(
                "SELECT name, id, coalesce(max_step, -1) FROM runs_metrickey "
                "WHERE run_id = %s AND name = ANY(%s)",
                (run.id, lost),
            )
            found.update({name: (key_id, hw) for name, key_id, hw in cur.fetchall()})
        # Sorted, so concurrent first uses of the same keys lock them in the same order.
        cur.execute(
            "INSERT INTO runs_projectmetrickey (team_id, project_id, name, created_at) "
            "SELECT %s, %s, n, now() FROM unnest(%s::text[]) AS n ORDER BY n "
            "ON CONFLICT (project_id, name) DO NOTHING",
            (run.team_id, run.project_id, missing),
        )
    return found


def _write_points(cur, run: Run, batch: Batch, result: IngestResult, *, force_staging: bool):
    keys = _ensure_keys(cur, run, batch.names)
    key_ids = np.array([keys[name][0] for name in batch.names], dtype=np.int64)
    high_water = np.array([keys[name][1] for name in batch.names], dtype=np.int64)

    # Sort by (key, step, arrival): the first arrival of a (key, step) is the one stored.
    order = np.lexsort((np.arange(len(batch.kidx)), batch.step, batch.kidx))
    kidx = batch.kidx[order]
    step = batch.step[order]
    value = batch.value[order]
    wall = batch.wall[order]
    n = len(kidx)
    first = np.ones(n, dtype=bool)
    first[1:] = (kidx[1:] != kidx[:-1]) | (step[1:] != step[:-1])
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    above = np.zeros(n, dtype=bool) if force_staging else step > high_water[kidx]

    inserted = above & first
    conflict = np.zeros(n, dtype=bool)
    # Repeats of a new (key, step) within the batch: compare with its first arrival.
    repeat = above & ~first
    if repeat.any():
        ref = value[group_start[repeat]]
        mine = value[repeat]
        same = (mine == ref) | (np.isnan(mine) & np.isnan(ref))
        conflict[np.flatnonzero(repeat)[~same]] = True

    if inserted.any():
        rows = _binary_rows(
            [
                ("run_id", ">i8", run.id),
                ("key_id", ">i8", key_ids[kidx[inserted]]),
                ("step", ">i8", step[inserted]),
                ("value", ">f8", value[inserted]),
                ("wall_time", ">f8", wall[inserted]),
            ]
        )
        try:
            _copy_binary(cur, "runs_point", "run_id, key_id, step, value, wall_time", rows)
        except psycopg.errors.UniqueViolation as exc:
            # Impossible while every writer holds the run lock; stay correct regardless.
            logger.warning("direct COPY hit an existing point of run %s; restaging", run.id)
            raise _Retry from exc

    staged = ~above
    if staged.any():
        _stage_points(cur, run, key_ids, kidx, step, value, wall, first, staged, inserted, conflict)

    # Report conflicts with the index the client sent; the rest not inserted are duplicates.
    result.conflicts = int(conflict.sum())
    result.accepted = int(inserted.sum())
    result.duplicates = n - result.accepted - result.conflicts
    result.rejected += result.conflicts
    if result.conflicts:
        part = batch.part[order][conflict]
        index = batch.index[order][conflict]
        for p, i in zip(part.tolist(), index.tolist(), strict=True):
            if len(result.errors) >= MAX_ERRORS_LISTED:
                break
            result.errors.append({"index": i, "part": PARTS[p], "reason": "conflict"})

    if not result.accepted:
        return {}
    kidx, step, value, wall = kidx[inserted], step[inserted], value[inserted], wall[inserted]
    _merge_rollups(cur, run, key_ids, high_water, kidx, step, value, wall)
    return _merge_key_stats(cur, batch.names, key_ids, kidx, step, value, wall)


def _stage_points(cur, run, key_ids, kidx, step, value, wall, first, staged, inserted, conflict):
    """Staging path for points at or below their key's high-water step."""
    positions = np.flatnonzero(staged)
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS runs_point_stage (pos bigint, key_id bigint, "
        "step bigint, value double precision, wall_time double precision) ON COMMIT DROP"
    )
    # Empty even when an enclosing transaction already used it (ON COMMIT DROP only acts
    # at commit, and a caller may hold the transaction open across batches).
    cur.execute("TRUNCATE runs_point_stage")
    rows = _binary_rows(
        [
            ("pos", ">i8", positions),
            ("key_id", ">i8", key_ids[kidx[staged]]),
            ("step", ">i8", step[staged]),
            ("value", ">f8", value[staged]),
            ("wall_time", ">f8", wall[staged]),
        ]
    )
    _copy_binary(cur, "runs_point_stage", "pos, key_id, step, value, wall_time", rows)
    # ORDER BY: the first arrival of a repeated (key, step) is the row that is inserted,
    # and concurrent writers (none while the run lock is held) would lock in one order.
    cur.execute(
        "INSERT INTO runs_point (run_id, key_id, step, value, wall_time) "
        "SELECT %s, key_id, step, value, wall_time FROM runs_point_stage "
        "ORDER BY key_id, step, pos ON CONFLICT DO NOTHING RETURNING key_id, step",
        (run.id,),
    )
    fresh = set(cur.fetchall())
    if fresh:
        staged_first = positions[first[positions]]
        ids = key_ids[kidx[staged_first]].tolist()
        steps = step[staged_first].tolist()
        hit = [(k, s) in fresh for k, s in zip(ids, steps, strict=True)]
        inserted[staged_first[np.array(hit, dtype=bool)]] = True
    # NaN equals NaN for PostgreSQL's float8 comparison, so a re-sent NaN is a duplicate.
    cur.execute(
        "SELECT s.pos FROM runs_point_stage s JOIN runs_point p "
        "ON p.run_id = %s AND p.key_id = s.key_id AND p.step = s.step "
        "WHERE p.value IS DISTINCT FROM s.value",
        (run.id,),
    )
    clash = [pos for (pos,) in cur.fetchall()]
    if clash:
        conflict[np.array(clash, dtype=np.int64)] = True


_ROLLUP_COLUMNS = (
    "run_id, key_id, level, bucket, count, nan_count, sum, min, max, "
    "first_step, first, last_step, last, wall_min, wall_max"
)


def _merge_rollups(cur, run, key_ids, high_water, kidx, step, value, wall) -> None:
    fresh_parts: list[tuple[int, rollups.GroupStats]] = []
    upserts: list[tuple[int, rollups.GroupStats]] = []
    for level in rollups.LEVELS:
        stats = rollups.group_stats(kidx, step, value, wall, level)
        # A bucket above the key's old high-water bucket has no stored points, hence no
        # rollup row yet: COPY it. Others (and all-NaN buckets, whose min/max are NULL)
        # are merged into the stored row.
        new = (stats.bucket > (high_water[stats.key] >> level)) & (stats.nan_count < stats.count)
        if new.any():
            fresh_parts.append((level, stats.take(new)))
        if (~new).any():
            upserts.append((level, stats.take(~new)))
    if fresh_parts:

        def column(name):
            return np.concatenate([getattr(part, name) for _, part in fresh_parts])

        rows = _binary_rows(
            [
                ("run_id", ">i8", run.id),
                ("key_id", ">i8", key_ids[column("key")]),
                ("level", ">i2", np.concatenate([np.full(len(p), lv) for lv, p in fresh_parts])),
                ("bucket", ">i8", column("bucket")),
                ("count", ">i8", column("count")),
                ("nan_count", ">i8", column("nan_count")),
                ("sum", ">f8", column("sum")),
                ("min", ">f8", column("min")),
                ("max", ">f8", column("max")),
                ("first_step", ">i8", column("first_step")),
                ("first", ">f8", column("first")),
                ("last_step", ">i8", column("last_step")),
                ("last", ">f8", column("last")),
                ("wall_min", ">f8", column("wall_min")),
                ("wall_max", ">f8", column("wall_max")),
            ]
        )
        try:
            _copy_binary(cur, "runs_rollup", _ROLLUP_COLUMNS, rows)
        except psycopg.errors.UniqueViolation as exc:
            raise _Retry from exc
    if not upserts:
        return
    cols: dict[str, list] = {
        name: []
        for name in (
            "key_id", "level", "bucket", "count", "nan_count", "sum", "min", "max",
            "first_step", "first", "last_step", "last", "wall_min", "wall_max",
        )
    }  # fmt: skip
    for level, s in upserts:
        cols["key_id"] += key_ids[s.key].tolist()
        cols["level"] += [level] * len(s)
        cols["bucket"] += s.bucket.tolist()
        cols["count"] += s.count.tolist()
        cols["nan_count"] += s.nan_count.tolist()
        cols["sum"] += s.sum.tolist()
        cols["min"] += _nullable(s.min)
        cols["max"] += _nullable(s.max)
        cols["first_step"] += s.first_step.tolist()
        cols["first"] += s.first.tolist()
        cols["last_step"] += s.last_step.tolist()
        cols["last"] += s.last.tolist()
        cols["wall_min"] += s.wall_min.tolist()
        cols["wall_max"] += s.wall_max.tolist()
    cur.execute(
        f"""
        INSERT INTO runs_rollup AS r ({_ROLLUP_COLUMNS})
        SELECT %s, d.* FROM unnest(
            %s::bigint[], %s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[],
            %s::float8[], %s::float8[], %s::float8[], %s::bigint[], %s::float8[],
            %s::bigint[], %s::float8[], %s::float8[], %s::float8[]
        ) AS d
        ON CONFLICT (run_id, key_id, level, bucket) DO UPDATE SET
            count = r.count + excluded.count,
            nan_count = r.nan_count + excluded.nan_count,
            sum = r.sum + excluded.sum,
            min = LEAST(r.min, excluded.min),
            max = GREATEST(r.max, excluded.max),
            first_step = LEAST(r.first_step, excluded.first_step),
            first = CASE WHEN excluded.first_step < r.first_step
                         THEN excluded.first ELSE r.first END,
            last_step = GREATEST(r.last_step, excluded.last_step),
            last = CASE WHEN excluded.last_step > r.last_step
                        THEN excluded.last ELSE r.last END,
            wall_min = LEAST(r.wall_min, excluded.wall_min),
            wall_max = GREATEST(r.wall_max, excluded.wall_max)
        """,  # noqa: S608 - column list is a constant
        (run.id, *cols.values()),
    )


def _merge_key_stats(cur, names, key_ids, kidx, step, value, wall) -> dict[str, tuple]:
    """Fold the inserted points into each key's running summary;
    name -> (last, max_step, integral)."""
    s = rollups.group_stats(kidx, step, value, wall, None)
    integral = _integral_per_key(kidx, value)
    cur.execute(
        """
        UPDATE runs_metrickey AS m SET
            count = m.count + d.count,
            nan_count = m.nan_count + d.nan_count,
            sum = m.sum + d.sum,
            min = LEAST(m.min, d.min),
            max = GREATEST(m.max, d.max),
            min_step = LEAST(m.min_step, d.min_step),
            last = CASE WHEN m.max_step IS NULL OR d.max_step > m.max_step
                        THEN d.last ELSE m.last END,
            last_wall_time = CASE WHEN m.max_step IS NULL OR d.max_step > m.max_step
                                  THEN d.last_wall ELSE m.last_wall_time END,
            max_step = GREATEST(m.max_step, d.max_step),
            first_wall_time = LEAST(m.first_wall_time, d.wall_min),
            integral = m.integral AND d.integral
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::float8[],
                    %s::float8[], %s::bigint[], %s::bigint[], %s::float8[], %s::float8[],
                    %s::float8[], %s::boolean[])
             AS d(id, count, nan_count, sum, min, max, min_step, max_step, last, last_wall,
                  wall_min, integral)
        WHERE m.id = d.id
        RETURNING m.name, m.last, m.max_step, m.integral
        """,
        (
            key_ids[s.key].tolist(),
            s.count.tolist(),
            s.nan_count.tolist(),
            s.sum.tolist(),
            _nullable(s.min),
            _nullable(s.max),
            s.first_step.tolist(),
            s.last_step.tolist(),
            s.last.tolist(),
            s.last_wall.tolist(),
            s.wall_min.tolist(),
            integral.tolist(),
        ),
    )
    return {name: (last, max_step, whole) for name, last, max_step, whole in cur.fetchall()}


def _write_console(cur, run: Run, batch: Batch, result: IngestResult, console_next: int) -> None:
    start = batch.console_offset if batch.console_offset is not None else console_next
    lines = list(range(start, start + len(batch.console)))
    cur.execute(
        "INSERT INTO runs_consoleline (team_id, run_id, line, stream, wall_time, text) "
        "SELECT %s, %s, * FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::text[]) "
        "ON CONFLICT (run_id, line) DO NOTHING",
        (
            run.team_id,
            run.id,
            lines,
            [c[0] for c in batch.console],
            [c[1] for c in batch.console],
            [c[2] for c in batch.console],
        ),
    )
    result.console_accepted = cur.rowcount
    result.console_duplicates = len(lines) - cur.rowcount
    cur.execute(
        "UPDATE runs_run SET console_next = GREATEST(console_next, %s) WHERE id = %s",
        (start + len(lines), run.id),
    )


def _update_run(cur, run, batch, state, overrides, touched, result) -> str:
    sets, params = ["updated_at = now()"], []
    new_overrides = batch.summary
    all_overrides = {**overrides, **new_overrides}
    auto = {}
    for name, (last, max_step, integral) in touched.items():
        result.steps[name] = max_step
        if not name.startswith(SYSTEM_PREFIX) and name not in all_overrides:
            auto[name] = json_number(last, integral)
    if auto or new_overrides:
        sets.append("summary = summary || %s::jsonb || %s::jsonb")
        params += [orjson.dumps(auto).decode(), orjson.dumps(new_overrides).decode()]
        result.summary = {**auto, **new_overrides}
    if new_overrides:
        sets.append("summary_overrides = summary_overrides || %s::jsonb")
        params.append(orjson.dumps(new_overrides).decode())
    if batch.config:
        sets.append("config = config || %s::jsonb")
        params.append(orjson.dumps(batch.config).decode())
    if batch.heartbeat:
        sets.append("heartbeat_at = now()")
        if state == "crashed":
            # The process was only silent, not dead: it is running again.
            sets.append("state = 'running'")
            state = "running"
    cur.execute(f"UPDATE runs_run SET {', '.join(sets)} WHERE id = %s", (*params, run.id))  # noqa: S608
    return state
