"""Metric history reads (DESIGN.md §4): chart series from rollups, full-resolution scans,
and streamed exports. With apps/runs/ingest.py, the only code that reads runs_point and
runs_rollup; every query is bounded by a run id obtained through a team-scoped lookup.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from django.db import connection

from apps.core.errors import field_error
from apps.runs import rollups
from apps.runs.ingest import MAX_STEP, SYSTEM_PREFIX, json_number, json_safe
from apps.runs.models import MetricKey, Run

MAX_BUCKETS = 10_000
MAX_KEYS = 100
MAX_SCAN_PAGE = 10_000
EXPORT_CHUNK = 50_000
X_AXES = ("_step", "_runtime", "_timestamp")


def run_keys(team, run: Run, names: list[str] | None, *, include_system: bool = False):
    """name -> MetricKey for the requested names (all non-system keys when None)."""
    qs = MetricKey.objects.for_team(team).filter(run=run)
    if names is not None:
        if len(names) > MAX_KEYS:
            raise field_error(f"At most {MAX_KEYS} keys per request.", "keys")
        qs = qs.filter(name__in=names)
    elif not include_system:
        qs = qs.exclude(name__startswith=SYSTEM_PREFIX)
    return {key.name: key for key in qs.order_by("name")}


# --------------------------------------------------------------------------- charts


def _finite(values: list) -> list:
    return [v if v is None or math.isfinite(v) else json_safe(v) for v in values]


def _values_of(key, values: list) -> list:
    """Stored values of `key` for JSON: ints for a key logged as whole numbers."""
    if not key.integral:
        return _finite(values)
    return [None if v is None else json_number(v, True) for v in values]


def chart(
    team,
    run: Run,
    *,
    keys: list[str],
    x_axis: str = "_step",
    min_step: int | None = None,
    max_step: int | None = None,
    buckets: int = 1000,
) -> dict:
    """Per key, `buckets` or fewer step buckets over [min_step, max_step], each with the
    exact count, min, max, mean, first and last of its points, and its x range.

    Buckets are aligned to a power-of-two width (`bucket_width`); the first and last may be
    clipped by the requested range. Whole buckets come from the coarsest rollup level that
    tiles them and the clipped edges from finer levels and raw points, so the read costs
    O(buckets), not O(points), and min/max are exact for every bucket.
    x_start/x_end: for _step the first/last step with data in the bucket; _timestamp the
    wall-time range; _runtime that minus the run's start; any other key: that key's first
    and last value in the bucket (null where it has none).
    """
    if not 1 <= buckets <= MAX_BUCKETS:
        raise field_error(f"buckets must be 1-{MAX_BUCKETS}.", "buckets")
    wanted = list(dict.fromkeys(keys))
    names = [*wanted, x_axis] if x_axis not in X_AXES else wanted
    found = run_keys(team, run, names, include_system=True)
    if x_axis not in X_AXES and x_axis not in found:
        raise field_error(
            f"x_axis {x_axis!r} is neither _step, _runtime, _timestamp nor a key.", "x_axis"
        )
    with_data = [found[k] for k in wanted if k in found and found[k].max_step is not None]
    out = {
        "run": run.uid,
        "x_axis": x_axis,
        "bucket_width": None,
        "series": {k: _empty_series() for k in wanted},
    }
    if not with_data:
        return out
    lo = min(k.min_step for k in with_data) if min_step is None else max(0, min_step)
    hi = max(k.max_step for k in with_data) if max_step is None else max_step
    if hi < lo:
        return out
    shift = rollups.bucket_shift(lo, hi, buckets)
    out["bucket_width"] = 1 << shift
    ids = [k.id for k in with_data]
    x_key = found.get(x_axis) if x_axis not in X_AXES else None
    if x_key is not None and x_key.id not in ids:
        ids.append(x_key.id)
    rows = _bucket_rows(run.id, ids, lo, hi, shift)
    by_key: dict[int, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[0], []).append(row)
    x_of: dict[int, tuple] = {}
    if x_key is not None:
        x_of = {r[1]: (r[8], r[10]) for r in by_key.get(x_key.id, [])}
    start = run.created_at.timestamp()
    for key in with_data:
        rows = by_key.get(key.id)
        if not rows:
            continue
        (_, b, count, nans, total, vmin, vmax, fstep, first, lstep, last, wmin, wmax) = (
            list(column) for column in zip(*rows, strict=True)
        )
        if x_axis == "_step":
            xs, xe = fstep, lstep
        elif x_axis == "_timestamp":
            xs, xe = wmin, wmax
        elif x_axis == "_runtime":
            xs, xe = [w - start for w in wmin], [w - start for w in wmax]
        else:
            xs = [x_of.get(i, (None, None))[0] for i in b]
            xe = [x_of.get(i, (None, None))[1] for i in b]
        mean = [t / (c - n) if c > n else None for t, c, n in zip(total, count, nans, strict=True)]
        out["series"][key.name] = {
            "x_start": _finite(xs),
            "x_end": _finite(xe),
            "step_start": fstep,
            "step_end": lstep,
            "count": count,
            "min": _values_of(key, vmin),
            "max": _values_of(key, vmax),
            "mean": _finite(mean),
            "first": _values_of(key, first),
            "last": _values_of(key, last),
        }
    return out


def _empty_series() -> dict:
    return {
        name: []
        for name in (
            "x_start", "x_end", "step_start", "step_end", "count",
            "min", "max", "mean", "first", "last",
        )
    }  # fmt: skip


_ROLLUP_PIECE = (
    "SELECT key_id, bucket << level AS s, count, nan_count, sum, min, max, "
    "first_step, first, last_step, last, wall_min, wall_max FROM runs_rollup "
    "WHERE run_id = %s AND key_id = ANY(%s) AND level = %s AND bucket >= %s AND bucket < %s"
)
_RAW_PIECE = (
    "SELECT key_id, step AS s, 1::bigint AS count, "
    "CASE WHEN value = 'NaN' THEN 1 ELSE 0 END::bigint AS nan_count, "
    "CASE WHEN value = 'NaN' THEN 0 ELSE value END AS sum, "
    "NULLIF(value, 'NaN') AS min, NULLIF(value, 'NaN') AS max, "
    "step AS first_step, value AS first, step AS last_step, value AS last, "
    "wall_time AS wall_min, wall_time AS wall_max FROM runs_point "
    "WHERE run_id = %s AND key_id = ANY(%s) AND step >= %s AND step < %s"
)


def _bucket_rows(run_id: int, key_ids: list[int], lo: int, hi: int, shift: int) -> list[tuple]:
    # One SELECT per piece, so each is a primary-key range scan (an OR of ranges would
    # make PostgreSQL read every rollup row of the key and filter).
    selects, params = [], []
    for level, a, b in rollups.decompose(lo, hi + 1, rollups.source_level(shift)):
        if level == rollups.RAW:
            selects.append(_RAW_PIECE)
            params += [run_id, key_ids, a, b]
        else:
            selects.append(_ROLLUP_PIECE)
            params += [run_id, key_ids, level, a >> level, b >> level]
    # Only constant SQL fragments are joined here; every value is a bound parameter.
    sql = (
        "SELECT key_id, s >> %s AS b, sum(count)::bigint, sum(nan_count)::bigint, sum(sum), "  # noqa: S608
        "min(min), max(max), min(first_step), (array_agg(first ORDER BY first_step))[1], "
        "max(last_step), (array_agg(last ORDER BY last_step DESC))[1], "
        "min(wall_min), max(wall_max) FROM ("
        + " UNION ALL ".join(selects)
        + ") AS pieces GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [shift, *params])
        return cur.fetchall()


# --------------------------------------------------------------------------- scans


@dataclass
class ScanPage:
    rows: list[dict]
    next_cursor: int | None


def scan(
    team,
    run: Run,
    *,
    keys: list[str] | None,
    min_step: int | None = None,
    max_step: int | None = None,
    page_size: int = 1000,
    cursor: int | None = None,
    require_all: bool = False,
) -> ScanPage:
    """Full-resolution history rows by step (W&B scan_history): each row has _step,
    _timestamp (latest wall time of its points), _runtime and the requested keys that
    have a point at that step (all of them, with require_all). Paged by step."""
    page_size = max(1, min(page_size, MAX_SCAN_PAGE))
    found = run_keys(team, run, keys)
    if not found:
        return ScanPage([], None)
    lo = max(cursor if cursor is not None else 0, min_step or 0)
    hi = max_step if max_step is not None else MAX_STEP
    if hi < lo:
        return ScanPage([], None)
    ids = {key.id: name for name, key in found.items()}
    integral = {key.id for key in found.values() if key.integral}
    with connection.cursor() as cur:
        # The page ends at the page_size-th distinct step with data in any requested key:
        # each key contributes at most page_size steps, read off its index.
        cur.execute(
            "SELECT step FROM (SELECT DISTINCT s.step FROM unnest(%s::bigint[]) AS k(id) "
            "CROSS JOIN LATERAL (SELECT step FROM runs_point WHERE run_id = %s "
            "AND key_id = k.id AND step >= %s AND step <= %s ORDER BY step LIMIT %s) AS s) "
            "AS d ORDER BY step LIMIT %s",
            [list(ids), run.id, lo, hi, page_size + 1, page_size + 1],
        )
        steps = [s for (s,) in cur.fetchall()]
        if not steps:
            return ScanPage([], None)
        more = len(steps) > page_size
        last = steps[page_size - 1] if more else steps[-1]
        cur.execute(
            "SELECT step, key_id, value, wall_time FROM runs_point WHERE run_id = %s "
            "AND key_id = ANY(%s) AND step >= %s AND step <= %s ORDER BY step, key_id",
            [run.id, list(ids), lo, last],
        )
        points = cur.fetchall()
    start = run.created_at.timestamp()
    rows: list[dict] = []
    row: dict | None = None
    for step, key_id, value, wall in points:
        if row is None or row["_step"] != step:
            row = {"_step": step, "_timestamp": wall, "_runtime": wall - start}
            rows.append(row)
        elif wall > row["_timestamp"]:
            row["_timestamp"] = wall
            row["_runtime"] = wall - start
        if not math.isfinite(value):
            value = json_safe(value)
        elif key_id in integral:
            value = int(value)
        row[ids[key_id]] = value
    if require_all:
        need = len(ids)
        rows = [r for r in rows if len(r) - 3 == need]
    return ScanPage(rows, last + 1 if more else None)


# --------------------------------------------------------------------------- export


def _points_chunks(run: Run, keys: dict) -> Iterator[tuple[str, list[tuple]]]:
    """(key name, [(step, value, wall_time), …]) in key-then-step order, keyset-paged so
    no transaction or server-side cursor stays open while the client downloads."""
    for name, key in keys.items():
        after = -1
        while True:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT step, value, wall_time FROM runs_point WHERE run_id = %s "
                    "AND key_id = %s AND step > %s ORDER BY step LIMIT %s",
                    [run.id, key.id, after, EXPORT_CHUNK],
                )
                rows = cur.fetchall()
            if not rows:
                break
            yield name, rows
            if len(rows) < EXPORT_CHUNK:
                break
            after = rows[-1][0]


def _csv_float(value: float) -> str:
    return repr(value) if math.isfinite(value) else json_safe(value)


def export_csv(team, run: Run, keys: list[str] | None) -> Iterator[bytes]:
    """CSV rows key,step,value,wall_time; floats in shortest round-trip form, non-finite
    values as NaN / Infinity / -Infinity."""
    found = run_keys(team, run, keys, include_system=keys is not None)
    yield b"key,step,value,wall_time\r\n"
    for name, rows in _points_chunks(run, found):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows((name, s, _csv_float(v), _csv_float(w)) for s, v, w in rows)
        yield buffer.getvalue().encode()


class _Sink(io.RawIOBase):
    """A write-only file for pyarrow whose bytes are drained after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


def export_parquet(team, run: Run, keys: list[str] | None) -> Iterator[bytes]:
    """Parquet with columns key (dictionary-encoded string), step, value, wall_time;
    one row group per chunk, streamed as written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found = run_keys(team, run, keys, include_system=keys is not None)
    schema = pa.schema(
        [
            ("key", pa.dictionary(pa.int32(), pa.string())),
            ("step", pa.int64()),
            ("value", pa.float64()),
            ("wall_time", pa.float64()),
        ]
    )
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for name, rows in _points_chunks(run, found):
            steps, values, walls = zip(*rows, strict=True)
            table = pa.table(
                {
                    "key": pa.DictionaryArray.from_arrays(
                        pa.array([0] * len(steps), pa.int32()), pa.array([name])
                    ),
                    "step": pa.array(steps, pa.int64()),
                    "value": pa.array(values, pa.float64()),
                    "wall_time": pa.array(walls, pa.float64()),
                },
                schema=schema,
            )
            writer.write_table(table)
            chunk = sink.drain()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.drain()


# --------------------------------------------------------------------------- grouped charts

GROUPED_FIELDS = (
    "x_start", "x_end", "step_start", "step_end", "runs", "count",
    "mean", "std", "mean_min", "mean_max", "min", "max",
)  # fmt: skip


def _group_key(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def grouped_chart(
    team,
    selection: list,
    *,
    keys: list[str],
    x_axis: str = "_step",
    min_step: int | None = None,
    max_step: int | None = None,
    buckets: int = 1000,
) -> dict:
    """One series per (group, key) over `selection` (runs_selectors.ChartRun, each with its
    group value), on buckets aligned across all runs (`bucket_width`, as in `chart`).

    Per bucket: `runs` (runs with a finite value there), `mean` / `std` (population) /
    `mean_min` / `mean_max` of those runs' bucket means, the exact `min` / `max` of every
    point of the group's runs, `count` points, and the step and x range (x as in `chart`,
    widened over the group's runs). Computed in one SQL statement from the same rollup
    pieces as `chart` (whole buckets from the coarsest level, ragged edges from finer
    levels and raw points), so its cost grows with runs x buckets, never with points.
    """
    if not 1 <= buckets <= MAX_BUCKETS:
        raise field_error(f"buckets must be 1-{MAX_BUCKETS}.", "buckets")
    wanted = list(dict.fromkeys(keys))
    if len(wanted) > MAX_KEYS:
        raise field_error(f"At most {MAX_KEYS} keys per request.", "keys")
    by_value: dict[bytes, dict] = {}
    for run in selection:
        group = by_value.setdefault(_group_key(run.group), {"value": run.group, "runs": []})
        group["runs"].append(run)
    # Groups in a stable order: by value (strings and numbers by their text), None last.
    groups = sorted(by_value.values(), key=lambda g: (g["value"] is None, str(g["value"])))
    group_of_run: dict[int, int] = {}
    for i, group in enumerate(groups):
        for run in group.pop("runs"):
            group_of_run[run.pk] = i
            group.setdefault("run_ids", []).append(run.uid)
    out = {"x_axis": x_axis, "bucket_width": None, "groups": groups}
    for group in groups:
        group["series"] = {k: {f: [] for f in GROUPED_FIELDS} for k in wanted}
    names = [*wanted, x_axis] if x_axis not in X_AXES else wanted
    found = list(
        MetricKey.objects.for_team(team)
        .filter(run_id__in=list(group_of_run), name__in=names)
        .values_list("id", "run_id", "name", "min_step", "max_step")
    )
    if x_axis not in X_AXES and selection and not any(r[2] == x_axis for r in found):
        raise field_error(
            f"x_axis {x_axis!r} is neither _step, _runtime, _timestamp nor a key.", "x_axis"
        )
    with_data = [r for r in found if r[4] is not None and r[2] in wanted]
    if not with_data:
        return out
    lo = min(r[3] for r in with_data) if min_step is None else max(0, min_step)
    hi = max(r[4] for r in with_data) if max_step is None else max_step
    if hi < lo:
        return out
    shift = rollups.bucket_shift(lo, hi, buckets)
    out["bucket_width"] = 1 << shift
    index = {name: i for i, name in enumerate(wanted)}
    # kx: the key's index in `wanted`; -1 for the x-axis key when it is not charted itself.
    x_kx = index.get(x_axis, -1) if x_axis not in X_AXES else None
    start_of = {run.pk: run.start for run in selection}
    rows = [r for r in found if r[4] is not None and (r[2] in index or r[2] == x_axis)]
    arrays = (
        [r[1] for r in rows],
        [r[0] for r in rows],
        [group_of_run[r[1]] for r in rows],
        [index.get(r[2], -1) for r in rows],
        [start_of[r[1]] for r in rows],
    )
    result = _grouped_rows(arrays, lo, hi, shift, x_kx)
    x_of: dict[tuple[int, int], tuple] = {}
    if x_kx is not None:
        x_of = {(r[0], r[2]): (r[17], r[18]) for r in result if r[1] == x_kx}
    for (grp, kx, b, nruns, mean, std, mmin, mmax, vmin, vmax, count, fstep, lstep,
         wmin, wmax, rmin, rmax, _, _) in result:  # fmt: skip
        if kx < 0:
            continue
        series = groups[grp]["series"][wanted[kx]]
        if x_axis == "_step":
            xs, xe = fstep, lstep
        elif x_axis == "_timestamp":
            xs, xe = wmin, wmax
        elif x_axis == "_runtime":
            xs, xe = rmin, rmax
        else:
            xs, xe = x_of.get((grp, b), (None, None))
        for name, value in (
            ("x_start", xs), ("x_end", xe), ("step_start", fstep), ("step_end", lstep),
            ("runs", nruns), ("count", count), ("mean", mean), ("std", std),
            ("mean_min", mmin), ("mean_max", mmax), ("min", vmin), ("max", vmax),
        ):  # fmt: skip
            series[name].append(value)
    for group in groups:
        for series in group["series"].values():
            for name in ("x_start", "x_end", "mean", "std", "mean_min", "mean_max", "min", "max"):
                series[name] = _finite(series[name])
    return out


_GROUPED_ROLLUP_PIECE = (
    "SELECT k.grp, k.run_id, k.kx, k.t0, r.bucket << %s AS s, r.count, r.nan_count, r.sum, "
    "r.min, r.max, r.first_step, r.first, r.last_step, r.last, r.wall_min, r.wall_max "
    "FROM k JOIN runs_rollup r ON r.run_id = k.run_id AND r.key_id = k.key_id "
    "AND r.level = %s AND r.bucket >= %s AND r.bucket < %s"
)
_GROUPED_RAW_PIECE = (
    "SELECT k.grp, k.run_id, k.kx, k.t0, p.step AS s, 1::bigint, "
    "CASE WHEN p.value = 'NaN' THEN 1 ELSE 0 END::bigint, "
    "CASE WHEN p.value = 'NaN' THEN 0 ELSE p.value END, "
    "NULLIF(p.value, 'NaN'), NULLIF(p.value, 'NaN'), p.step, p.value, p.step, p.value, "
    "p.wall_time, p.wall_time FROM k JOIN runs_point p ON p.run_id = k.run_id "
    "AND p.key_id = k.key_id AND p.step >= %s AND p.step < %s"
)
_PIECE_COLUMNS = (
    "grp, run_id, kx, t0, s, count, nan_count, sum, min, max, "
    "first_step, first, last_step, last, wall_min, wall_max"
)


def _grouped_rows(arrays, lo: int, hi: int, shift: int, x_kx: int | None) -> list[tuple]:
    """Per (group, kx, bucket): runs, mean/std/min/max of run means, exact min/max, count,
    step range, wall range, runtime range, and (for the x key) first/last x value."""
    selects, params = [], []
    for level, a, b in rollups.decompose(lo, hi + 1, rollups.source_level(shift)):
        if level == rollups.RAW:
            selects.append(_GROUPED_RAW_PIECE)
            params += [a, b]
        else:
            selects.append(_GROUPED_ROLLUP_PIECE)
            params += [level, level, a >> level, b >> level]
    # The x key's first/last value per run and bucket (ordered aggregates, so only when
    # the x axis is a key, and only over that key's rows).
    if x_kx is None:
        x_first = x_last = "NULL::float8"
        x_params: list = []
    else:
        x_first = "(array_agg(first ORDER BY first_step) FILTER (WHERE kx = %s))[1]"
        x_last = "(array_agg(last ORDER BY last_step DESC) FILTER (WHERE kx = %s))[1]"
        x_params = [x_kx, x_kx]
    mean = "(t / NULLIF(c - n, 0))"
    # Only constant SQL fragments are joined here; every value is a bound parameter.
    sql = (
        "WITH k AS MATERIALIZED (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], "  # noqa: S608
        "%s::int[], %s::float8[]) AS k(run_id, key_id, grp, kx, t0)), "
        f"pieces ({_PIECE_COLUMNS}) AS (" + " UNION ALL ".join(selects) + "), "  # noqa: S608
        "per_run AS (SELECT grp, run_id, kx, s >> %s AS b, sum(count) AS c, "
        "sum(nan_count) AS n, sum(sum) AS t, min(min) AS mn, max(max) AS mx, "
        "min(first_step) AS fs, max(last_step) AS ls, min(wall_min) AS wmin, "
        f"max(wall_max) AS wmax, min(t0) AS t0, {x_first} AS xf, {x_last} AS xl "
        "FROM pieces GROUP BY grp, run_id, kx, b) "
        f"SELECT grp, kx, b, count({mean})::int, avg({mean}), stddev_pop({mean}), "
        f"min({mean}), max({mean}), min(mn), max(mx), sum(c)::bigint, min(fs), max(ls), "
        "min(wmin), max(wmax), min(wmin - t0), max(wmax - t0), min(xf), max(xl) "
        "FROM per_run GROUP BY grp, kx, b ORDER BY grp, kx, b"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*arrays, *params, shift, *x_params])
        return cur.fetchall()
