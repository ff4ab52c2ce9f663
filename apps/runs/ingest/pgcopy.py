"""PostgreSQL binary COPY of numpy columns: the tuples are laid out as a numpy record
array (big-endian, no NULLs) and written in one COPY, building no Python object per row.
Used by storage for runs_point, the staging table and runs_rollup."""

from __future__ import annotations

import numpy as np

_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
_PG_TRAILER = b"\xff\xff"


def copy_binary(cur, table: str, columns: str, records: np.ndarray) -> None:
    payload = _PG_HEADER + records.tobytes() + _PG_TRAILER
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


def binary_rows(fields: list[tuple[str, str, np.ndarray | int]]) -> np.ndarray:
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
