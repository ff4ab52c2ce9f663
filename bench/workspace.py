"""Workspace reads at 10,000 runs (200 with 100,000-point series) and at 100,000 runs.

    .venv/bin/python bench/workspace.py [--quick] [--runs 10000] [--series-runs 200] ...

Data: `--runs` runs with 10 config values and 10 summary metrics each
(bench/_runs_data.make_runs, as bench/runs_table.py), loaded by one ORM bulk_create;
the first `--series-runs` of them get a `--points`-step `train/loss` series (`--keys`
adds train/acc, val/loss, ...) written with apps.runs.ingest.write_batch — the ingest
path's bulk writer (binary COPY + rollups), 100,000 points per call like the largest
API request — from `--seed-procs` processes.

Timed on a kept-alive connection, median of `--repeats` after a warm-up; server time
is the Server-Timing `app` duration (client wall time is printed next to it):
  - runs-table first page, as the workspace page asks for it:
    `GET P/runs?order=-created_at&page_size=200&with_total=1` (gradline_runs_page_ms);
    and the filtered, metric-sorted query of bench/runs_table.py with the total
    (gradline_runs_query_ms, checked against the expected top 50);
  - `--charts` charts x `--chart-runs` runs: `GET P/history?runs=<10 ids>&keys=train/loss
    &buckets=1000`, chart i over series runs 10i..10i+9 (gradline_chart_ms: median of
    the per-chart medians; gradline_chart_worst_ms: the slowest chart);
  - one grouped chart over `--group-runs` runs: `GET P/history/grouped?runs=<100 ids>
    &keys=train/loss&group_by=config.optimizer&buckets=1000` (gradline_grouped_ms);
  - then `--big-runs - --runs` more runs are bulk-created and both runs-table queries
    are timed again (gradline_runs_page_100k_ms, gradline_runs_query_100k_ms).

MLflow 3.17.2 (when .venv-peers exists), on the same data loaded by COPY into the schema
its server migrated (runs, params, tags, latest_metrics, metrics; bench/_peer_tasks.py):
`search_runs` ordered by start time (first page of 200) and with the same filter/order;
`get-history-bulk-interval` (the route its UI charts call; the client has no wrapper) for
the same 10 runs per chart with max_results=1000, and for the 100 grouped runs (MLflow
groups in the browser: only its server's fetch is timed); the runs queries again at
100,000 runs. MLflow sends no server timing: its figures are client wall time, and the
ratios divide them by Gradline's client times (like for like).

Targets (issue 8): runs page <= 50 ms; each chart <= 50 ms; grouped <= 150 ms; runs
page at 100,000 runs <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    GradlineServer,
    Http,
    MlflowServer,
    db_url,
    emit,
    emit_context,
    emit_load,
    median,
    note,
    peers_available,
    run_peer,
    server_timing_ms,
)
from _runs_data import expected_top, series_keys
from runs_table import ORM_LOAD_SNIPPET, gradline_query

BENCH = str(Path(__file__).resolve().parent)
PAGE_SIZE = 200  # the workspace table's first page (static/js/workspace-table.js)
BUCKETS = 1000

SERIES_SNIPPET = """
import sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from _runs_data import SERIES_BATCH, series_keys, series_values
from apps.runs.ingest import Batch, write_batch
from apps.runs.models import Run
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
keys = series_keys({keys})
t0 = time.perf_counter()
stored = 0
for i in range({first}, {last}):
    run = Run.objects.for_team(team).get(uid=f"run-{{i:05d}}")
    for k, key in enumerate(keys):
        for first in range(0, {points}, SERIES_BATCH):
            step, value, wall = series_values(i, k, first, min(first + SERIES_BATCH, {points}))
            n = len(step)
            batch = Batch(names=[key], kidx=np.zeros(n, np.int64), step=step, value=value,
                          wall=wall, part=np.zeros(n, np.int8), index=np.arange(n))
            stored += write_batch(run, batch).accepted
print(f"stored={{stored}}")
print(f"seconds={{time.perf_counter() - t0:.3f}}")
"""


def _timed_get(http: Http, path: str, repeats: int) -> tuple[float | None, float, bytes]:
    """(median server ms or None, median client ms, last body) after one warm-up."""
    server, client, data = [], [], b""
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        status, headers, data = http.request("GET", path)
        elapsed = (time.perf_counter() - t0) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path[:200]} -> {status}: {data[:300]!r}")
        if i == 0:
            continue
        client.append(elapsed)
        st = server_timing_ms(headers)
        if st is not None:
            server.append(st)
    return (median(server) if server else None), median(client), data


def _record(out: dict, prefix: str, server_ms, client_ms) -> None:
    out[f"{prefix}_client_ms"] = client_ms
    out[f"{prefix}_ms"] = server_ms if server_ms is not None else client_ms
    out[f"{prefix}_timing"] = "server" if server_ms is not None else "client"


def _seed_runs(server: GradlineServer, total: int, skip: int) -> dict:
    snippet = ORM_LOAD_SNIPPET.format(
        bench=BENCH, team=server.team, project=server.project, runs=total, skip=skip
    )
    return server.shell(snippet, timeout=1800)


def _seed_series(server: GradlineServer, args) -> dict:
    """write_batch for the first series runs, split over --seed-procs shell processes."""
    procs = max(1, min(args.seed_procs, args.series_runs))
    bounds = [args.series_runs * p // procs for p in range(procs + 1)]
    answers: list = [None] * procs

    def work(p: int) -> None:
        snippet = SERIES_SNIPPET.format(
            bench=BENCH,
            team=server.team,
            keys=args.keys,
            first=bounds[p],
            last=bounds[p + 1],
            points=args.points,
        )
        try:
            answers[p] = server.shell(snippet, timeout=3600)
        except Exception as exc:  # reported below
            answers[p] = exc

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(p,)) for p in range(procs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [a for a in answers if isinstance(a, Exception) or a is None]
    if failed:
        raise RuntimeError(f"seeding series failed: {failed[0]}")
    elapsed = time.perf_counter() - start
    stored = sum(int(a["stored"]) for a in answers)
    expected = args.series_runs * args.keys * args.points
    if stored != expected:
        raise RuntimeError(f"seeded {stored} points, expected {expected}")
    return {
        "gradline_series_points": stored,
        "gradline_series_load_s": elapsed,
        "gradline_series_load_points_per_s": stored / elapsed,
    }


def _runs_queries(http: Http, server: GradlineServer, args, runs: int, suffix: str) -> dict:
    import orjson

    out: dict = {}
    page = {"order": "-created_at", "page_size": PAGE_SIZE, "with_total": 1}
    st, ct, data = _timed_get(http, f"{server.project_path}/runs?{urlencode(page)}", args.repeats)
    _record(out, f"gradline_runs_page{suffix}", st, ct)
    answer = orjson.loads(data)
    out[f"gradline_runs_page{suffix}_rows"] = len(answer.get("results", []))
    out[f"gradline_runs_page{suffix}_total"] = answer.get("total")
    query = {**gradline_query(), "with_total": 1}
    st, ct, data = _timed_get(http, f"{server.project_path}/runs?{urlencode(query)}", args.repeats)
    _record(out, f"gradline_runs_query{suffix}", st, ct)
    names = [row.get("name") for row in orjson.loads(data).get("results", [])]
    out[f"gradline_runs_query{suffix}_correct"] = int(names == expected_top(runs))
    return out


def _chart_ids(args, chart: int) -> list[str]:
    first = (chart * args.chart_runs) % max(1, args.series_runs)
    last = min(first + args.chart_runs, args.series_runs)
    return [f"run-{i:05d}" for i in range(first, last)]


def measure_gradline(args) -> dict:
    import orjson

    out: dict = {}
    key = series_keys(1)[0]
    with GradlineServer(workers=args.server_workers) as server:
        emit_load("gradline_seed")
        loaded = _seed_runs(server, args.runs, 0)
        out["gradline_runs_load_s"] = float(loaded["gradline_runs_orm_load_s"])
        out.update(_seed_series(server, args))
        server.sql("ANALYZE")
        emit_load("gradline_measure")
        http = Http(server.url, server.api_key, timeout=300)
        out.update(_runs_queries(http, server, args, args.runs, ""))

        chart_server, chart_client = [], []
        for chart in range(args.charts):
            params = {
                "runs": ",".join(_chart_ids(args, chart)),
                "keys": key,
                "x_axis": "_step",
                "buckets": BUCKETS,
            }
            st, ct, data = _timed_get(
                http, f"{server.project_path}/history?{urlencode(params)}", args.repeats
            )
            chart_client.append(ct)
            if st is not None:
                chart_server.append(st)
            if chart == 0:
                answer = orjson.loads(data)
                out["gradline_chart_runs"] = len(answer["runs"])
                counts = [sum(r["series"][key]["count"]) for r in answer["runs"]]
                out["gradline_chart_counts_match"] = int(
                    all(c == args.points for c in counts) and len(counts) == args.chart_runs
                )
                out["gradline_chart_buckets"] = len(answer["runs"][0]["series"][key]["count"])
        out["gradline_chart_client_ms"] = median(chart_client)
        out["gradline_chart_ms"] = median(chart_server or chart_client)
        out["gradline_chart_worst_ms"] = max(chart_server or chart_client)
        out["gradline_chart_timing"] = "server" if chart_server else "client"

        group_ids = [f"run-{i:05d}" for i in range(min(args.group_runs, args.series_runs))]
        params = {
            "runs": ",".join(group_ids),
            "keys": key,
            "group_by": "config.optimizer",
            "x_axis": "_step",
            "buckets": BUCKETS,
        }
        st, ct, data = _timed_get(
            http, f"{server.project_path}/history/grouped?{urlencode(params)}", args.repeats
        )
        _record(out, "gradline_grouped", st, ct)
        answer = orjson.loads(data)
        out["gradline_grouped_groups"] = len(answer["groups"])
        out["gradline_grouped_runs"] = sum(len(g["run_ids"]) for g in answer["groups"])

        if args.big_runs > args.runs:
            emit_load("gradline_seed_big")
            loaded = _seed_runs(server, args.big_runs, args.runs)
            out["gradline_big_runs_load_s"] = float(loaded["gradline_runs_orm_load_s"])
            server.sql("ANALYZE")
            emit_load("gradline_measure_big")
            # The kept-alive connection idled through the seeding: uvicorn closed it.
            http.close()
            http = Http(server.url, server.api_key, timeout=300)
            out.update(_runs_queries(http, server, args, args.big_runs, "_100k"))
        http.close()
    return out


def measure_mlflow(args) -> dict:
    out: dict = {}
    with MlflowServer(workers=1) as server:
        emit_load("mlflow_seed")
        database = db_url(server.db_name)
        loaded = run_peer(
            [
                "mlflow-runs-load",
                "--url",
                server.url,
                "--db-url",
                database,
                "--runs",
                str(args.runs),
            ],
            timeout=1800,
        )
        experiment = loaded["mlflow_experiment_id"]
        out["mlflow_runs_load_s"] = loaded["mlflow_runs_load_s"]
        series = run_peer(
            [
                "mlflow-series-load",
                "--db-url",
                database,
                "--series-runs",
                str(args.series_runs),
                "--points",
                str(args.points),
                "--keys",
                str(args.keys),
            ],
            timeout=3600,
        )
        out.update(series)
        emit_load("mlflow_measure")
        common = ["--url", server.url, "--experiment-id", experiment, "--page", str(PAGE_SIZE)]
        common += ["--repeats", str(args.mlflow_repeats)]
        out.update(
            run_peer(
                [
                    "mlflow-workspace-query",
                    *common,
                    "--runs",
                    str(args.runs),
                    "--series-runs",
                    str(args.series_runs),
                    "--charts",
                    str(args.charts),
                    "--chart-runs",
                    str(args.chart_runs),
                    "--group-runs",
                    str(args.group_runs),
                    "--max-results",
                    str(BUCKETS),
                ],
                timeout=3600,
            )
        )
        if args.big_runs > args.runs:
            emit_load("mlflow_seed_big")
            loaded = run_peer(
                [
                    "mlflow-runs-load",
                    "--url",
                    server.url,
                    "--db-url",
                    database,
                    "--runs",
                    str(args.big_runs),
                    "--skip",
                    str(args.runs),
                    "--experiment-id",
                    experiment,
                ],
                timeout=1800,
            )
            out["mlflow_big_runs_load_s"] = loaded["mlflow_runs_load_s"]
            emit_load("mlflow_measure_big")
            out.update(
                run_peer(
                    [
                        "mlflow-workspace-query",
                        *common,
                        "--runs",
                        str(args.big_runs),
                        "--runs-only",
                        "--prefix",
                        "mlflow_100k",
                    ],
                    timeout=1800,
                )
            )
    # Names as Gradline's: mlflow_100k_runs_page_ms -> mlflow_runs_page_100k_ms.
    for kind in ("page", "query"):
        for suffix in ("ms", "correct", "rows"):
            old = f"mlflow_100k_runs_{kind}_{suffix}"
            if old in out:
                out[f"mlflow_runs_{kind}_100k_{suffix}"] = out.pop(old)
    return out


QUICK = {
    "runs": 2000,
    "series_runs": 40,
    "points": 10_000,
    "charts": 4,
    "group_runs": 40,
    "big_runs": 5000,
    "repeats": 5,
    "mlflow_repeats": 3,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--runs", type=int, default=int(env("BENCH_WS_RUNS", 10_000)))
    parser.add_argument("--series-runs", type=int, default=int(env("BENCH_WS_SERIES_RUNS", 200)))
    parser.add_argument("--points", type=int, default=int(env("BENCH_WS_POINTS", 100_000)))
    parser.add_argument("--keys", type=int, default=1, help="series keys per long run")
    parser.add_argument("--charts", type=int, default=20)
    parser.add_argument("--chart-runs", type=int, default=10)
    parser.add_argument("--group-runs", type=int, default=100)
    parser.add_argument("--big-runs", type=int, default=int(env("BENCH_WS_BIG_RUNS", 100_000)))
    parser.add_argument("--seed-procs", type=int, default=2)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--mlflow-repeats", type=int, default=5)
    parser.add_argument("--skip", action="append", default=[], choices=["gradline", "mlflow"])
    args = parser.parse_args(argv)
    if args.quick:
        defaults = parser.parse_args([])
        for name, value in QUICK.items():
            if getattr(args, name) == getattr(defaults, name):  # explicit flags win
                setattr(args, name, value)

    emit_context("workspace")
    for name in ("runs", "series_runs", "points", "keys", "charts", "chart_runs"):
        emit(name, getattr(args, name))
    emit("group_runs", args.group_runs)
    emit("big_runs", args.big_runs)
    results: dict = {}
    if "gradline" not in args.skip:
        try:
            gradline = measure_gradline(args)
        except Exception as exc:
            note(f"gradline side failed: {exc}")
            gradline = {"gradline_error": str(exc).splitlines()[0][:200]}
        for name, value in gradline.items():
            emit(name, value)
        results.update(gradline)
    if "mlflow" not in args.skip and peers_available():
        try:
            peer = measure_mlflow(args)
        except Exception as exc:
            note(f"mlflow side failed: {exc}")
            peer = {"mlflow_error": str(exc).splitlines()[0][:200]}
        for name, value in peer.items():
            emit(name, value)
        results.update(peer)
    elif "mlflow" not in args.skip:
        note("MLflow skipped: .venv-peers missing (make bench-setup)")

    # Ratios: MLflow's client time over Gradline's client time.
    for gradline_name, mlflow_name in (
        ("gradline_runs_page_client_ms", "mlflow_runs_page_ms"),
        ("gradline_runs_query_client_ms", "mlflow_runs_query_ms"),
        ("gradline_chart_client_ms", "mlflow_chart_ms"),
        ("gradline_grouped_client_ms", "mlflow_grouped_fetch_ms"),
        ("gradline_runs_page_100k_client_ms", "mlflow_runs_page_100k_ms"),
        ("gradline_runs_query_100k_client_ms", "mlflow_runs_query_100k_ms"),
    ):
        if results.get(gradline_name) and mlflow_name in results:
            ratio_name = mlflow_name.replace("mlflow_", "mlflow_vs_gradline_").replace("_ms", "")
            emit(f"{ratio_name}_ratio", float(results[mlflow_name]) / results[gradline_name])
    for name, limit in (
        ("gradline_runs_page_ms", 50),
        ("gradline_chart_worst_ms", 50),
        ("gradline_grouped_ms", 150),
        ("gradline_runs_page_100k_ms", 100),
    ):
        if isinstance(results.get(name), float):
            emit(f"target_{name[len('gradline_') : -len('_ms')]}_met", int(results[name] <= limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
