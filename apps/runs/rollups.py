"""Rollup arithmetic for the metric store (DESIGN.md §4); pure functions, no database.

A rollup of level L holds, per (run, key, bucket = step >> L), the count, NaN count, sum,
min, max (NaN ignored), first and last value (by step) and the wall-time range of the
points in the bucket. Ingest aggregates a batch per level with `group_stats` and merges
the result into stored rows; chart reads cover a step range with whole buckets of the
coarsest useful level and refine the ragged edges with finer levels and raw points
(`decompose`), so every output bucket's min and max are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bucket widths 2^4 .. 2^16 steps, two bits apart: a chart bucket (a power of two wide)
# is made of at most 4 rollup rows (1 when its width is a level's), while ingest writes
# about one rollup row per 12 points (mostly level 4).
LEVELS: tuple[int, ...] = (4, 6, 8, 10, 12, 14, 16)
RAW = 0  # "level 0": the points themselves


@dataclass
class GroupStats:
    """Aggregates of consecutive runs of equal (key, step >> shift) in sorted arrays."""

    key: np.ndarray
    bucket: np.ndarray
    count: np.ndarray
    nan_count: np.ndarray
    sum: np.ndarray
    min: np.ndarray  # NaN where the group holds only NaN values
    max: np.ndarray
    first_step: np.ndarray
    first: np.ndarray
    last_step: np.ndarray
    last: np.ndarray
    wall_min: np.ndarray
    wall_max: np.ndarray
    last_wall: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def take(self, mask: np.ndarray) -> GroupStats:
        return GroupStats(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def group_stats(
    key: np.ndarray,
    step: np.ndarray,
    value: np.ndarray,
    wall: np.ndarray,
    shift: int | None,
) -> GroupStats:
    """Aggregate points sorted by (key, step) per (key, step >> shift); shift None: per key."""
    n = len(key)
    bucket = np.zeros(n, dtype=np.int64) if shift is None else step >> shift
    if n == 0:
        empty_f = np.empty(0, dtype=np.float64)
        empty_i = np.empty(0, dtype=np.int64)
        return GroupStats(
            empty_i, empty_i, empty_i, empty_i, empty_f, empty_f, empty_f,
            empty_i, empty_f, empty_i, empty_f, empty_f, empty_f, empty_f,
        )  # fmt: skip
    brk = np.empty(n, dtype=bool)
    brk[0] = True
    np.not_equal(key[1:], key[:-1], out=brk[1:])
    brk[1:] |= bucket[1:] != bucket[:-1]
    starts = np.flatnonzero(brk)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = n
    nan = np.isnan(value)
    with np.errstate(invalid="ignore", over="ignore"):
        nan_count = np.add.reduceat(nan.astype(np.int64), starts)
        total = np.add.reduceat(np.where(nan, 0.0, value), starts)
        vmin = np.minimum.reduceat(np.where(nan, np.inf, value), starts)
        vmax = np.maximum.reduceat(np.where(nan, -np.inf, value), starts)
    count = ends - starts
    only_nan = nan_count == count
    vmin[only_nan] = np.nan
    vmax[only_nan] = np.nan
    return GroupStats(
        key=key[starts],
        bucket=bucket[starts],
        count=count,
        nan_count=nan_count,
        sum=total,
        min=vmin,
        max=vmax,
        first_step=step[starts],
        first=value[starts],
        last_step=step[ends - 1],
        last=value[ends - 1],
        wall_min=np.minimum.reduceat(wall, starts),
        wall_max=np.maximum.reduceat(wall, starts),
        last_wall=wall[ends - 1],
    )


def bucket_shift(lo: int, hi: int, buckets: int) -> int:
    """Smallest j such that the steps lo..hi (inclusive) fall into at most `buckets`
    buckets aligned to multiples of 2^j."""
    buckets = max(1, buckets)
    j = 0
    while (hi >> j) - (lo >> j) + 1 > buckets:
        j += 1
    return j


def grouped_shift(lo: int, hi: int, buckets: int) -> int:
    """bucket_shift, widened to the next stored level when that still leaves at least a
    quarter of the requested buckets: each chart bucket is then one rollup row per run
    instead of up to four (a grouped chart aggregates every run of every group, and its
    mean line and band do not need the last factor of resolution). Short ranges keep
    their full resolution."""
    shift = bucket_shift(lo, hi, buckets)
    if shift in LEVELS or shift < LEVELS[0]:
        return shift
    wider = next((level for level in LEVELS if level > shift), None)
    if wider is None or (hi >> wider) - (lo >> wider) + 1 < max(1, buckets) / 4:
        return shift
    return wider


def source_level(shift: int) -> int:
    """The coarsest stored level whose buckets tile a 2^shift-wide chart bucket."""
    level = RAW
    for candidate in LEVELS:
        if candidate <= shift:
            level = candidate
    return level


def decompose(lo: int, hi_excl: int, top: int) -> list[tuple[int, int, int]]:
    """Cover the steps [lo, hi_excl) with aligned pieces, coarsest first.

    Returns (level, start, end) triples: steps [start, end) are exactly covered by the
    buckets start >> level .. (end >> level) - 1 of that level (level 0: raw points).
    The interior uses level `top`; each edge adds at most one range per finer level.
    """
    pieces: list[tuple[int, int, int]] = []
    levels = [lvl for lvl in (*LEVELS[::-1], RAW) if lvl <= top]

    def cover(a: int, b: int, at: int) -> None:
        if a >= b:
            return
        level = levels[at]
        if level == RAW:
            pieces.append((RAW, a, b))
            return
        width = 1 << level
        inner_a = -(-a // width) * width
        inner_b = (b // width) * width
        if inner_a >= inner_b:
            cover(a, b, at + 1)
            return
        pieces.append((level, inner_a, inner_b))
        cover(a, inner_a, at + 1)
        cover(inner_b, b, at + 1)

    cover(lo, hi_excl, 0)
    return pieces
