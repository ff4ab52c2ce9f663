"""Media: the caller-thread cost of logging images and a table, gradline vs wandb offline,
and the server time of a 100,000-row table's first page and sorts.

    .venv/bin/python bench/media.py [--images 1000] [--table-rows 10000]
        [--server-rows 100000] [--repeats 20]

Client side: each SDK runs in a fresh process, offline (both write only to local disk),
with the arrays and rows made before timing. Every call is timed on the calling thread
with perf_counter_ns, the constructor included (`run.log({"image": Image(array)})` —
W&B encodes the PNG inside Image(), we copy the array and encode on the writer thread).
  images   --images calls logging one 64x64 RGB uint8 image each; median and total.
  table    one call logging a --table-rows x 4 Table (int, str, float, bool).
  wandb    0.31.0 from .venv-peers (`make bench-setup`), WANDB_MODE=offline.
Server side: a Gradline server (uvicorn, 1 worker) on a fresh database; a --server-rows
table is uploaded and registered through the API, then the table viewer's requests are
timed --repeats times each (median of the Server-Timing app time, and the client's
wall time): first page (50 rows), sorted by a float column (desc), by a string column,
and a filtered count.
Targets (issue 9): image and table log cost >= 5x lower than wandb offline; first page
and sort <= 200 ms.
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
    PEERS_PY,
    ROOT,
    GradlineServer,
    Http,
    emit,
    emit_context,
    emit_load,
    median,
    note,
    parse_lines,
    server_timing_ms,
)


def child(args) -> None:
    """Runs in a fresh process of either venv; prints name=value lines."""
    import numpy as np

    if args.child == "wandb":
        import wandb
    else:
        import gradline as wandb
    prefix = args.prefix
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(args.images)]
    columns = ["id", "name", "score", "flag"]
    rows = [[i, f"name-{i % 997}", float(rng.random()), i % 3 == 0] for i in range(args.table_rows)]
    run = wandb.init(project="bench-media")
    timings = []
    for step, array in enumerate(arrays):
        start = time.perf_counter_ns()
        run.log({"image": wandb.Image(array)}, step=step)
        timings.append(time.perf_counter_ns() - start)
    start = time.perf_counter_ns()
    run.log({"table": wandb.Table(columns=columns, data=rows)}, step=len(arrays))
    table_ns = time.perf_counter_ns() - start
    start = time.perf_counter()
    run.finish()
    emit(f"{prefix}_finish_s", time.perf_counter() - start)
    emit(f"{prefix}_image_log_us", median(timings) / 1000)
    emit(f"{prefix}_images_total_ms", sum(timings) / 1e6)
    emit(f"{prefix}_table_log_ms", table_ns / 1e6)


def run_child(kind: str, args) -> dict:
    python = PEERS_PY if kind == "wandb" else APP_PY
    prefix = "wandb_offline" if kind == "wandb" else "gradline_offline"
    with tempfile.TemporaryDirectory(prefix=f"bench-media-{kind}-") as tmp:
        env = {
            **os.environ,
            "GRADLINE_MODE": "offline",
            "GRADLINE_DIR": tmp,
            "GRADLINE_CONFIG_DIR": os.path.join(tmp, "config"),
            "GRADLINE_SILENT": "true",
            "WANDB_MODE": "offline",
            "WANDB_DIR": tmp,
            "WANDB_CONFIG_DIR": os.path.join(tmp, "wandb-config"),
            "WANDB_SILENT": "true",
        }
        cmd = [str(python), str(Path(__file__).resolve()), "--child", kind, "--prefix", prefix]
        cmd += ["--images", str(args.images), "--table-rows", str(args.table_rows)]
        proc = subprocess.run(
            cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=args.child_timeout
        )
    for line in proc.stderr.strip().splitlines()[-5:]:
        note(f"{prefix}: {line}")
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child exited with {proc.returncode}")
    return parse_lines(proc.stdout)


def server_table(args) -> dict:
    import orjson

    out: dict = {}
    n = args.server_rows
    with GradlineServer(workers=1) as server:
        http = Http(server.url, server.api_key)
        project = server.project_path
        status, _, body = http.request(
            "POST", f"{project}/runs", orjson.dumps({"id": "media-bench"})
        )
        assert status in (200, 201), body
        run = f"{project}/runs/media-bench"
        lines = [orjson.dumps({"columns": ["id", "name", "score", "flag"], "nrows": n})]
        lines += [
            orjson.dumps(
                [
                    i,
                    f"name-{(i * 7919) % 100_003:06d}",
                    ((i * 2654435761) % 2**32) / 2**32,
                    i % 3 == 0,
                ]
            )
            for i in range(n)
        ]
        table = b"\n".join(lines) + b"\n"
        path = "media/tables/big.table.jsonl"
        status, _, body = http.request(
            "PUT", f"{run}/files/{path}", table, {"Content-Type": "application/octet-stream"}
        )
        assert status == 201, body
        start = time.perf_counter()
        item = {"key": "big", "step": 0, "_type": "table-file", "path": path}
        status, _, body = http.request("POST", f"{run}/media", orjson.dumps({"items": [item]}))
        assert status == 200 and orjson.loads(body)["accepted"] == 1, body
        out["server_table_ingest_s"] = time.perf_counter() - start
        status, _, body = http.request("GET", f"{run}/media?type=table")
        rows_url = orjson.loads(body)["items"][0]["rows_url"]
        queries = {
            "first_page": "?limit=50",
            "sort_float_desc": "?limit=50&sort=score&order=desc",
            "sort_string": "?limit=50&sort=name",
            "sort_deep_page": "?limit=50&offset=50000&sort=score",
            "filter_count": '?limit=50&filters=[{"column":"score","op":"gte","value":0.5}]'.replace(
                '"', "%22"
            ),
        }
        for name, query in queries.items():
            app, wall = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                status, headers, body = http.request("GET", rows_url + query)
                wall.append((time.perf_counter() - start) * 1000)
                assert status == 200, body
                app.append(server_timing_ms(headers))
            out[f"server_{name}_ms"] = median(app)
            out[f"server_{name}_wall_ms"] = median(wall)
        http.close()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--table-rows", type=int, default=10_000)
    parser.add_argument("--server-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--child-timeout", type=float, default=900)
    parser.add_argument("--skip", action="append", default=[], choices=["wandb", "server"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    emit_context("media")
    emit("images", args.images)
    emit("table_rows", args.table_rows)
    results: dict = {}

    def record(values: dict) -> None:
        for name, value in values.items():
            emit(name, value)
        results.update(values)

    emit_load("gradline")
    record(run_child("gradline", args))
    if "wandb" not in args.skip:
        if PEERS_PY.exists():
            emit_load("wandb")
            record(run_child("wandb", args))
        else:
            note("no .venv-peers (make bench-setup): wandb skipped")
    if "server" not in args.skip:
        emit_load("server")
        emit("server_rows", args.server_rows)
        record(server_table(args))
    if "wandb_offline_image_log_us" in results:
        for what, unit in (("image_log", "us"), ("images_total", "ms"), ("table_log", "ms")):
            ours = float(results[f"gradline_offline_{what}_{unit}"])
            theirs = float(results[f"wandb_offline_{what}_{unit}"])
            emit(f"wandb_vs_gradline_{what}_ratio", theirs / ours if ours else float("inf"))
        emit(
            "target_5x_met",
            int(
                float(results["wandb_offline_images_total_ms"])
                >= 5 * float(results["gradline_offline_images_total_ms"])
                and float(results["wandb_offline_table_log_ms"])
                >= 5 * float(results["gradline_offline_table_log_ms"])
            ),
        )
    if "server_first_page_ms" in results:
        worst = max(
            float(results["server_first_page_ms"]), float(results["server_sort_float_desc_ms"])
        )
        emit("target_200ms_met", int(worst <= 200))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
