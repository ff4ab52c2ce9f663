"""Turning logged values into wire values.

Two halves: `merge_into` runs on the caller's thread and only copies (so later
mutation of the caller's lists/arrays cannot change what was logged); `encode_row`
runs on the writer thread and does the real conversion (numpy/torch scalars, NaN/Inf,
histograms, nested dicts already flattened with "/").
"""

from __future__ import annotations

import math
from array import array
from itertools import repeat
from types import ModuleType
from typing import Any

from gradline.batchfmt import Columns, KeyTable
from gradline.data_types import Histogram
from gradline.media import Media, as_media

_PLAIN = frozenset({float, int, bool, str, type(None)})
# Values safe to keep by reference: the plain types, plus immutable numpy scalar types
# (np.float32, np.int64 …) added the first time one is seen, so later rows of them take
# the all-in-C fast path too.
_KEEP_AS_IS: set = set(_PLAIN)
# Modules whose objects log() turns into media on the caller's thread (media.as_media).
_MEDIA_MODULES = ("gradline.", "matplotlib", "pandas", "plotly")
RESERVED = frozenset({"_step", "_runtime", "_timestamp"})
INF = float("inf")


def merge_into(pending: dict, data: dict, prefix: str = "") -> None:
    """Copy `data` into the pending row, flattening nested dicts with "/"."""
    if not prefix:
        if _KEEP_AS_IS.issuperset(map(type, data.values())):  # the common case, all in C
            pending.update(data)
            return
        for key, value in data.items():
            if type(value) in _KEEP_AS_IS:
                pending[key] = value
            else:
                _merge_slow(pending, key, value)
        return
    for key, value in data.items():
        full = f"{prefix}/{key}"
        if type(value) in _KEEP_AS_IS:
            pending[full] = value
        else:
            _merge_slow(pending, full, value)


def _merge_slow(pending: dict, key: Any, value: Any) -> None:
    if isinstance(value, dict):
        merge_into(pending, value, str(key))
        return
    pending[key] = snapshot(value)


def snapshot(value: Any) -> Any:
    """A copy of `value` that later mutation by the caller cannot change."""
    if isinstance(value, (list, tuple)):
        if value and type(value[0]) not in _KEEP_AS_IS:  # a list of media, figures …
            return tuple(snapshot(v) for v in value)
        return tuple(snapshot(v) if isinstance(v, (list, tuple)) else v for v in value)
    kind = type(value)
    module = kind.__module__
    if module.startswith(_MEDIA_MODULES) or kind is ModuleType:
        return as_media(value)  # tables frozen, figures rendered, DataFrames copied
    if module.startswith("torch"):
        return _torch_snapshot(value)
    if module == "numpy":
        if kind.__name__ == "ndarray":
            return value.copy()
        if getattr(value, "ndim", None) == 0:  # a numpy scalar: immutable
            _KEEP_AS_IS.add(kind)
    return value


def _torch_snapshot(value: Any) -> Any:
    if hasattr(value, "detach"):
        if value.numel() == 1:
            return value.detach().item()
        return value.detach().to("cpu").clone()
    return value


def wire_number(value: float) -> Any:
    """JSON-safe number: NaN/±Inf become the strings the server understands."""
    if value != value:
        return "NaN"
    if value == INF:
        return "Infinity"
    if value == -INF:
        return "-Infinity"
    return value


class Encoded:
    """Result of encoding rows: points for the metric store (columns, keys indexed in the
    run's key table), and everything else."""

    __slots__ = ("histograms", "keys", "last", "media", "points", "unsupported")

    def __init__(self, keys: KeyTable | None = None):
        self.keys = keys if keys is not None else KeyTable()
        self.points = Columns()
        self.histograms: list = []  # [key, step, {"bins", "values"}, wall_time]
        self.media: list = []  # [key, step, Media or [Media, ...], wall_time]
        self.last: dict = {}  # key -> last non-point value (strings, None) for the summary
        self.unsupported: set = set()

    def point_rows(self, start: int = 0) -> list:
        """[key, step, value, wall_time] of the points from `start` on (tests, observers)."""
        names = self.keys.names
        p = self.points
        return [[names[p.key[i]], p.step[i], p.value[i], p.wall[i]] for i in range(start, len(p))]


_FLOAT_INT = frozenset({float, int})
_STR = frozenset({str})


def encode_row(step: int, row: dict, wall_time: float, out: Encoded) -> bool:
    """Append the row's points to `out`. Returns True when the row was plain numbers (its
    dict then holds exactly the values that went out)."""
    points = out.points
    values = row.values()
    if (
        _FLOAT_INT.issuperset(map(type, values))
        and _STR.issuperset(map(type, row))
        and "_step" not in row
        and "_runtime" not in row
        and "_timestamp" not in row
    ):
        # All in C: one float array of the values (NaN/±Inf travel as they are; an int
        # beyond the float range raises here, before anything was appended), then the
        # columns, step first (the one append that can still fail: int64).
        try:
            column = array("d", values)
        except OverflowError:
            pass  # the slow path reports it
        else:
            n = len(column)
            points.step.extend(repeat(step, n))
            points.wall.extend(repeat(wall_time, n))
            points.value.extend(column)
            points.key.extend(map(out.keys.__getitem__, row))
            return True
    if "_step" in row or "_runtime" in row or "_timestamp" in row:
        row = {k: v for k, v in row.items() if k not in RESERVED}
    keys = out.keys
    for key, value in row.items():
        if type(key) is not str:
            key = str(key)
        kind = type(value)
        if kind is float:
            points.append(keys[key], step, value, wall_time)
        elif kind is int or kind is bool:
            try:
                number = float(value)
            except OverflowError:
                out.unsupported.add(f"{key} (an int beyond the float range)")
                continue
            points.append(keys[key], step, number, wall_time)
        else:
            _encode_other(key, step, value, wall_time, out)
    return False


def _encode_other(key: str, step: int, value: Any, wall_time: float, out: Encoded) -> None:
    if value is None or isinstance(value, str):
        out.last[key] = value
        return
    if isinstance(value, Histogram):
        out.histograms.append([key, step, value.to_json(), wall_time])
        return
    if isinstance(value, Media):
        out.media.append([key, step, value, wall_time])
        return
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Media):
        if all(isinstance(v, Media) for v in value):
            out.media.append([key, step, list(value), wall_time])
        else:
            out.unsupported.add(f"{key} (a list mixing media and other values)")
        return
    module = type(value).__module__
    if module == "numpy" or module.startswith("torch"):
        ndim = getattr(value, "ndim", None)
        size = getattr(value, "size", None)
        if callable(size):  # torch: size() is a method
            size = value.numel()
        if ndim == 0 or size == 1:
            encode_row(step, {key: value.item()}, wall_time, out)
            return
        if module.startswith("torch"):
            value = value.detach().to("cpu").numpy()
        _histogram_of(key, step, value, wall_time, out)
        return
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return
        _histogram_of(key, step, value, wall_time, out)
        return
    if isinstance(value, (float, int)):  # subclasses (e.g. IntEnum)
        encode_row(
            step, {key: float(value) if isinstance(value, float) else int(value)}, wall_time, out
        )
        return
    out.unsupported.add(f"{key} ({type(value).__name__})")


def _histogram_of(key: str, step: int, value: Any, wall_time: float, out: Encoded) -> None:
    try:
        hist = Histogram(value)
    except (TypeError, ValueError):
        out.unsupported.add(f"{key} (non-numeric sequence)")
        return
    out.histograms.append([key, step, hist.to_json(), wall_time])


def to_jsonable(value: Any) -> Any:
    """Config and summary values: numpy/torch scalars and arrays to plain Python."""
    if type(value) in _PLAIN:
        if type(value) is float and not math.isfinite(value):
            return wire_number(value)
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Histogram):
        return value.to_json()
    module = type(value).__module__
    if module == "numpy" or module.startswith("torch"):
        if hasattr(value, "tolist"):
            return to_jsonable(value.tolist())
        if hasattr(value, "item"):
            return to_jsonable(value.item())
    if hasattr(value, "__dict__") and type(value).__name__ == "Namespace":  # argparse
        return to_jsonable(vars(value))
    if isinstance(value, float):
        return to_jsonable(float(value))
    if isinstance(value, int):
        return int(value)
    return str(value)
