"""Local serving: the `local` deployment target (MLServer, Open Inference Protocol V2,
configured exactly as apps/deployments/targets/local.py configures it) with adaptive
batching on and off, side by side with `mlflow models serve` (MLflow 3.17.2, from
.venv-peers) on the same scikit-learn model, under the same closed-loop load: C client
threads on keep-alive connections, one row per request, for D seconds each.

Prints name=value lines: serving_<side>_rps, _p50_ms, _p99_ms, and the throughput ratio
of the better Gradline configuration to MLflow (target >= 3, docs/design.md §9).

    .venv/bin/python bench/serving.py        # BENCH_SERVING_S=10 BENCH_SERVING_CLIENTS=16
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import (
    PEERS_BIN,
    ROOT,
    emit,
    emit_context,
    emit_load,
    free_port,
    note,
    percentile,
    spawn,
    stop_process,
    wait_http,
)

sys.path.insert(0, str(ROOT))  # the app's packages, for the local target's configuration

DURATION_S = float(os.environ.get("BENCH_SERVING_S", 10))
CLIENTS = int(os.environ.get("BENCH_SERVING_CLIENTS", 16))
FEATURES = 8


def _model(directory: Path) -> tuple[Path, list[list[float]]]:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, FEATURES))
    y = (X @ rng.normal(size=FEATURES) > 0).astype(int)
    path = directory / "model.joblib"
    joblib.dump(LogisticRegression().fit(X, y), path)
    return path, rng.normal(size=(256, FEATURES)).round(6).tolist()


def _load(host: str, port: int, path: str, bodies: list[bytes]) -> dict:
    """Closed loop: each client sends its next request when the answer arrives."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + DURATION_S

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        i = offset
        while time.perf_counter() < stop_at:
            body = bodies[i % len(bodies)]
            i += 1
            start = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            if ok:
                mine.append(time.perf_counter() - start)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else float("nan"),
        "errors": errors[0],
    }


def _post(port: int, path: str, body: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())


def _gradline(tmp: Path, model_path: Path, rows, batching: bool) -> tuple[dict, list]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    import django

    django.setup()
    from apps.deployments.targets import local

    port = free_port()
    directory = tmp / f"gradline-{'batch' if batching else 'nobatch'}"
    settings, model_settings = local.server_settings(
        "bench", str(model_path), {"batching": batching}, port
    )
    local.write_instance(directory, settings, model_settings)
    proc = spawn([local.mlserver_bin(), "start", str(directory)], log=directory / "server.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/models/bench/ready", 180, proc)
        path = "/v2/models/bench/infer"

        def v2(row):
            return {"inputs": [{"name": "input-0", "shape": [1, FEATURES], "datatype": "FP64",
                                "data": row}]}  # fmt: skip

        sample = rows[:20]
        tensor = {"name": "input-0", "shape": [len(sample), FEATURES], "datatype": "FP64",
                  "data": [v for r in sample for v in r]}  # fmt: skip
        check = _post(port, path, {"inputs": [tensor]})
        result = _load("127.0.0.1", port, path, [json.dumps(v2(r)).encode() for r in rows])
        return result, check["outputs"][0]["data"]
    finally:
        stop_process(proc)


MLFLOW_SAVE = """
import sys, joblib, mlflow.sklearn
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2])
"""


def _mlflow(tmp: Path, model_path: Path, rows) -> tuple[dict, list]:
    import subprocess

    model_dir = tmp / "mlflow-model"
    subprocess.run(
        [str(PEERS_BIN / "python"), "-c", MLFLOW_SAVE, str(model_path), str(model_dir)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    port = free_port()
    # `mlflow models serve` execs `uvicorn` from PATH: the peers' one.
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"file://{tmp / 'mlruns'}",
        "PATH": f"{PEERS_BIN}:{os.environ.get('PATH', '')}",
    }
    proc = spawn(
        [str(PEERS_BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "-h", "127.0.0.1",
         "-p", str(port), "--env-manager", "local", "--workers", "1"],
        env=env, log=tmp / "mlflow.log",
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 180, proc)
        check = _post(port, "/invocations", {"inputs": rows[:20]})
        bodies = [json.dumps({"inputs": [r]}).encode() for r in rows]
        return _load("127.0.0.1", port, "/invocations", bodies), check["predictions"]
    finally:
        stop_process(proc)


def main() -> None:
    emit_context("serving")
    emit("serving_clients", CLIENTS)
    emit("serving_duration_s", DURATION_S)
    if not (PEERS_BIN / "mlflow").exists():
        raise SystemExit("peers are not installed: run `make bench-setup`")
    with tempfile.TemporaryDirectory(dir=ROOT / "var" if (ROOT / "var").exists() else None) as t:
        tmp = Path(t)
        model_path, rows = _model(tmp)
        emit_load("start")
        results = {}
        answers = {}
        for side, run in (
            ("gradline_batching", lambda: _gradline(tmp, model_path, rows, True)),
            ("gradline_nobatch", lambda: _gradline(tmp, model_path, rows, False)),
            ("mlflow", lambda: _mlflow(tmp, model_path, rows)),
        ):
            note(f"{side}: {DURATION_S:.0f} s at {CLIENTS} clients")
            results[side], answers[side] = run()
            for key, value in results[side].items():
                emit(f"serving_{side}_{key}", value)
        emit("serving_same_predictions", int(len({json.dumps(a) for a in answers.values()}) == 1))
        best = max(results["gradline_batching"]["rps"], results["gradline_nobatch"]["rps"])
        emit("serving_throughput_ratio_vs_mlflow", best / results["mlflow"]["rps"])
        emit_load("end")


if __name__ == "__main__":
    main()
