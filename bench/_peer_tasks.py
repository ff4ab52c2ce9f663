"""Peer measurements, run in .venv-peers (MLflow 3.17.2, wandb 0.31.0) by bench/*.py.

Usage: .venv-peers/bin/python bench/_peer_tasks.py TASK [options]; prints name=value
lines. Each task is bounded (a duration or a count). Nothing here imports Gradline.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import uuid


def emit(name, value):
    if isinstance(value, float):
        value = f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    print(f"{name}={value}", flush=True)


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _quiet_mlflow():
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)


# -- ingest: log_batch with 1,000 metrics per request from N processes --------------


def _mlflow_ingest_worker(url, experiment_id, keys, batch, seconds, barrier, results, index):
    _quiet_mlflow()
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    run_id = client.create_run(experiment_id).info.run_id
    steps_per_batch = batch // keys
    names = [f"train/metric_{k}" for k in range(keys)]
    rng = random.Random(index)
    barrier.wait()
    start = time.perf_counter()
    step = 0
    sent = 0
    deadline = start + seconds
    while time.perf_counter() < deadline:
        now_ms = int(time.time() * 1000)
        metrics = [
            Metric(name, rng.random(), now_ms, s)
            for s in range(step, step + steps_per_batch)
            for name in names
        ]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
        step += steps_per_batch
        sent += len(metrics)
    results[index] = (sent, time.perf_counter() - start, run_id)


def task_mlflow_ingest(args):
    _quiet_mlflow()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    experiment_id = client.create_experiment(f"ingest-{uuid.uuid4().hex[:8]}")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.procs)
    manager = ctx.Manager()
    results = manager.dict()
    procs = [
        ctx.Process(
            target=_mlflow_ingest_worker,
            args=(
                args.url,
                experiment_id,
                args.keys,
                args.batch,
                args.seconds,
                barrier,
                results,
                i,
            ),
        )
        for i in range(args.procs)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(args.seconds + 300)
        if proc.is_alive():
            proc.kill()
    if len(results) != args.procs:
        raise SystemExit(f"only {len(results)} of {args.procs} MLflow clients finished")
    points = sum(r[0] for r in results.values())
    elapsed = max(r[1] for r in results.values())
    # Check that the server stored what it acknowledged (one key's count per run).
    stored = 0
    for _sent, _, run_id in results.values():
        history = client.get_metric_history(run_id, "train/metric_0")
        stored += len(history) * args.keys
    emit("mlflow_points", points)
    emit("mlflow_points_stored", stored)
    emit("mlflow_seconds", elapsed)
    emit("mlflow_points_per_s", points / elapsed)
    manager.shutdown()


# -- history: get_metric_history of one long series ---------------------------------


def task_mlflow_history(args):
    _quiet_mlflow()
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    experiment_id = client.create_experiment(f"history-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment_id).info.run_id
    rng = random.Random(1)
    start = time.perf_counter()
    t0 = int(time.time() * 1000)
    for first in range(0, args.points, 1000):
        metrics = [
            Metric("loss", rng.random(), t0 + s, s)
            for s in range(first, min(first + 1000, args.points))
        ]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    emit("mlflow_history_load_s", time.perf_counter() - start)
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        history = client.get_metric_history(run_id, "loss")
        timings.append((time.perf_counter() - start) * 1000)
        if len(history) != args.points:
            raise SystemExit(f"MLflow returned {len(history)} of {args.points} points")
    emit("mlflow_history_points", args.points)
    emit("mlflow_history_ms", median(timings))
    emit("mlflow_history_ms_all", "/".join(f"{t:.0f}" for t in timings))


# -- runs table: 10,000 runs, fast SQL load into MLflow's own schema -----------------


def _run_uuid(index: int) -> str:
    """The MLflow run id of the index-th run of bench/_runs_data.make_runs."""
    return uuid.UUID(int=random.Random(index).getrandbits(128)).hex


def task_mlflow_runs_load(args):
    """Insert runs, params and latest metrics straight into MLflow's tables.

    Creating 10,000 runs through its REST API takes ~20,000 requests at ~12 ms each, so
    the rows are written with one COPY per table into the schema MLflow itself migrated
    (the rows are what its SqlAlchemyStore writes; `search_runs` then reads them as
    its own). The experiment is created through the API.
    """
    _quiet_mlflow()
    import io

    import psycopg2
    from _runs_data import make_runs  # bench/_runs_data.py, shared with the Gradline side
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    experiment_id = args.experiment_id or client.create_experiment("runs-table")
    runs = make_runs(args.runs)
    now = int(time.time() * 1000)
    run_rows, param_rows, metric_rows, tag_rows = (
        io.StringIO(),
        io.StringIO(),
        io.StringIO(),
        io.StringIO(),
    )
    for i, run in enumerate(runs):
        if i < args.skip:  # loaded before (bench/workspace.py grows 10,000 runs to 100,000)
            continue
        run_uuid = _run_uuid(i)
        start = now - (args.runs - i) * 1000
        run_rows.write(
            f"{run_uuid}\t{run['name']}\tLOCAL\tbench\t\\N\tbench\tFINISHED\t{start}\t{start + 500}"
            f"\t\\N\t\\N\tactive\tfile:///tmp/{run_uuid}\t{experiment_id}\n"
        )
        tag_rows.write(f"mlflow.runName\t{run['name']}\t{run_uuid}\n")
        for key, value in run["config"].items():
            param_rows.write(f"{key}\t{value}\t{run_uuid}\n")
        for key, value in run["summary"].items():
            metric_rows.write(f"{key}\t{value!r}\t{start}\t0\tfalse\t{run_uuid}\n")
    started = time.perf_counter()
    conn = psycopg2.connect(args.db_url)
    with conn, conn.cursor() as cur:
        for table, columns, buf in (
            (
                "runs",
                "run_uuid,name,source_type,source_name,entry_point_name,user_id,status,"
                "start_time,end_time,deleted_time,source_version,lifecycle_stage,artifact_uri,"
                "experiment_id",
                run_rows,
            ),
            ("tags", "key,value,run_uuid", tag_rows),
            ("params", "key,value,run_uuid", param_rows),
            ("latest_metrics", "key,value,timestamp,step,is_nan,run_uuid", metric_rows),
            (
                "metrics",
                "key,value,timestamp,step,is_nan,run_uuid",
                io.StringIO(metric_rows.getvalue()),
            ),
        ):
            buf.seek(0)
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buf)
        cur.execute("ANALYZE")
    conn.close()
    emit("mlflow_runs_load_s", time.perf_counter() - started)
    emit("mlflow_experiment_id", experiment_id)


def task_mlflow_runs_query(args):
    _quiet_mlflow()
    from _runs_data import MLFLOW_FILTER, MLFLOW_ORDER, expected_top
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    total = 0
    token = None
    while True:  # count every run once, through the API, to check the load
        page = client.search_runs([args.experiment_id], max_results=50000, page_token=token)
        total += len(page)
        token = page.token
        if not token:
            break
    emit("mlflow_runs_total", total)
    timings = []
    names = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        page = client.search_runs(
            [args.experiment_id], filter_string=MLFLOW_FILTER, order_by=MLFLOW_ORDER, max_results=50
        )
        timings.append((time.perf_counter() - start) * 1000)
        names = [run.info.run_name for run in page]
    emit("mlflow_runs_query_ms", median(timings))
    emit("mlflow_runs_query_ms_all", "/".join(f"{t:.0f}" for t in timings))
    emit("mlflow_runs_query_rows", len(names))
    emit("mlflow_runs_query_correct", int(names == expected_top(args.runs)))


# -- workspace: long series, chart reads the UI makes, runs-table pages -------------


def task_mlflow_series_load(args):
    """The workspace's long series (bench/_runs_data.series_values, the values Gradline
    gets) COPYed into MLflow's metrics table for the first --series-runs runs, with
    their latest_metrics rows: what its SqlAlchemyStore would have written."""
    import io

    import psycopg2
    from _runs_data import SERIES_BATCH, series_keys, series_values

    keys = series_keys(args.keys)
    started = time.perf_counter()
    rows = 0
    conn = psycopg2.connect(args.db_url)
    with conn, conn.cursor() as cur:
        latest = io.StringIO()
        for i in range(args.series_runs):
            run_uuid = _run_uuid(i)
            for k, key in enumerate(keys):
                buf = io.StringIO()
                for first in range(0, args.points, SERIES_BATCH):
                    last = min(first + SERIES_BATCH, args.points)
                    step, value, wall = series_values(i, k, first, last)
                    millis = (wall * 1000).astype("int64")
                    buf.write(
                        "".join(
                            f"{key}\t{v!r}\t{t}\t{s}\tfalse\t{run_uuid}\n"
                            for s, v, t in zip(
                                step.tolist(), value.tolist(), millis.tolist(), strict=True
                            )
                        )
                    )
                    rows += last - first
                buf.seek(0)
                cur.copy_expert(
                    "COPY metrics (key,value,timestamp,step,is_nan,run_uuid) FROM STDIN", buf
                )
                latest.write(
                    f"{key}\t{float(value[-1])!r}\t{int(millis[-1])}\t{int(step[-1])}"
                    f"\tfalse\t{run_uuid}\n"
                )
        latest.seek(0)
        cur.copy_expert(
            "COPY latest_metrics (key,value,timestamp,step,is_nan,run_uuid) FROM STDIN", latest
        )
        cur.execute("ANALYZE")
    conn.close()
    emit("mlflow_series_points", rows)
    emit("mlflow_series_load_s", time.perf_counter() - started)


def _bulk_interval(base, run_ids, key, max_results):
    """GET the route MLflow's UI charts call (get-history-bulk-interval): sampled
    points of one key for up to 100 runs."""
    import json
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode(
        [("run_ids", r) for r in run_ids] + [("metric_key", key), ("max_results", max_results)]
    )
    url = f"{base}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 (127.0.0.1)
        return json.loads(response.read()).get("metrics", [])


def task_mlflow_workspace_query(args):
    _quiet_mlflow()
    from _runs_data import MLFLOW_FILTER, MLFLOW_ORDER, expected_top, series_keys
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    out = args.prefix

    def timed(action, repeats):
        times, result = [], None
        for _ in range(repeats + 1):  # the first is a warm-up
            start = time.perf_counter()
            result = action()
            times.append((time.perf_counter() - start) * 1000)
        return median(times[1:]), result

    page_ms, page = timed(
        lambda: client.search_runs(
            [args.experiment_id], order_by=["attributes.start_time DESC"], max_results=args.page
        ),
        args.repeats,
    )
    emit(f"{out}_runs_page_ms", page_ms)
    emit(f"{out}_runs_page_rows", len(page))
    query_ms, found = timed(
        lambda: client.search_runs(
            [args.experiment_id], filter_string=MLFLOW_FILTER, order_by=MLFLOW_ORDER, max_results=50
        ),
        args.repeats,
    )
    emit(f"{out}_runs_query_ms", query_ms)
    names = [run.info.run_name for run in found]
    emit(f"{out}_runs_query_correct", int(names == expected_top(args.runs)))
    if args.runs_only:
        return
    key = series_keys(1)[0]
    chart_medians, points = [], 0
    for c in range(args.charts):
        first = (c * args.chart_runs) % max(1, args.series_runs)
        ids = [_run_uuid(i) for i in range(first, min(first + args.chart_runs, args.series_runs))]
        ms, metrics = timed(
            lambda ids=ids: _bulk_interval(args.url, ids, key, args.max_results), args.repeats
        )
        chart_medians.append(ms)
        points = len(metrics)
    emit("mlflow_chart_ms", median(chart_medians))
    emit("mlflow_chart_worst_ms", max(chart_medians))
    emit("mlflow_chart_points", points)
    ids = [_run_uuid(i) for i in range(min(args.group_runs, args.series_runs))]
    grouped_ms, metrics = timed(
        lambda: _bulk_interval(args.url, ids, key, args.max_results), args.repeats
    )
    emit("mlflow_grouped_fetch_ms", grouped_ms)
    emit("mlflow_grouped_fetch_points", len(metrics))


# -- SDK overhead: caller-thread cost of one log call with 10 floats -----------------


def _log_loop(log, calls):
    """Per-call wall time (µs) of `log(step, values)` on the caller's thread."""
    rng = random.Random(0)
    keys = [f"metric_{k}" for k in range(10)]
    timings = [0.0] * calls
    clock = time.perf_counter_ns
    for step in range(calls):
        values = {key: rng.random() for key in keys}
        start = clock()
        log(step, values)
        timings[step] = (clock() - start) / 1000
    return timings


def task_wandb_log(args):
    tmp = tempfile.mkdtemp(prefix="bench-wandb-")
    os.environ.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=tmp,
        WANDB_CONFIG_DIR=os.path.join(tmp, "config"),
        WANDB_CACHE_DIR=os.path.join(tmp, "cache"),
        WANDB_DATA_DIR=os.path.join(tmp, "data"),
    )
    start = time.perf_counter()
    import wandb

    emit("wandb_import_s", time.perf_counter() - start)
    start = time.perf_counter()
    run = wandb.init(project="bench", config={"lr": 0.01})
    emit("wandb_init_s", time.perf_counter() - start)
    timings = _log_loop(lambda step, values: run.log(values), args.calls)
    start = time.perf_counter()
    run.finish()
    emit("wandb_finish_s", time.perf_counter() - start)
    emit("wandb_offline_calls", args.calls)
    emit("wandb_offline_log_us", median(timings))
    emit("wandb_offline_log_p99_us", p99(timings))


def task_mlflow_log(args):
    _quiet_mlflow()
    if args.asynchronous:
        os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"  # must be an integer
    prefix = "mlflow_async" if args.asynchronous else "mlflow"
    start = time.perf_counter()
    import mlflow

    emit(f"{prefix}_import_s", time.perf_counter() - start)
    mlflow.set_tracking_uri(args.url)
    start = time.perf_counter()
    mlflow.set_experiment(f"sdk-{uuid.uuid4().hex[:8]}")
    run = mlflow.start_run()
    emit(f"{prefix}_init_s", time.perf_counter() - start)
    sync = not args.asynchronous
    timings = _log_loop(
        lambda step, values: mlflow.log_metrics(values, step=step, synchronous=sync), args.calls
    )
    start = time.perf_counter()
    mlflow.end_run()  # waits for the async queue to drain
    emit(f"{prefix}_finish_s", time.perf_counter() - start)
    emit(f"{prefix}_calls", args.calls)
    emit(f"{prefix}_log_us", median(timings))
    emit(f"{prefix}_log_p99_us", p99(timings))
    stored = len(mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "metric_0"))
    emit(f"{prefix}_steps_stored", stored)


def task_mlflow_artifacts(args):
    """Model file, dataset directory, the model again, then download both (bench/artifacts.py)."""
    _quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(args.url)
    mlflow.set_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    run = mlflow.start_run()

    def timed(label, action):
        start = time.perf_counter()
        action()
        emit(label, time.perf_counter() - start)

    timed("mlflow_model_upload_s", lambda: mlflow.log_artifact(args.model))
    timed("mlflow_dataset_upload_s", lambda: mlflow.log_artifacts(args.dataset, "dataset"))
    timed("mlflow_model_relog_s", lambda: mlflow.log_artifact(args.model))
    mlflow.end_run()
    out = tempfile.mkdtemp(prefix="bench-mlflow-dl-")
    run_id = run.info.run_id
    name = os.path.basename(args.model)
    timed(
        "mlflow_model_download_s",
        lambda: mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=name, dst_path=os.path.join(out, "model")
        ),
    )
    timed(
        "mlflow_dataset_download_s",
        lambda: mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="dataset", dst_path=os.path.join(out, "dataset")
        ),
    )
    with open(args.model, "rb") as a, open(os.path.join(out, "model", name), "rb") as b:
        emit("mlflow_download_matches", int(a.read() == b.read()))


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("mlflow-ingest")
    p.add_argument("--url", required=True)
    p.add_argument("--procs", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--batch", type=int, default=1000)
    p.set_defaults(func=task_mlflow_ingest)
    p = sub.add_parser("mlflow-history")
    p.add_argument("--url", required=True)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=task_mlflow_history)
    p = sub.add_parser("mlflow-runs-load")
    p.add_argument("--url", required=True)
    p.add_argument("--db-url", required=True)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--skip", type=int, default=0, help="the first runs are loaded already")
    p.add_argument("--experiment-id", default="", help="add to this experiment")
    p.set_defaults(func=task_mlflow_runs_load)
    p = sub.add_parser("mlflow-series-load")
    p.add_argument("--db-url", required=True)
    p.add_argument("--series-runs", type=int, default=200)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--keys", type=int, default=1)
    p.set_defaults(func=task_mlflow_series_load)
    p = sub.add_parser("mlflow-workspace-query")
    p.add_argument("--url", required=True)
    p.add_argument("--experiment-id", required=True)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--page", type=int, default=200)
    p.add_argument("--series-runs", type=int, default=200)
    p.add_argument("--charts", type=int, default=20)
    p.add_argument("--chart-runs", type=int, default=10)
    p.add_argument("--group-runs", type=int, default=100)
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--prefix", default="mlflow")
    p.add_argument("--runs-only", action="store_true", help="only the runs-table queries")
    p.set_defaults(func=task_mlflow_workspace_query)
    p = sub.add_parser("mlflow-runs-query")
    p.add_argument("--url", required=True)
    p.add_argument("--experiment-id", required=True)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=7)
    p.set_defaults(func=task_mlflow_runs_query)
    p = sub.add_parser("wandb-log")
    p.add_argument("--calls", type=int, default=100_000)
    p.set_defaults(func=task_wandb_log)
    p = sub.add_parser("mlflow-log")
    p.add_argument("--url", required=True)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--asynchronous", action="store_true")
    p.set_defaults(func=task_mlflow_log)
    p = sub.add_parser("mlflow-artifacts")
    p.add_argument("--url", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=task_mlflow_artifacts)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
