"""End-to-end ingest: SDK-shaped batches -> HTTP -> PostgreSQL, against its ceiling and MLflow.

    .venv/bin/python bench/ingest.py [--procs 4] [--points-per-proc 500000] [--batch 10000]

In one invocation, with the same number of client processes each time:
  gradline  POST .../runs/<run>/ingest, gzip (level 1) bodies of `--batch` points over
            `--keys` keys, as the SDK sends them: binary batches (application/x-gradline-
            batch, encoded by gradline.batchfmt); `--body json` sends JSON lists instead;
            each client owns one run and waits for each answer (like the SDK's uploader).
  copy      PostgreSQL binary COPY of the same points straight into an equivalent table
            (run_id, key_id, step, value, wall_time, PK (run_id, key_id, step)) in the
            same database, one transaction per batch: the ceiling our ingest is judged by.
  mlflow    MLflow 3.17.2 `log_batch`, 1,000 metrics per request, PostgreSQL backend,
            `--workers 1` (its best configuration) and its default 4 workers.

Request bodies and COPY payloads are encoded before the clock starts (the server and
the database are measured, not the client's encoder; the SDK encodes on its own thread).
MLflow's client encodes in the loop; at its rate that costs it little.
Prints name=value lines; targets (DESIGN.md §9): >= 150,000 points/s, >= 60% of COPY,
>= 15x MLflow's best configuration.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing as mp
import random
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    GradlineServer,
    Http,
    MlflowServer,
    db_url,
    emit,
    emit_context,
    emit_load,
    note,
    peers_available,
    run_peer,
)

COPY_TABLE = "bench_copy_points"
COPY_SQL = f"COPY {COPY_TABLE} (run_id, key_id, step, value, wall_time) FROM STDIN (FORMAT BINARY)"


def _points(proc_index: int, count: int, keys: int, batch: int):
    """Batches of (key_index, step, value, wall_time) for one client, deterministic."""
    rng = random.Random(proc_index)
    steps = count // keys
    wall0 = time.time()
    rows = []
    for step in range(steps):
        wall = wall0 + step * 0.001
        for key in range(keys):
            rows.append((key, step, rng.random(), wall))
            if len(rows) == batch:
                yield rows
                rows = []
    if rows:
        yield rows


# -- Gradline client ----------------------------------------------------------------


def _gradline_client(url, api_key, path, args, index, barrier, results):
    import orjson

    names = [f"train/metric_{k}" for k in range(args.keys)]
    bodies = []
    sent = 0
    for rows in _points(index, args.points_per_proc, args.keys, args.batch):
        if args.body == "binary":
            from gradline import batchfmt

            columns = batchfmt.Columns()
            for k, step, value, wall in rows:
                columns.append(k, step, value, wall)
            raw = batchfmt.encode(names, columns, batchfmt.Columns(), {"heartbeat": True})
        else:
            payload = {"points": [[names[k], step, value, wall] for k, step, value, wall in rows]}
            raw = orjson.dumps(payload)
        bodies.append((gzip.compress(raw, args.gzip_level), len(rows)))
    http = Http(url, api_key)
    ctype = "application/x-gradline-batch" if args.body == "binary" else "application/json"
    headers = {"Content-Encoding": "gzip", "Content-Type": ctype}
    # Warm the connection and the worker (auth, imports) outside the clock.
    warm = orjson.dumps({"points": [["warmup", 0, 0.0, time.time()]]})
    status, _, data = http.request("POST", path, warm, {"Content-Type": "application/json"})
    if status != 200:
        results[index] = ("error", f"warm-up -> {status} {data[:300]!r}")
        return
    barrier.wait()
    start = time.perf_counter()
    deadline = start + args.max_seconds
    accepted = duplicates = rejected = 0
    latencies = []
    for body, count in bodies:
        t0 = time.perf_counter()
        status, _, data = http.request("POST", path, body, headers)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            results[index] = ("error", f"ingest -> {status} {data[:300]!r}")
            return
        answer = orjson.loads(data)
        accepted += answer.get("accepted", 0)
        duplicates += answer.get("duplicates", 0)
        rejected += answer.get("rejected", 0)
        sent += count
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    http.close()
    results[index] = ("ok", sent, accepted, duplicates, rejected, elapsed, latencies)


def measure_gradline(args) -> dict:
    import orjson  # noqa: F401  (fail early when the app venv lacks it)

    with GradlineServer(workers=args.server_workers) as server:
        http = Http(server.url, server.api_key)
        paths = []
        for i in range(args.procs):
            run = http.json(
                "POST", f"{server.project_path}/runs", {"id": f"ingest-{i}", "name": f"ingest-{i}"}
            )
            paths.append(f"{server.project_path}/runs/{run['id']}/ingest")
        http.close()
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(args.procs + 1)
        manager = ctx.Manager()
        results = manager.dict()
        procs = [
            ctx.Process(
                target=_gradline_client,
                args=(server.url, server.api_key, paths[i], args, i, barrier, results),
            )
            for i in range(args.procs)
        ]
        for proc in procs:
            proc.start()
        barrier.wait(timeout=300)
        start = time.perf_counter()
        for proc in procs:
            proc.join(args.max_seconds + 120)
            if proc.is_alive():
                proc.kill()
        wall = time.perf_counter() - start
        outcome = dict(results)
        manager.shutdown()
        errors = [r[1] for r in outcome.values() if r[0] == "error"]
        if errors or len(outcome) != args.procs:
            raise RuntimeError(f"gradline clients failed: {errors or 'did not finish'}")
        sent = sum(r[1] for r in outcome.values())
        accepted = sum(r[2] for r in outcome.values())
        elapsed = max(r[5] for r in outcome.values())
        latencies = [t for r in outcome.values() for t in r[6]]
        stored = _stored_points(server)
        return {
            "gradline_points_sent": sent,
            "gradline_points_accepted": accepted,
            "gradline_points_duplicates": sum(r[3] for r in outcome.values()),
            "gradline_points_rejected": sum(r[4] for r in outcome.values()),
            "gradline_points_stored": stored if stored is not None else "unknown",
            "gradline_ingest_seconds": elapsed,
            "gradline_ingest_wall_seconds": wall,
            "gradline_request_ms_median": sorted(latencies)[len(latencies) // 2] * 1000,
            "gradline_request_ms_max": max(latencies) * 1000,
            "gradline_ingest_points_per_s": accepted / elapsed,
            "gradline_server_workers": args.server_workers,
        }


def _stored_points(server) -> int | None:
    """Rows in the server's points table (runs_point), or None when it has another name."""
    found = server.sql("SELECT to_regclass('public.runs_point') IS NOT NULL")[0][0]
    return server.sql("SELECT count(*) FROM runs_point")[0][0] if found else None


# -- PostgreSQL COPY ceiling --------------------------------------------------------

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_ROW = struct.Struct("!hiqiqiqidid")  # 5 fields: int8 run, int8 key, int8 step, float8 x2


def _copy_payload(run_id: int, rows) -> bytes:
    pack = _ROW.pack
    parts = [_COPY_HEADER]
    parts.extend(
        pack(5, 8, run_id, 8, key, 8, step, 8, value, 8, wall) for key, step, value, wall in rows
    )
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)


def _copy_client(dsn, args, index, barrier, results):
    import psycopg

    payloads = [
        (_copy_payload(index + 1, rows), len(rows))
        for rows in _points(index, args.points_per_proc, args.keys, args.batch)
    ]
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        barrier.wait()
        start = time.perf_counter()
        deadline = start + args.max_seconds
        sent = 0
        for payload, count in payloads:
            with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
                copy.write(payload)
            conn.commit()
            sent += count
            if time.perf_counter() > deadline:
                break
        results[index] = (sent, time.perf_counter() - start)


def measure_copy(args, database: str) -> dict:
    COPY_DDL = (
        f"CREATE TABLE {COPY_TABLE} (run_id bigint NOT NULL, key_id bigint NOT NULL, "
        "step bigint NOT NULL, value double precision NOT NULL, "
        "wall_time double precision NOT NULL, PRIMARY KEY (run_id, key_id, step))"
        + (" PARTITION BY HASH (run_id)" if args.copy_partitions else "")
    )
    import psycopg

    dsn = db_url(database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        conn.execute(COPY_DDL)
        if args.copy_partitions:
            for i in range(args.copy_partitions):
                conn.execute(
                    f"CREATE TABLE {COPY_TABLE}_p{i} PARTITION OF {COPY_TABLE} "
                    f"FOR VALUES WITH (MODULUS {args.copy_partitions}, REMAINDER {i})"
                )
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.procs)
    manager = ctx.Manager()
    results = manager.dict()
    procs = [
        ctx.Process(target=_copy_client, args=(dsn, args, i, barrier, results))
        for i in range(args.procs)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(args.max_seconds + 300)
        if proc.is_alive():
            proc.kill()
    outcome = dict(results)
    manager.shutdown()
    if len(outcome) != args.procs:
        raise RuntimeError("COPY clients did not finish")
    sent = sum(r[0] for r in outcome.values())
    elapsed = max(r[1] for r in outcome.values())
    with psycopg.connect(dsn, autocommit=True) as conn:
        stored = conn.execute(f"SELECT count(*) FROM {COPY_TABLE}").fetchone()[0]
        conn.execute(f"DROP TABLE {COPY_TABLE}")
    return {
        "postgres_copy_points": sent,
        "postgres_copy_points_stored": stored,
        "postgres_copy_seconds": elapsed,
        "postgres_copy_points_per_s": sent / elapsed,
    }


# -- MLflow -------------------------------------------------------------------------


def measure_mlflow(args, workers: int) -> dict:
    with MlflowServer(workers=workers) as server:
        return run_peer(
            [
                "mlflow-ingest",
                "--url",
                server.url,
                "--procs",
                str(args.procs),
                "--seconds",
                str(args.mlflow_seconds),
                "--keys",
                str(args.keys),
                "--batch",
                "1000",
            ],
            timeout=args.mlflow_seconds + 600,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--procs", type=int, default=4, help="client processes for every system")
    parser.add_argument("--points-per-proc", type=int, default=500_000)
    parser.add_argument(
        "--batch", type=int, default=20_000, help="points per request / COPY (SDK batch_max_points)"
    )
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument(
        "--copy-partitions",
        type=int,
        default=16,
        help="hash partitions of the COPY table (runs_point has 16; 0 = plain table)",
    )
    parser.add_argument("--gzip-level", type=int, default=1)
    parser.add_argument(
        "--body", choices=["binary", "json"], default="binary", help="ingest body format"
    )
    parser.add_argument("--server-workers", type=int, default=2, help="Gradline uvicorn workers")
    parser.add_argument("--max-seconds", type=float, default=120, help="cap per client")
    parser.add_argument("--mlflow-seconds", type=float, default=15)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["gradline", "copy", "mlflow", "mlflow-default"],
    )
    args = parser.parse_args(argv)

    emit_context("ingest")
    emit("procs", args.procs)
    emit("batch_points", args.batch)
    emit("gradline_body", args.body)
    results: dict = {}
    gradline_db = None
    if "gradline" not in args.skip:
        emit_load("gradline")
        try:
            results.update(measure_gradline(args))
        except Exception as exc:  # report and go on with the peers
            note(f"gradline side failed: {exc}")
            results["gradline_error"] = str(exc).splitlines()[0][:200]
    for name, value in results.items():
        emit(name, value)
    if "copy" not in args.skip:
        from _harness import fresh_database

        emit_load("copy")
        with fresh_database("bench_copy") as gradline_db:
            copy = measure_copy(args, gradline_db)
        results.update(copy)
        for name, value in copy.items():
            emit(name, value)
    if peers_available():
        for workers, prefix, skip in (
            (1, "mlflow", "mlflow"),
            (4, "mlflow_default", "mlflow-default"),
        ):
            if skip in args.skip:
                continue
            emit_load(prefix)
            peer = measure_mlflow(args, workers)
            for name, value in peer.items():
                key = (
                    name.replace("mlflow_", f"{prefix}_ingest_", 1)
                    if name != "mlflow_points_per_s"
                    else f"{prefix}_ingest_points_per_s"
                )
                results[key] = float(value)
                emit(key, value)
            emit(f"{prefix}_workers", workers)
    else:
        note("peers not installed (make bench-setup): MLflow skipped")

    gl = results.get("gradline_ingest_points_per_s")
    copy_rate = results.get("postgres_copy_points_per_s")
    best_mlflow = max(
        (
            results[k]
            for k in ("mlflow_ingest_points_per_s", "mlflow_default_ingest_points_per_s")
            if k in results
        ),
        default=None,
    )
    if gl and copy_rate:
        emit("gradline_vs_copy", gl / copy_rate)
    if gl and best_mlflow:
        emit("gradline_vs_mlflow", gl / best_mlflow)
    if gl:
        emit("target_points_per_s_met", int(gl >= 150_000))
        if copy_rate:
            emit("target_vs_copy_met", int(gl / copy_rate >= 0.6))
        if best_mlflow:
            emit("target_vs_mlflow_met", int(gl / best_mlflow >= 15))
    return 0


if __name__ == "__main__":
    sys.exit(main())
