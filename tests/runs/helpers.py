"""Read-back helpers for run tests: what the metric store holds, recomputed independently."""

from __future__ import annotations

import math

from django.db import connection

from apps.runs import rollups


def stored_points(run) -> dict[tuple[str, int], tuple[float, float]]:
    """(key, step) -> (value, wall_time) straight from runs_point."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT k.name, p.step, p.value, p.wall_time FROM runs_point p "
            "JOIN runs_metrickey k ON k.id = p.key_id WHERE p.run_id = %s",
            [run.pk],
        )
        return {(name, step): (value, wall) for name, step, value, wall in cur.fetchall()}


def point_count(run) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs_point WHERE run_id = %s", [run.pk])
        return cur.fetchone()[0]


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_rollups_match_points(run) -> None:
    """Every stored rollup row equals the aggregate recomputed from the raw points, and
    no bucket with points lacks a row: the invariant ingest maintains per batch."""
    with connection.cursor() as cur:
        for level in rollups.LEVELS:
            cur.execute(
                """
                SELECT key_id, step >> %s AS bucket, count(*),
                       count(*) FILTER (WHERE value = 'NaN'),
                       coalesce(sum(value) FILTER (WHERE value <> 'NaN'), 0),
                       min(value) FILTER (WHERE value <> 'NaN'),
                       max(value) FILTER (WHERE value <> 'NaN'),
                       min(step), max(step), min(wall_time), max(wall_time),
                       (array_agg(value ORDER BY step))[1],
                       (array_agg(value ORDER BY step DESC))[1]
                FROM runs_point WHERE run_id = %s GROUP BY 1, 2 ORDER BY 1, 2
                """,
                [level, run.pk],
            )
            expected = cur.fetchall()
            cur.execute(
                "SELECT key_id, bucket, count, nan_count, sum, min, max, first_step, "
                "last_step, wall_min, wall_max, first, last FROM runs_rollup WHERE run_id = %s "
                "AND level = %s ORDER BY 1, 2",
                [run.pk, level],
            )
            stored = cur.fetchall()
            assert len(stored) == len(expected), f"level {level}: {len(stored)} rows"
            for want, got in zip(expected, stored, strict=True):
                assert want[:4] == got[:4], (level, want, got)
                assert same_float(want[4], got[4]) or math.isclose(
                    want[4], got[4], rel_tol=1e-9, abs_tol=1e-9
                ), (level, want, got)
                assert want[5:11] == got[5:11], (level, want, got)
                assert same_float(want[11], got[11]) and same_float(want[12], got[12])


def binary_batch(
    points=(), system=(), *, keys=None, magic: bytes = b"GLB1", pad: bool = True, **parts
) -> bytes:
    """An application/x-gradline-batch body written from the format's description
    (docs/api.md), independently of the SDK's encoder. Records are [key, step, value,
    wall_time]; a record's key may be an int (a raw index into `keys`)."""
    import struct

    import numpy as np
    import orjson

    records = [*points, *system]
    if keys is None:
        keys = list(dict.fromkeys(r[0] for r in records if not isinstance(r[0], int)))
    index = {k: i for i, k in enumerate(keys) if isinstance(k, str)}
    header = orjson.dumps({"keys": keys, "n_points": len(points), "n_system": len(system), **parts})
    if pad:
        header += b" " * (-(8 + len(header)) % 8)
    kidx = [r[0] if isinstance(r[0], int) else index[r[0]] for r in records]
    return b"".join(
        [
            struct.pack("<4sI", magic, len(header)),
            header,
            np.array([r[1] for r in records], "<i8").tobytes(),
            np.array([r[2] for r in records], "<f8").tobytes(),
            np.array([r[3] for r in records], "<f8").tobytes(),
            np.array(kidx, "<u4").tobytes(),
        ]
    )
