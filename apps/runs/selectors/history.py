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
import psycopg
from django.db import connection, transaction

from apps.core.errors import field_error
from apps.core.jsonlimits import encodable
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
    try:
        if math.isfinite(sum(values)):  # any NaN or ±Inf (or an overflow) makes it not
            return values
    except TypeError:  # a None among them
        pass
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
    return charts(
        team,
        [run],
        keys=keys,
        x_axis=x_axis,
        min_step=min_step,
        max_step=max_step,
        buckets=buckets,
    )[0]


@dataclass
class _RunChart:
    """One run's share of a multi-run chart read: its keys, range and bucket shift."""

    run: Run
    found: dict[str, MetricKey]
    with_data: list[MetricKey]
    out: dict
    shift: int | None = None
    x_key: MetricKey | None = None


def charts(
    team,
    runs: list[Run],
    *,
    keys: list[str],
    x_axis: str = "_step",
    min_step: int | None = None,
    max_step: int | None = None,
    buckets: int = 1000,
) -> list[dict]:
    """`chart` of each run in `runs` (same answer, same order), read with two queries
    whatever the number of runs: the runs' keys, then every run's bucket pieces in one
    statement. Each run keeps its own step range and bucket width, as if read alone.
    `runs` must come from a team-scoped lookup; keys are read with `team` as well."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise field_error(f"buckets must be 1-{MAX_BUCKETS}.", "buckets")
    wanted = list(dict.fromkeys(keys))
    names = [*wanted, x_axis] if x_axis not in X_AXES else wanted
    if len(names) > MAX_KEYS:
        raise field_error(f"At most {MAX_KEYS} keys per request.", "keys")
    keys_of: dict[int, dict[str, MetricKey]] = {run.pk: {} for run in runs}
    for key in (
        MetricKey.objects.for_team(team)
        .filter(run_id__in=list(keys_of), name__in=names)
        .only("id", "run_id", "name", "min_step", "max_step", "integral")
    ):
        keys_of[key.run_id][key.name] = key
    plans: list[_RunChart] = []
    for run in runs:
        found = keys_of[run.pk]
        if x_axis not in X_AXES and x_axis not in found:
            raise field_error(
                f"x_axis {x_axis!r} is neither _step, _runtime, _timestamp nor a key.",
                "x_axis",
            )
        out = {
            "run": run.uid,
            "x_axis": x_axis,
            "bucket_width": None,
            "series": {k: _empty_series() for k in wanted},
        }
        with_data = [found[k] for k in wanted if k in found and found[k].max_step is not None]
        plans.append(_RunChart(run, found, with_data, out))
    # One row per (run, key, piece): the pieces of each run's own range (rollups.decompose).
    columns: tuple[list, ...] = ([], [], [], [], [], [])
    for plan in sorted(plans, key=lambda plan: plan.run.pk):
        if not plan.with_data:
            continue
        lo = min(k.min_step for k in plan.with_data) if min_step is None else max(0, min_step)
        hi = max(k.max_step for k in plan.with_data) if max_step is None else max_step
        if hi < lo:
            continue
        plan.shift = rollups.bucket_shift(lo, hi, buckets)
        plan.out["bucket_width"] = 1 << plan.shift
        ids = [k.id for k in plan.with_data]
        plan.x_key = plan.found.get(x_axis) if x_axis not in X_AXES else None
        if plan.x_key is not None and plan.x_key.id not in ids:
            ids.append(plan.x_key.id)
        # In (run, key, step) order: the scans then yield rows already in the order the
        # statement sorts them by, which PostgreSQL's sort checks for first.
        pieces = sorted(
            rollups.decompose(lo, hi + 1, rollups.source_level(plan.shift)),
            key=lambda piece: piece[1],
        )
        for key_id in sorted(ids):
            for level, a, b in pieces:
                row = (plan.run.pk, key_id, level, a >> level, _bigint(b >> level), plan.shift)
                for column, value in zip(columns, row, strict=True):
                    column.append(value)
    rows_of: dict[tuple[int, int], list[tuple]] = {}
    for row in _bucket_rows(columns) if columns[0] else []:
        rows_of.setdefault((row[0], row[1]), []).append(row)
    for plan in plans:
        if plan.shift is not None:
            _fill_series(plan, x_axis, rows_of)
    return [plan.out for plan in plans]


def _bigint(bound: int) -> int:
    """A range's exclusive end as a bigint: max_step may be 2^63 - 1, so its end is 2^63;
    no step exceeds MAX_STEP, so 2^63 - 1 ends the range as well."""
    return min(bound, 2**63 - 1)


def _fill_series(plan: _RunChart, x_axis: str, rows_of: dict) -> None:
    run_id = plan.run.pk
    x_of: dict[int, tuple] = {}
    if plan.x_key is not None:
        x_of = {r[2]: (r[9], r[11]) for r in rows_of.get((run_id, plan.x_key.id), [])}
    start = plan.run.created_at.timestamp()
    for key in plan.with_data:
        rows = rows_of.get((run_id, key.id))
        if not rows:
            continue
        (_, _, b, count, nans, total, vmin, vmax, fstep, first, lstep, last, wmin, wmax) = (
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
        plan.out["series"][key.name] = {
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


def _empty_series() -> dict:
    return {
        name: []
        for name in (
            "x_start", "x_end", "step_start", "step_end", "count",
            "min", "max", "mean", "first", "last",
        )
    }  # fmt: skip


# The rows of one piece (rollups.decompose) of one run's key: rollup buckets of the
# piece's level, or raw points (level 0), from a primary-key range scan of the run's
# partition (LATERAL: runtime partition pruning, however many runs are read). {run},
# {key}, {level}, {a}, {b} name the columns holding the piece: a/b are bucket numbers of
# its level (steps for raw points). The raw branch is left out when no piece is raw.
_ROLLUP_SCAN = """
    SELECT r.bucket << r.level AS s, r.count, r.nan_count, r.sum, r.min, r.max,
           r.first_step, r.first, r.last_step, r.last, r.wall_min, r.wall_max
    FROM runs_rollup r
    WHERE {level} > 0 AND r.run_id = {run} AND r.key_id = {key}
      AND r.level = {level} AND r.bucket >= {a} AND r.bucket < {b}
"""
_RAW_SCAN = """
    UNION ALL
    SELECT p.step, 1::bigint, CASE WHEN p.value = 'NaN' THEN 1 ELSE 0 END::bigint,
           CASE WHEN p.value = 'NaN' THEN 0 ELSE p.value END,
           NULLIF(p.value, 'NaN'), NULLIF(p.value, 'NaN'),
           p.step, p.value, p.step, p.value, p.wall_time, p.wall_time
    FROM runs_point p
    WHERE {level} = 0 AND p.run_id = {run} AND p.key_id = {key}
      AND p.step >= {a} AND p.step < {b}
"""


def _piece_scan(with_raw: bool, **columns: str) -> str:
    """The scan of one piece, reading the piece from the named columns (constants)."""
    return (_ROLLUP_SCAN + (_RAW_SCAN if with_raw else "")).format(**columns)


# Per (run, key, piece) row of `q`, its rows (_piece_scan), then per chart bucket the
# aggregates. Each bucket's first/last value belong to the piece holding its lowest/
# highest step: a window finds those steps and FILTER picks the one row (an ordered
# aggregate, array_agg(first ORDER BY first_step), sorts per bucket and cost ~5x the
# whole query). Counts are summed as float8 (exact below 2^53 > MAX_STEP): sum(bigint)
# adds in numeric.
_CHART_SQL = """
WITH q AS MATERIALIZED (
    SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::bigint[], %s::bigint[],
                         %s::int[]) AS q(run_id, key_id, level, a, b, shift)
), pieces AS (
    SELECT q.run_id, q.key_id, x.s >> q.shift AS b, x.count, x.nan_count, x.sum, x.min,
           x.max, x.first_step, x.first, x.last_step, x.last, x.wall_min, x.wall_max
    FROM q CROSS JOIN LATERAL ({scan}) AS x
), ends AS (
    SELECT *, min(first_step) OVER w AS fs, max(last_step) OVER w AS ls FROM pieces
    WINDOW w AS (PARTITION BY run_id, key_id, b)
)
SELECT run_id, key_id, b, sum(count::float8)::bigint, sum(nan_count::float8)::bigint,
       sum(sum), min(min), max(max), min(first_step), max(first) FILTER (WHERE first_step = fs),
       max(last_step), max(last) FILTER (WHERE last_step = ls), min(wall_min), max(wall_max)
FROM ends GROUP BY run_id, key_id, b ORDER BY run_id, key_id, b
"""
_Q_COLUMNS = {"run": "q.run_id", "key": "q.key_id", "level": "q.level", "a": "q.a", "b": "q.b"}


# The planner prices each LATERAL scan as if it read every partition, so a chart of a few
# runs passes jit_above_cost and PostgreSQL spends ~300 ms compiling a ~10 ms query.
NO_JIT = "SET LOCAL jit = off"


def _bucket_rows(columns: tuple[list, ...]) -> list[tuple]:
    """(run_id, key_id, bucket, count, nan_count, sum, min, max, first_step, first,
    last_step, last, wall_min, wall_max) per chart bucket of each (run, key) in
    `columns`: the q arrays (run_id, key_id, level, a, b, shift) of `_CHART_SQL`."""
    scan = _piece_scan(rollups.RAW in columns[2], **_Q_COLUMNS)
    # Only constant SQL fragments are formatted in; every value is a bound parameter.
    return _fetch_binary(_CHART_SQL.format(scan=scan), list(columns))


def _fetch_binary(sql: str, params, *settings: str) -> list[tuple]:
    """All rows of one read of the metric store, JIT off (and `settings`: SET LOCAL
    statements) for this transaction only, in PostgreSQL's binary format.

    A chart answers thousands of rows of floats: parsing them from text cost as much as
    the query. Binary results need server-side parameter binding, so this takes a plain
    psycopg cursor on Django's connection (not its client-side-binding cursor), wrapped
    by Django so the statement is logged and passes execute wrappers like any other."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    raw.format = psycopg.pq.Format.BINARY
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with transaction.atomic(), wrap(raw) as cur:
        for setting in (NO_JIT, *settings):
            cur.execute(setting)
        cur.execute(sql, params)
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
    # encodable: a config value stored before the JSON limits may nest past orjson's limit
    return orjson.dumps(encodable(value), option=orjson.OPT_SORT_KEYS)


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
    shift = rollups.grouped_shift(lo, hi, buckets)
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


# Per (run, key) of `k`: that run's bucket aggregates (m: the run's bucket mean), inside
# a LATERAL so each aggregation is small (one run's buckets, in memory) and every scan is
# a primary-key range scan of that run's partition (_piece_scan, the pieces `pc` being
# the same for every run); then the groups' statistics over those per-run rows. Before
# (one aggregation over every piece row of all runs) the planner read the whole rollup
# table by sequential scans and sorted on disk: 1.9 s for 100 runs x 100,000 steps.
# The x key's first/last value per bucket: the window/FILTER pattern of _CHART_SQL.
_GROUPED_SQL = """
WITH k AS MATERIALIZED (
    SELECT * FROM unnest(%(run_id)s::bigint[], %(key_id)s::bigint[], %(grp)s::int[],
                         %(kx)s::int[], %(t0)s::float8[]) AS k(run_id, key_id, grp, kx, t0)
), pc AS MATERIALIZED (
    SELECT * FROM unnest(%(level)s::int[], %(a)s::bigint[], %(b)s::bigint[]) AS pc(level, a, b)
), per_run AS (
    SELECT k.grp, k.run_id, k.kx, k.t0, x.*
    FROM k CROSS JOIN LATERAL (
        SELECT b, sum(count::float8) AS c, min(min) AS mn, max(max) AS mx,
               sum(sum) / NULLIF(sum(count::float8) - sum(nan_count::float8), 0) AS m,
               min(first_step) AS fs, max(last_step) AS ls, min(wall_min) AS wmin,
               max(wall_max) AS wmax, {x_first} AS xf, {x_last} AS xl
        FROM (
            SELECT y.*, y.s >> %(shift)s AS b{x_window}
            FROM pc CROSS JOIN LATERAL ({scan}) AS y
        ) AS z
        GROUP BY b
    ) AS x
)
SELECT grp, kx, b, count(m)::int, avg(m), stddev_pop(m), min(m), max(m), min(mn), max(mx),
       sum(c)::bigint, min(fs), max(ls), min(wmin), max(wmax), min(wmin - t0),
       max(wmax - t0), min(xf), max(xl)
FROM per_run GROUP BY grp, kx, b ORDER BY grp, kx, b
"""
_K_COLUMNS = {"run": "k.run_id", "key": "k.key_id", "level": "pc.level", "a": "pc.a", "b": "pc.b"}
_X_WINDOW = (
    ", min(y.first_step) OVER (PARTITION BY y.s >> %(shift)s) AS xfs"
    ", max(y.last_step) OVER (PARTITION BY y.s >> %(shift)s) AS xls"
)
# The final aggregation reads one row per run and bucket (100 runs x 1,000 buckets): in
# the default 4 MB its sort spilled to disk.
GROUPED_WORK_MEM = "SET LOCAL work_mem = '32MB'"


def _grouped_rows(arrays, lo: int, hi: int, shift: int, x_kx: int | None) -> list[tuple]:
    """Per (group, kx, bucket): runs, mean/std/min/max of run means, exact min/max, count,
    step range, wall range, runtime range, and (for the x key) first/last x value."""
    pieces = sorted(rollups.decompose(lo, hi + 1, rollups.source_level(shift)), key=lambda p: p[1])
    run_id, key_id, grp, kx, t0 = arrays
    params = {
        "run_id": run_id, "key_id": key_id, "grp": grp, "kx": kx, "t0": t0,
        "level": [level for level, _, _ in pieces],
        "a": [a >> level for level, a, _ in pieces],
        "b": [_bigint(b >> level) for level, _, b in pieces],
        "shift": shift,
    }  # fmt: skip
    fragments = {"x_first": "NULL::float8", "x_last": "NULL::float8", "x_window": ""}
    if x_kx is not None:  # the x key's values are needed only when the x axis is a key
        fragments = {
            "x_first": "max(first) FILTER (WHERE first_step = xfs)",
            "x_last": "max(last) FILTER (WHERE last_step = xls)",
            "x_window": _X_WINDOW,
        }
    scan = _piece_scan(any(level == rollups.RAW for level, _, _ in pieces), **_K_COLUMNS)
    # Only constant SQL fragments are formatted in; every value is a bound parameter.
    sql = _GROUPED_SQL.format(scan=scan, **fragments)
    return _fetch_binary(sql, params, GROUPED_WORK_MEM)
