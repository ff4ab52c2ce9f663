"""Runs table: 10,000 runs, filter on a config value and a summary metric, order by a metric.

    .venv/bin/python bench/runs_table.py [--runs 10000] [--procs 4]

Data (bench/_runs_data.py, identical for both): each run has 10 config values and 10
summary metrics. The query: config optimizer == "adam" AND summary acc > 0.5, ordered by
summary loss ascending, first 50 rows; both answers are checked against the expected
run names computed in Python.

Gradline load: the first `--api-runs` runs (default 1,000) through the API (`POST runs`
with the config, then one `ingest` per run with the 10 metrics as points at step 0, so the
summaries come from the ingest path) from `--procs` client processes, timed
(gradline_runs_api_load_runs_per_s); the rest through a fast path, one ORM bulk_create of
Run rows with the same config and summary (`--api-runs 10000` loads all through the API:
~20,000 requests, several minutes on this machine). gradline_runs_load says which.
Query: `GET .../runs` with the filter, order and page_size=50, timed `--repeats` times on
a kept-alive connection after a warm-up; the median of the Server-Timing header when sent
(gradline_runs_timing=server), else client wall time; runs_query() is also timed
in-process (gradline_runs_query_selector_ms: SQL + row building, no HTTP).

MLflow load: a fast path (creating 10,000 runs through its REST API would take ~20,000
requests at ~12-50 ms each): one COPY per table into the schema its own server migrated
(runs, tags, params, latest_metrics, metrics); the experiment is created through the API
and the total is checked through `search_runs`. Query: `search_runs` with
"params.optimizer = 'adam' and metrics.acc > 0.5", order_by metrics.loss ASC,
max_results=50, client wall time, median of `--repeats`.
Target (DESIGN.md §9): gradline_runs_query_ms <= 150.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
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
from _runs_data import (
    FILTER_ACC_GT,
    FILTER_OPTIMIZER,
    ORDER_METRIC,
    PAGE,
    expected_top,
    make_runs,
)


def gradline_query() -> dict:
    """Query string of the runs query (the filter language of docs/api.md)."""
    import orjson

    filters = {
        "$and": [
            {"config.optimizer": FILTER_OPTIMIZER},
            {"summary.acc": {"$gt": FILTER_ACC_GT}},
        ]
    }
    return {
        "filters": orjson.dumps(filters).decode(),
        "order": f"summary.{ORDER_METRIC}",  # ascending; "-" prefix for descending
        "page_size": PAGE,
    }


def _load_client(url, api_key, project_path, runs, results, index):
    http = Http(url, api_key)
    now = time.time()
    try:
        for run in runs:
            created = http.json(
                "POST",
                f"{project_path}/runs",
                {"id": run["name"], "name": run["name"], "config": run["config"]},
            )
            points = [[key, 0, value, now] for key, value in run["summary"].items()]
            answer = http.json(
                "POST", f"{project_path}/runs/{created['id']}/ingest", {"points": points}
            )
            if answer.get("accepted") != len(points):
                raise RuntimeError(f"ingest answered {answer}")
        results[index] = ("ok", len(runs))
    except Exception as exc:
        results[index] = ("error", str(exc)[:300])
    finally:
        http.close()


ORM_LOAD_SNIPPET = """
import sys, time
sys.path.insert(0, {bench!r})
from _runs_data import make_runs
from datetime import timedelta
from django.utils import timezone
from apps.accounts.models import User
from apps.projects.services import project_get_or_create
from apps.runs.models import Run
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
user = User.objects.get(email="bench@example.com")
project = project_get_or_create(team=team, name={project!r}, actor=user)
t0 = time.perf_counter()
now = timezone.now()
rows = [
    Run(team=team, project=project, uid=r["name"], name=r["name"], config=r["config"],
        summary=r["summary"], state="finished", created_by=user,
        created_at=now - timedelta(seconds={runs} - i), updated_at=now)
    for i, r in enumerate(make_runs({runs})) if i >= {skip}
]
Run.objects.for_team(team).bulk_create(rows, batch_size=2000)
print(f"gradline_runs_orm_load_s={{time.perf_counter() - t0:.3f}}")
print(f"gradline_runs_orm_loaded={{len(rows)}}")
"""


QUERY_SNIPPET = """
import statistics, time
import orjson
from apps.projects.models import Project
from apps.runs import serializers
from apps.runs.selectors import runs as run_selectors
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
project = Project.objects.for_team(team).get(name={project!r})
filters = orjson.loads({filters!r})
times = []
for i in range({repeats} + 1):
    t0 = time.perf_counter()
    page = run_selectors.runs_query(team, project, filters=filters, order={order!r}, cursor=None,
                                    page_size={page}, with_total=False)
    body = [serializers.run_out(run) for run in page.runs]
    if i:
        times.append((time.perf_counter() - t0) * 1000)
print(f"gradline_runs_query_selector_ms={{statistics.median(times):.3f}}")
"""


def _names(answer) -> list[str]:
    rows = answer.get("runs") or answer.get("results") or answer.get("items") or []
    return [row.get("name") for row in rows]


def measure_gradline(args) -> dict:
    import orjson

    runs = make_runs(args.runs)
    out: dict = {}
    with GradlineServer(workers=args.server_workers) as server:
        ctx = mp.get_context("spawn")
        manager = ctx.Manager()
        results = manager.dict()
        api_runs = runs[: args.api_runs]
        start = time.perf_counter()
        procs = [
            ctx.Process(
                target=_load_client,
                args=(
                    server.url,
                    server.api_key,
                    server.project_path,
                    api_runs[i :: args.procs],
                    results,
                    i,
                ),
            )
            for i in range(args.procs)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(args.load_timeout)
            if proc.is_alive():
                proc.kill()
        outcome = dict(results)
        manager.shutdown()
        errors = [r[1] for r in outcome.values() if r[0] == "error"]
        if errors or len(outcome) != args.procs:
            raise RuntimeError(f"loading runs failed: {errors or 'timed out'}")
        elapsed = time.perf_counter() - start
        out["gradline_runs_api_loaded"] = len(api_runs)
        out["gradline_runs_api_load_s"] = elapsed
        out["gradline_runs_api_load_runs_per_s"] = len(api_runs) / elapsed if api_runs else 0
        if len(api_runs) < len(runs):
            out.update(
                server.shell(
                    ORM_LOAD_SNIPPET.format(
                        bench=str(Path(__file__).resolve().parent),
                        team=server.team,
                        project=server.project,
                        runs=args.runs,
                        skip=len(api_runs),
                    )
                )
            )
            out["gradline_runs_load"] = f"api:{len(api_runs)}+orm:{len(runs) - len(api_runs)}"
        else:
            out["gradline_runs_load"] = "api"
        server.sql("ANALYZE")

        http = Http(server.url, server.api_key)
        path = f"{server.project_path}/runs?{urlencode(gradline_query())}"
        server_times, client_times = [], []
        names = []
        for i in range(args.repeats + 1):
            t0 = time.perf_counter()
            status, headers, data = http.request("GET", path)
            elapsed = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise RuntimeError(f"GET {path} -> {status}: {data[:300]!r}")
            if i == 0:
                out["gradline_runs_query_first_ms"] = elapsed
                names = _names(orjson.loads(data))
                continue
            client_times.append(elapsed)
            st = server_timing_ms(headers)
            if st is not None:
                server_times.append(st)
        http.close()
        out["gradline_runs_query_client_ms"] = median(client_times)
        if server_times:
            out["gradline_runs_query_server_ms"] = median(server_times)
        out["gradline_runs_query_ms"] = median(server_times or client_times)
        out["gradline_runs_timing"] = "server" if server_times else "client"
        query = gradline_query()
        snippet = QUERY_SNIPPET.format(
            team=server.team,
            project=server.project,
            filters=query["filters"],
            order=query["order"],
            page=PAGE,
            repeats=args.repeats,
        )
        try:
            out.update(server.shell(snippet))
        except Exception as exc:
            note(f"in-process query timing failed: {exc}")
        out["gradline_runs_query_rows"] = len(names)
        out["gradline_runs_query_correct"] = int(names == expected_top(args.runs))
    return out


def measure_mlflow(args) -> dict:
    with MlflowServer(workers=1) as server:
        loaded = run_peer(
            [
                "mlflow-runs-load",
                "--url",
                server.url,
                "--db-url",
                db_url(server.db_name),
                "--runs",
                str(args.runs),
            ]
        )
        queried = run_peer(
            [
                "mlflow-runs-query",
                "--url",
                server.url,
                "--experiment-id",
                loaded["mlflow_experiment_id"],
                "--runs",
                str(args.runs),
                "--repeats",
                str(args.repeats),
            ]
        )
    loaded.pop("mlflow_experiment_id")
    return {**loaded, "mlflow_runs_load": "sql-copy", **queried}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=4, help="Gradline loader processes")
    parser.add_argument("--api-runs", type=int, default=1000, help="runs loaded via the API")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--load-timeout", type=float, default=600)
    parser.add_argument("--skip", action="append", default=[], choices=["gradline", "mlflow"])
    args = parser.parse_args(argv)

    emit_context("runs_table")
    emit("runs", args.runs)
    results: dict = {}
    if "gradline" not in args.skip:
        emit_load("gradline")
        try:
            gradline = measure_gradline(args)
        except Exception as exc:
            note(f"gradline side failed: {exc}")
            gradline = {"gradline_error": str(exc).splitlines()[0][:200]}
        for name, value in gradline.items():
            emit(name, value)
        results.update(gradline)
    if "mlflow" not in args.skip and peers_available():
        emit_load("mlflow")
        peer = measure_mlflow(args)
        for name, value in peer.items():
            emit(name, value)
        results.update(peer)
    gl = results.get("gradline_runs_query_ms")
    gl_client = results.get("gradline_runs_query_client_ms")
    if gl_client and "mlflow_runs_query_ms" in results:
        # Both client wall times (MLflow sends no server timing): like for like.
        emit(
            "mlflow_vs_gradline_runs_query_ratio",
            float(results["mlflow_runs_query_ms"]) / gl_client,
        )
    if gl:
        emit("target_runs_query_met", int(gl <= 150))
    return 0


if __name__ == "__main__":
    sys.exit(main())
