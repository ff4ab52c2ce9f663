"""The storage protocol: one validated `Batch` written for a run in one transaction.

1. Take the run's row lock (`FOR NO KEY UPDATE`, waiting at most the lock timeout: the
   API answers 503 + Retry-After past it). Every writer of a run's points holds it, so
   classification, rollups and key summaries see a stable run; writers of different runs
   never wait for each other.
2. Points above their key's high-water step (the append-only common case) cannot exist
   yet: they are COPYed (binary) straight into runs_point. The others (retries,
   re-syncs, out-of-order steps) are COPYed into a temporary staging table and inserted
   with INSERT … ON CONFLICT DO NOTHING RETURNING; a join against the stored values
   separates duplicates from conflicts. A stored (key, step) is never overwritten.
3. The rollups (runs_rollup, one row per key, level and bucket) and the per-key summaries
   (runs_metrickey) are merged from the points actually inserted.
4. Console lines are inserted by line number (ON CONFLICT DO NOTHING); the run's summary,
   config, console_next and heartbeat are updated.

A deadlock or serialization failure redoes the batch (at most three times); a direct
COPY that meets an existing row (impossible under the lock, handled regardless) redoes it
through staging.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction

from apps.core.errors import NotFound
from apps.runs import rollups
from apps.runs.ingest.contract import MAX_ERRORS_LISTED, PARTS, SYSTEM_PREFIX, Batch, json_number
from apps.runs.ingest.pgcopy import binary_rows, copy_binary
from apps.runs.models import Run

logger = logging.getLogger(__name__)


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
# Attempts of one batch: deadlock victims are redone, a direct COPY that meets a row
# stored meanwhile is redone through staging (each attempt is its own transaction).
WRITE_ATTEMPTS = 5


class _Retry(Exception):
    """The optimistic direct COPY met an existing row: redo the batch through staging."""


def write_batch(run: Run, batch: Batch) -> IngestResult:
    """Store a validated batch for `run` (already resolved through a team-scoped query)."""
    force_staging = False
    last: BaseException | None = None
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _write(run, batch, force_staging=force_staging)
        except _Retry as exc:
            # A row another writer stored meanwhile (a point, or a rollup bucket that the
            # staging path then COPYs): redo through staging, which reads them afresh.
            force_staging, last = True, exc.__cause__
        except (OperationalError, *_RETRYABLE) as exc:
            # Should two transactions still deadlock (e.g. on project keys), PostgreSQL
            # aborts one of them and that batch is simply redone.
            cause = exc if isinstance(exc, _RETRYABLE) else exc.__cause__
            if not isinstance(cause, _RETRYABLE):
                raise
            last = exc
    # Contention that outlasted every attempt: a deadlock answers 503 + Retry-After
    # (apps/api/errors.py), which the SDK retries; nothing of the batch was stored.
    raise last


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
        rows = binary_rows(
            [
                ("run_id", ">i8", run.id),
                ("key_id", ">i8", key_ids[kidx[inserted]]),
                ("step", ">i8", step[inserted]),
                ("value", ">f8", value[inserted]),
                ("wall_time", ">f8", wall[inserted]),
            ]
        )
        try:
            copy_binary(cur, "runs_point", "run_id, key_id, step, value, wall_time", rows)
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
    rows = binary_rows(
        [
            ("pos", ">i8", positions),
            ("key_id", ">i8", key_ids[kidx[staged]]),
            ("step", ">i8", step[staged]),
            ("value", ">f8", value[staged]),
            ("wall_time", ">f8", wall[staged]),
        ]
    )
    copy_binary(cur, "runs_point_stage", "pos, key_id, step, value, wall_time", rows)
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

        rows = binary_rows(
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
            copy_binary(cur, "runs_rollup", _ROLLUP_COLUMNS, rows)
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


def _nullable(values: np.ndarray) -> list:
    return [None if math.isnan(v) else v for v in values.tolist()]


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
