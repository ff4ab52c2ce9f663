"""Raw prediction storage in PostgreSQL (migration 0002): the monthly partitions of
monitoring_prediction, the exactly-once ledger monitoring_prediction_key and the window
aggregates, written in one transaction per batch.

Raw SQL bypasses the tenancy manager, so every function here takes a monitor id that
the caller obtained through a team-scoped query (apps/core/tenancy.py).

Exactly once: ids go into the ledger with INSERT … ON CONFLICT DO NOTHING RETURNING,
and only the returned (fresh) ids reach the partitioned table and the aggregates; a
retried batch, or two concurrent ones, store each prediction id once. Ground truth
sets a row's target only while it is NULL, so it too counts once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
from django.db import connection, transaction

_partitions: set[tuple[str, str]] = set()
_lock = threading.Lock()
STAGE_COLUMNS = (
    "monitor_id, ts, prediction_id, version, num, cat, emb, prediction, scores, latency_ms, error"
)


def _month(ts: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.year, moment.month


def ensure_partitions(cur, timestamps: np.ndarray) -> None:
    """Create the monthly partitions the batch needs (memoized per process and
    database); a concurrent creator is harmless (IF NOT EXISTS under a savepoint)."""
    db = connection.settings_dict["NAME"]
    months = {_month(t) for t in np.unique((timestamps // 86400) * 86400)}
    for year, month in sorted(months):
        name = f"monitoring_prediction_y{year:04d}m{month:02d}"
        if (db, name) in _partitions:
            continue
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        sql = (
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF monitoring_prediction "
            f"FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00') "
            f"TO ('{nxt[0]:04d}-{nxt[1]:02d}-01 00:00+00')"
        )
        try:
            with transaction.atomic():
                cur.execute(sql)
        except Exception:
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is None:
                raise
        # Remembered once committed: a rolled-back transaction takes the partition along.
        transaction.on_commit(lambda key=(db, name): _remember(key))


def _remember(key: tuple[str, str]) -> None:
    with _lock:
        _partitions.add(key)


def _stage(cur) -> None:
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS monitoring_stage "
        "(LIKE monitoring_prediction) ON COMMIT DELETE ROWS"
    )
    cur.execute("TRUNCATE monitoring_stage")


def insert_predictions(monitor_id: int, columns: dict) -> np.ndarray:
    """Store the batch's predictions; returns the mask of those that were new."""
    n = columns["n"]
    if not n:
        return np.zeros(0, dtype=bool)
    ids = columns["ids"]
    moments = [datetime.fromtimestamp(t, UTC) for t in columns["ts"].tolist()]
    num = columns["num"]
    emb = columns["emb"]
    scores = columns["scores"]
    num_rows = [r.tobytes() for r in num.astype("<f8")] if num.shape[1] else [None] * n
    emb_rows = [r.tobytes() for r in emb.astype("<f4")] if emb.shape[1] else [None] * n
    score_rows = [r.tobytes() for r in scores.astype("<f8")] if scores is not None else [None] * n
    cats = columns["cat"] if columns["cat"] and columns["cat"][0] else [None] * n
    preds = columns["prediction"].tolist()
    lat = columns["latency"].tolist()
    versions = columns["version"].tolist()
    errors = columns["error"]
    with connection.cursor() as cursor:
        cur = cursor.cursor  # psycopg's own cursor, for COPY
        ensure_partitions(cursor, columns["ts"])
        _stage(cursor)
        with cur.copy(f"COPY monitoring_stage ({STAGE_COLUMNS}) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row(
                    (
                        monitor_id,
                        moments[i],
                        ids[i],
                        versions[i],
                        num_rows[i],
                        cats[i],
                        emb_rows[i],
                        None if preds[i] != preds[i] else preds[i],
                        score_rows[i],
                        None if lat[i] != lat[i] else lat[i],
                        errors[i],
                    )
                )
        cursor.execute(
            "WITH fresh AS ("
            " INSERT INTO monitoring_prediction_key (monitor_id, prediction_id, ts)"
            " SELECT monitor_id, prediction_id, ts FROM monitoring_stage"
            " ON CONFLICT DO NOTHING RETURNING prediction_id),"
            " stored AS (INSERT INTO monitoring_prediction"
            " SELECT s.* FROM monitoring_stage s JOIN fresh USING (prediction_id) RETURNING 1)"
            " SELECT prediction_id FROM fresh"
        )
        fresh = {row[0] for row in cursor.fetchall()}
        cursor.execute("TRUNCATE monitoring_stage")
    if len(fresh) == n:
        return np.ones(n, dtype=bool)
    return np.fromiter((i in fresh for i in ids), dtype=bool, count=n)


def upsert_windows(team_id: int, monitor_id: int, rows: list[dict]) -> None:
    """Add per-(window, version) sums; rows in key order so concurrent batches lock
    window rows in the same order (no deadlock)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r["start"], r["version"]))
    now = datetime.now(UTC)
    values = []
    params: list = []
    for r in rows:
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
        params += [
            team_id,
            monitor_id,
            r["start"],
            r["version"],
            r.get("count", 0),
            r.get("errors", 0),
            list(map(float, r.get("latency", []))),
            list(map(float, r.get("missing", []))),
            list(map(float, r.get("predictions", []))),
            r.get("labeled", 0),
            list(map(float, r.get("truth", []))),
            now,
        ]
    # The VALUES placeholders are built here; every value is a parameter.
    sql = (
        "INSERT INTO monitoring_window (team_id, monitor_id, start, version, count, errors,"  # noqa: S608
        " latency, missing, predictions, labeled, truth, updated_at) VALUES "
        + ", ".join(values)
        + " ON CONFLICT (monitor_id, start, version) DO UPDATE SET"
        " count = monitoring_window.count + EXCLUDED.count,"
        " errors = monitoring_window.errors + EXCLUDED.errors,"
        " latency = monitoring_add(monitoring_window.latency, EXCLUDED.latency),"
        " missing = monitoring_add(monitoring_window.missing, EXCLUDED.missing),"
        " predictions = monitoring_add(monitoring_window.predictions, EXCLUDED.predictions),"
        " labeled = monitoring_window.labeled + EXCLUDED.labeled,"
        " truth = monitoring_add(monitoring_window.truth, EXCLUDED.truth),"
        " updated_at = EXCLUDED.updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def set_targets(monitor_id: int, ids: list[str], targets: list[float]) -> tuple[list, dict]:
    """Join ground truth by prediction id. Returns (rows newly labelled as (id, ts,
    version, prediction, scores bytes, target), {id: stored target} of ids already
    labelled); ids absent from both were never logged."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prediction_id, ts FROM monitoring_prediction_key"
            " WHERE monitor_id = %s AND prediction_id = ANY(%s)",
            [monitor_id, ids],
        )
        found = dict(cursor.fetchall())
        known = [i for i in ids if i in found]
        if not known:
            return [], {}
        target_of = dict(zip(ids, targets, strict=True))
        cursor.execute(
            "UPDATE monitoring_prediction p SET target = v.target, target_at = now()"
            " FROM unnest(%s::text[], %s::timestamptz[], %s::float8[]) AS v(id, ts, target)"
            " WHERE p.monitor_id = %s AND p.ts = v.ts AND p.prediction_id = v.id"
            " AND p.target IS NULL AND p.prediction IS NOT NULL"
            " RETURNING p.prediction_id, p.ts, p.version, p.prediction, p.scores, p.target",
            [known, [found[i] for i in known], [target_of[i] for i in known], monitor_id],
        )
        labelled = cursor.fetchall()
        done = {row[0] for row in labelled}
        rest = [i for i in known if i not in done]
        before: dict = {}
        if rest:
            cursor.execute(
                "SELECT p.prediction_id, p.target FROM monitoring_prediction p"
                " JOIN unnest(%s::text[], %s::timestamptz[]) AS v(id, ts)"
                " ON p.ts = v.ts AND p.prediction_id = v.id WHERE p.monitor_id = %s",
                [rest, [found[i] for i in rest], monitor_id],
            )
            before = dict(cursor.fetchall())
    return labelled, before


def window_values(
    monitor_id: int, start: datetime, end: datetime, version: int | None, n_num: int, n_cat: int,
    emb_dim: int, n_classes: int,
) -> dict:  # fmt: skip
    """The raw feature values and predictions of one window (drift computation only;
    dashboards read the aggregates)."""
    sql = (
        "SELECT num, cat, emb, prediction FROM monitoring_prediction"
        " WHERE monitor_id = %s AND ts >= %s AND ts < %s"
    )
    params: list = [monitor_id, start, end]
    if version is not None and version >= 0:
        sql += " AND version = %s"
        params.append(version)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    n = len(rows)
    num = (
        np.frombuffer(b"".join(bytes(r[0]) for r in rows), dtype="<f8").reshape(n, n_num)
        if n_num and n
        else np.zeros((n, n_num))
    )
    emb = (
        np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype="<f4").reshape(n, emb_dim)
        if emb_dim and n
        else np.zeros((n, emb_dim), dtype=np.float32)
    )
    cat = [r[1] or [None] * n_cat for r in rows]
    pred = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
    return {"n": n, "num": num, "cat": cat, "emb": emb, "prediction": pred}


def delete_monitor_rows(monitor_id: int, before: datetime | None = None) -> int:
    cond, params = "monitor_id = %s", [monitor_id]
    if before is not None:
        cond += " AND ts < %s"
        params.append(before)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM monitoring_prediction WHERE {cond}", params)  # noqa: S608
        deleted = cursor.rowcount
        cursor.execute(f"DELETE FROM monitoring_prediction_key WHERE {cond}", params)  # noqa: S608
    return deleted


def delete_orphans() -> None:
    """Rows of monitors deleted with their team (a cascade that raw tables do not see)."""
    with connection.cursor() as cursor:
        for table in ("monitoring_prediction", "monitoring_prediction_key"):
            cursor.execute(
                f"DELETE FROM {table} t WHERE NOT EXISTS"  # noqa: S608 - constant names
                " (SELECT 1 FROM monitoring_monitor m WHERE m.id = t.monitor_id)"
            )
