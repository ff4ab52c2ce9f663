"""Caller-thread cost of `run.log({10 floats})`: gradline vs wandb offline vs mlflow.

    .venv/bin/python bench/sdk_overhead.py [--calls 100000] [--mlflow-calls 1000]

Each client runs in a fresh process (so import time is real) and times every call with
perf_counter_ns on the calling thread; medians and p99 are reported, plus import, init
and finish time.
  gradline         online against a local Gradline server (uvicorn, 1 worker); the
                   stored point count is checked afterwards. Also offline (WAL only).
  wandb            0.31.0, WANDB_MODE=offline, its own WANDB_DIR/WANDB_CONFIG_DIR.
  mlflow           3.17.2 `mlflow.log_metrics(..., synchronous=True)` against a local
                   `mlflow server --workers 1` (PostgreSQL backend); `--mlflow-calls`
                   calls (default 1,000: at 12-60 ms per call 100,000 would take over
                   20 minutes).
  mlflow_async     `synchronous=False`, `--mlflow-async-calls` calls (default 20,000: its
                   queue drains at ~700 calls/s here, so end_run() after 100,000 calls
                   would wait ~2.5 minutes; the caller-side cost per call does not
                   depend on the count).
Target (DESIGN.md §9): gradline_log_us <= 10 median, >= 10x faster than wandb offline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    APP_PY,
    ROOT,
    GradlineServer,
    Http,
    MlflowServer,
    emit,
    emit_context,
    emit_load,
    note,
    parse_lines,
    peers_available,
    run_peer,
)


def child_gradline(args) -> None:
    """Runs in a fresh .venv process; environment carries URL, key and mode."""
    from _peer_tasks import _log_loop, median, p99

    prefix = args.prefix
    start = time.perf_counter()
    import gradline

    emit(f"{prefix}_import_s", time.perf_counter() - start)
    start = time.perf_counter()
    run = gradline.init(
        project="sdk-overhead", id=args.run_id, name=args.run_id, config={"lr": 0.01}
    )
    emit(f"{prefix}_init_s", time.perf_counter() - start)
    timings = _log_loop(lambda step, values: run.log(values), args.calls)
    start = time.perf_counter()
    run.finish()
    emit(f"{prefix}_finish_s", time.perf_counter() - start)
    emit(f"{prefix}_calls", args.calls)
    emit(f"{prefix}_log_us", median(timings))
    emit(f"{prefix}_log_p99_us", p99(timings))


def run_gradline(args, *, mode: str, server: GradlineServer | None) -> dict:
    prefix = "gradline" if mode == "online" else f"gradline_{mode}"
    run_id = f"overhead-{mode}-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="bench-gradline-") as tmp:
        env = {
            **os.environ,
            "GRADLINE_MODE": mode,
            "GRADLINE_DIR": tmp,
            "GRADLINE_CONFIG_DIR": os.path.join(tmp, "config"),
            "GRADLINE_SILENT": "true",  # otherwise default settings, as for wandb
        }
        if server is not None:
            env.update(
                GRADLINE_BASE_URL=server.url,
                GRADLINE_API_KEY=server.api_key,
                GRADLINE_ENTITY=server.team,
            )
        cmd = [str(APP_PY), str(Path(__file__).resolve()), "--child", "gradline"]
        cmd += ["--calls", str(args.calls), "--prefix", prefix, "--run-id", run_id]
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.child_timeout
        )
    for line in proc.stderr.strip().splitlines()[-10:]:
        note(f"{prefix}: {line}")
    if proc.returncode != 0:
        raise RuntimeError(f"gradline child ({mode}) exited with {proc.returncode}")
    out = parse_lines(proc.stdout)
    if server is not None:
        out[f"{prefix}_points_stored"] = _stored(server, run_id, args.calls)
    return out


def _stored(server: GradlineServer, run_id: str, calls: int):
    """Points of metric_0 the server holds for the run (one per call when nothing is lost)."""
    http = Http(server.url, server.api_key)
    try:
        path = f"/api/v1/teams/{server.team}/projects/sdk-overhead/runs/{run_id}"
        status, _, data = http.request("GET", f"{path}/history?keys=metric_0&buckets=1")
        if status != 200:
            return f"unknown({status})"
        import orjson
        from history import _find_buckets

        buckets = _find_buckets(orjson.loads(data), "metric_0") or []
        return sum(int(b.get("count", 0)) for b in buckets)
    finally:
        http.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--mlflow-calls", type=int, default=1000)
    parser.add_argument("--mlflow-async-calls", type=int, default=20_000)
    parser.add_argument("--child-timeout", type=float, default=600)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["gradline", "gradline-offline", "wandb", "mlflow", "mlflow-async"],
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="gradline", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "gradline":
        child_gradline(args)
        return 0

    emit_context("sdk_overhead")
    emit("calls", args.calls)
    results: dict = {}

    def record(values: dict) -> None:
        if values:
            emit_load(next(iter(values)).rsplit("_import_s", 1)[0])
        for name, value in values.items():
            emit(name, value)
        results.update(values)

    if "gradline" not in args.skip:
        try:
            with GradlineServer(workers=1) as server:
                record(run_gradline(args, mode="online", server=server))
        except Exception as exc:
            note(f"gradline online failed: {exc}")
            record({"gradline_error": str(exc).splitlines()[0][:200]})
    if "gradline-offline" not in args.skip:
        try:
            record(run_gradline(args, mode="offline", server=None))
        except Exception as exc:
            note(f"gradline offline failed: {exc}")
            record({"gradline_offline_error": str(exc).splitlines()[0][:200]})
    if peers_available():
        if "wandb" not in args.skip:
            record(run_peer(["wandb-log", "--calls", str(args.calls)], timeout=1200))
        if {"mlflow", "mlflow-async"} - set(args.skip):
            with MlflowServer(workers=1) as server:
                if "mlflow" not in args.skip:
                    record(
                        run_peer(
                            ["mlflow-log", "--url", server.url, "--calls", str(args.mlflow_calls)],
                            timeout=1800,
                        )
                    )
                if "mlflow-async" not in args.skip:
                    record(
                        run_peer(
                            [
                                "mlflow-log",
                                "--url",
                                server.url,
                                "--calls",
                                str(args.mlflow_async_calls),
                                "--asynchronous",
                            ],
                            timeout=1800,
                        )
                    )
    gl = float(results["gradline_log_us"]) if "gradline_log_us" in results else None
    if gl:
        for peer in ("wandb_offline", "mlflow", "mlflow_async", "gradline_offline"):
            if f"{peer}_log_us" in results:
                emit(f"{peer}_vs_gradline_log_ratio", float(results[f"{peer}_log_us"]) / gl)
        emit("target_log_us_met", int(gl <= 10))
        if "wandb_offline_log_us" in results:
            emit("target_vs_wandb_met", int(float(results["wandb_offline_log_us"]) / gl >= 10))
    return 0


if __name__ == "__main__":
    sys.exit(main())
