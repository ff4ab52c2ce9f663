"""The binary batch format (Content-Type application/x-gradline-batch, docs/api.md):
metric points as little-endian columns instead of JSON lists, so neither this process
nor the server builds a Python object per point.

    magic b"GLB1" | hlen uint32 LE | header (JSON, space-padded so 8 + hlen % 8 == 0)
    | step int64[T] | value float64[T] | wall_time float64[T] | key uint32[T]

The header holds "keys" (names the key column indexes), "n_points" and "n_system"
(T = n_points + n_system, points first), and any other ingest part (summary, config,
console, console_offset, heartbeat). A WAL record of a batch is exactly such a body,
so the uploader forwards it as it is; consecutive records are merged by joining their
columns (no per-point work), which needs their key lists to agree: the writer keeps one
append-only key table per process, and a record carries its prefix.

Only the standard library is needed (array, struct); numpy is never required.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any

import orjson

MAGIC = b"GLB1"
CONTENT_TYPE = "application/x-gradline-batch"
PREFIX = struct.Struct("<4sI")
# (array typecode, item size) of the columns, in body order.
COLUMNS = (("q", 8), ("d", 8), ("d", 8), ("I", 4))
RECORD_BYTES = sum(size for _, size in COLUMNS)
_SWAP = sys.byteorder == "big"  # the format is little-endian
_INF = float("inf")


class KeyTable(dict):
    """name -> index, append-only; `names` lists them by index. Looking up a new name
    adds it, so `map(table.__getitem__, row)` encodes a row's keys in C."""

    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def __missing__(self, name: str) -> int:
        index = len(self.names)
        self.names.append(name)
        self[name] = index
        return index


class Columns:
    """The growing columns of one part (points or system) of a batch."""

    __slots__ = ("key", "step", "value", "wall")

    def __init__(self):
        self.step = array("q")
        self.value = array("d")
        self.wall = array("d")
        self.key = array("I")

    def __len__(self) -> int:
        return len(self.key)

    def append(self, key: int, step: int, value: float, wall: float) -> None:
        """All four or none: TypeError/OverflowError leave the columns as they were."""
        value, wall = float(value), float(wall)
        self.step.append(step)  # the one append that can fail (int64 range)
        self.value.append(value)
        self.wall.append(wall)
        self.key.append(key)

    def arrays(self) -> tuple[array, array, array, array]:
        return self.step, self.value, self.wall, self.key


def encode(keys: list[str], points: Columns, system: Columns, parts: dict) -> bytes:
    """A binary batch body: `parts` (summary, console …) go into the header."""
    header = {**parts, "keys": keys, "n_points": len(points), "n_system": len(system)}
    chunks = [b"", _header_bytes(header)]
    for a, b in zip(points.arrays(), system.arrays()):
        chunks.append(_le_bytes(a))
        chunks.append(_le_bytes(b))
    chunks[0] = PREFIX.pack(MAGIC, len(chunks[1]))
    return b"".join(chunks)


def _header_bytes(header: dict) -> bytes:
    raw = orjson.dumps(header)
    return raw + b" " * (-(PREFIX.size + len(raw)) % 8)


def _le_bytes(column: array) -> bytes:
    if not _SWAP:
        return column.tobytes()
    swapped = array(column.typecode, column)
    swapped.byteswap()
    return swapped.tobytes()


def is_batch(payload: bytes) -> bool:
    return payload[:4] == MAGIC


class Decoded:
    """A binary body's header and its columns as memoryview slices (nothing copied)."""

    __slots__ = ("_body", "header", "n_points", "n_system", "start")

    def __init__(self, body: bytes):
        magic, hlen = PREFIX.unpack_from(body)
        if magic != MAGIC:
            raise ValueError("not a binary batch")
        self.start = PREFIX.size + hlen
        self.header: dict = orjson.loads(body[PREFIX.size : self.start])
        self.n_points = int(self.header["n_points"])
        self.n_system = int(self.header["n_system"])
        if len(body) != self.start + (self.n_points + self.n_system) * RECORD_BYTES:
            raise ValueError("binary batch length does not match its counts")
        self._body = memoryview(body)

    @property
    def keys(self) -> list[str]:
        return self.header["keys"]

    def column(self, i: int) -> memoryview:
        total = self.n_points + self.n_system
        offset = self.start + sum(size for _, size in COLUMNS[:i]) * total
        return self._body[offset : offset + COLUMNS[i][1] * total]

    def parts(self) -> dict:
        """The header's ingest parts (without keys and counts)."""
        return {k: v for k, v in self.header.items() if k not in ("keys", "n_points", "n_system")}

    def records(self) -> tuple[list, list]:
        """(points, system) as [key, step, value, wall_time] lists, NaN/Inf as floats."""
        cols = []
        for i, (code, _) in enumerate(COLUMNS):
            a = array(code)
            a.frombytes(self.column(i))
            if _SWAP:
                a.byteswap()
            cols.append(a)
        names = self.keys
        rows = [[names[k], s, v, w] for s, v, w, k in zip(cols[0], cols[1], cols[2], cols[3])]
        return rows[: self.n_points], rows[self.n_points :]


def merge(bodies: list[Decoded], keys: list[str], parts: dict) -> bytes:
    """One body carrying the columns of `bodies` (points of all, then system of all),
    whose key lists are all prefixes of `keys`."""
    n_points = sum(d.n_points for d in bodies)
    n_system = sum(d.n_system for d in bodies)
    header = {**parts, "keys": keys, "n_points": n_points, "n_system": n_system}
    chunks: list[Any] = [b"", _header_bytes(header)]
    for i, (_, size) in enumerate(COLUMNS):
        columns = [d.column(i) for d in bodies]
        chunks += [c[: d.n_points * size] for c, d in zip(columns, bodies)]
        chunks += [c[d.n_points * size :] for c, d in zip(columns, bodies)]
    chunks[0] = PREFIX.pack(MAGIC, len(chunks[1]))
    return b"".join(chunks)


def wire(value: float) -> Any:
    """A float for the JSON format: NaN and ±Inf become its strings."""
    if value != value:
        return "NaN"
    if value in (_INF, -_INF):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def to_json_body(body: bytes) -> dict:
    """The JSON ingest body equivalent to a binary one (for servers without binary)."""
    decoded = Decoded(body)
    points, system = decoded.records()
    out = decoded.parts()
    if points:
        out["points"] = [[k, s, wire(v), w] for k, s, v, w in points]
    if system:
        out["system"] = [[k, s, wire(v), w] for k, s, v, w in system]
    return out
