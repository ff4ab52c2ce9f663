"""Validation of a batch's records, the same rules in both wire formats: keys (length,
reserved names, control characters, the "system/" prefix by part), steps (0 to MAX_STEP),
values (numbers or "NaN"/"Infinity"/"-Infinity"), wall times, console lines, and the
summary/config objects held to the JSON limits of apps.core.jsonlimits.

Each bad record is rejected on its own with a reason naming the field and its
(part, index); the valid ones become numpy columns of a `Batch`. A JSON batch is checked
record by record only when the vectorised pass (`_columns_fast`) finds something off;
a binary batch is checked with whole-array operations (`binary_columns`), building no
Python object per point. Whatever refuses the whole request (too many points or lines,
a bad heartbeat flag) raises instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from apps.core import jsonlimits
from apps.core.errors import field_error
from apps.runs.bodies import TooLarge
from apps.runs.ingest.contract import (
    MAX_CONSOLE_LINE_CHARS,
    MAX_CONSOLE_LINE_NUMBER,
    MAX_CONSOLE_LINES,
    MAX_ERRORS_LISTED,
    MAX_KEY_LENGTH,
    MAX_POINTS,
    MAX_STEP,
    NONFINITE,
    PARTS,
    RESERVED_KEYS,
    SYSTEM_PREFIX,
    Batch,
)


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
    validate_other_parts(body, batch)
    return batch


def validate_other_parts(body: dict, batch: Batch) -> None:
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


# Reason codes of the vectorised checks, in the order the JSON path checks fields.
_OK, _BAD_KEY_INDEX, _BAD_KEY_NAME, _BAD_STEP, _BAD_WALL = 0, 1, 2, 3, 4
_REASONS = {
    _BAD_KEY_INDEX: "key: index out of range of the header's keys",
    _BAD_STEP: f"step: must be an integer from 0 to {MAX_STEP}",
    _BAD_WALL: "wall_time: must be a finite number of Unix seconds",
}


def binary_columns(
    step: np.ndarray,
    value: np.ndarray,
    wall: np.ndarray,
    kidx: np.ndarray,
    n_points: int,
    keys: list,
    batch: Batch,
) -> None:
    """Check the records of a binary batch (the first `n_points` are points, the rest
    system samples; `kidx` indexes the header's `keys`) with whole-array operations, and
    fill `batch` with the valid ones. Same reasons and (part, index) as the JSON path."""
    total = len(step)
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
