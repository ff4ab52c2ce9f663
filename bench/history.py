"""Chart read of a 1,000,000-point series into 1,000 buckets, next to MLflow's history read.

    .venv/bin/python bench/history.py [--points 1000000] [--mlflow-points 100000]

Gradline: one run gets a `loss` series of `--points` steps through the ingest endpoint
(100,000 points per request, the protocol's maximum), then
`GET .../runs/<run>/history?keys=loss&buckets=1000` is timed `--repeats` times (after one
untimed warm-up); the median is reported. Server time comes from the Server-Timing
header when the server sends one (gradline_chart_timing=server), else it is the
client's wall time around the request on a kept-alive connection (=client, which
includes HTTP, auth and JSON decoding and is therefore an upper bound); the chart selector
is also timed in-process (gradline_chart_1m_selector_ms: query + bucket assembly, no HTTP),
and a small authenticated GET of the run gives the per-request floor (gradline_run_get_ms).
The answer is checked:
bucket counts add up to the series length and the exact min and max survive.
A zoomed query (the middle half of the steps) is timed the same way.

MLflow: `get_metric_history` of a series of `--mlflow-points` points (100,000 by default:
at ~6 s per 100,000 points, a 1,000,000-point read would take about a minute, and loading
it another ~2 minutes), client wall time, median of `--mlflow-repeats`.
Target (DESIGN.md §9): gradline_chart_1m_ms <= 50.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    GradlineServer,
    Http,
    MlflowServer,
    emit,
    emit_context,
    emit_load,
    median,
    note,
    peers_available,
    run_peer,
    server_timing_ms,
)


def _series(points: int) -> list[float]:
    rng = random.Random(42)
    values = [1.0 / (1 + step / 10_000) + rng.gauss(0, 0.01) for step in range(points)]
    values[points // 3] = 25.0  # a single-point spike that a sampled chart would lose
    values[2 * points // 3] = -3.0
    return values


def _find_buckets(answer, key: str) -> list[dict] | None:
    """The buckets of `key` as dicts: from {"series": {key: {"min": [...], ...}}} (columns),
    else from a list of bucket dicts wherever the answer nests it."""
    series = answer.get("series") if isinstance(answer, dict) else None
    if isinstance(series, dict) and isinstance(series.get(key), dict):
        columns = series[key]
        if isinstance(columns.get("min"), list):
            names = [name for name, value in columns.items() if isinstance(value, list)]
            return [
                dict(zip(names, row, strict=True))
                for row in zip(*(columns[n] for n in names), strict=True)
            ]
    if isinstance(answer, list):
        if answer and isinstance(answer[0], dict) and "max" in answer[0] and "min" in answer[0]:
            return answer
        for item in answer:
            if isinstance(item, dict) and item.get("key") == key:
                return _find_buckets(item, key)
        for item in answer:
            found = _find_buckets(item, key)
            if found:
                return found
        return None
    if isinstance(answer, dict):
        if key in answer:
            found = _find_buckets(answer[key], key)
            if found:
                return found
        for value in answer.values():
            if isinstance(value, list | dict):
                found = _find_buckets(value, key)
                if found:
                    return found
    return None


def _check(buckets, values, lo_step, hi_step) -> dict:
    window = values[lo_step : hi_step + 1]
    if not buckets:
        return {"buckets": 0, "counts_match": 0, "exact_extremes": 0}
    counts = sum(int(b.get("count", 0)) for b in buckets)
    lows = [float(b["min"]) for b in buckets if b.get("min") is not None]
    highs = [float(b["max"]) for b in buckets if b.get("max") is not None]
    return {
        "buckets": len(buckets),
        "counts_match": int(counts == len(window)),
        "exact_extremes": int(min(lows) == min(window) and max(highs) == max(window)),
    }


def measure_gradline(args) -> dict:
    import orjson

    values = _series(args.points)
    out: dict = {}
    with GradlineServer(workers=args.server_workers) as server:
        http = Http(server.url, server.api_key, timeout=300)
        run = http.json("POST", f"{server.project_path}/runs", {"id": "history-1m", "name": "1m"})
        base = f"{server.project_path}/runs/{run['id']}"
        start = time.perf_counter()
        wall0 = time.time()
        for first in range(0, args.points, args.batch):
            last = min(first + args.batch, args.points)
            points = [["loss", s, values[s], wall0 + s * 0.01] for s in range(first, last)]
            body = gzip.compress(orjson.dumps({"points": points}), 1)
            status, _, data = http.request(
                "POST", f"{base}/ingest", body, {"Content-Encoding": "gzip"}
            )
            answer = orjson.loads(data) if data else {}
            if status != 200 or answer.get("accepted") != last - first:
                raise RuntimeError(f"ingest -> {status}: {data[:300]!r}")
        out["gradline_history_load_s"] = time.perf_counter() - start
        out["gradline_history_load_points_per_s"] = args.points / out["gradline_history_load_s"]

        def timed(query: str, lo: int, hi: int, prefix: str):
            path = f"{base}/history?{query}"
            server_times, client_times = [], []
            answer = None
            for i in range(args.repeats + 1):
                t0 = time.perf_counter()
                status, headers, data = http.request("GET", path)
                answer = orjson.loads(data)
                elapsed = (time.perf_counter() - t0) * 1000
                if status != 200:
                    raise RuntimeError(f"GET {path} -> {status}: {data[:300]!r}")
                if i == 0:
                    out[f"{prefix}_first_ms"] = elapsed
                    out[f"{prefix}_bytes"] = len(data)
                    continue
                client_times.append(elapsed)
                st = server_timing_ms(headers)
                if st is not None:
                    server_times.append(st)
            check = _check(_find_buckets(answer, "loss"), values, lo, hi)
            for name, value in check.items():
                out[f"{prefix}_{name}"] = value
            out[f"{prefix}_client_ms"] = median(client_times)
            if server_times:
                out[f"{prefix}_server_ms"] = median(server_times)
            out[f"{prefix}_ms"] = median(server_times) if server_times else median(client_times)
            out[f"{prefix}_timing"] = "server" if server_times else "client"

        # Per-request floor: a small authenticated GET (the run) on the same connection.
        floor = []
        for _ in range(args.repeats + 1):
            t0 = time.perf_counter()
            http.request("GET", base)
            floor.append((time.perf_counter() - t0) * 1000)
        out["gradline_run_get_ms"] = median(floor[1:])
        buckets = args.buckets
        timed(f"keys=loss&x_axis=_step&buckets={buckets}", 0, args.points - 1, "gradline_chart_1m")
        lo, hi = args.points // 4, 3 * args.points // 4
        timed(
            f"keys=loss&x_axis=_step&buckets={buckets}&min_step={lo}&max_step={hi}",
            lo,
            hi,
            "gradline_chart_zoom",
        )
        http.close()
        out.update(_selector_times(server, run["id"], args))
    return out


SELECTOR_SNIPPET = """
import statistics, time
from apps.runs.models import Run
from apps.runs.selectors import history
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
run = Run.objects.for_team(team).get(uid={run!r})
for label, lo, hi in (("1m", None, None), ("zoom", {lo}, {hi})):
    times = []
    for i in range({repeats} + 1):
        t0 = time.perf_counter()
        history.chart(team, run, keys=["loss"], buckets={buckets}, min_step=lo, max_step=hi)
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    print(f"gradline_chart_{{label}}_selector_ms={{statistics.median(times):.3f}}")
"""


def _selector_times(server, run_uid: str, args) -> dict:
    """history.chart() timed in-process: the query and bucket assembly, no HTTP or auth."""
    snippet = SELECTOR_SNIPPET.format(
        team=server.team,
        run=run_uid,
        lo=args.points // 4,
        hi=3 * args.points // 4,
        repeats=args.repeats,
        buckets=args.buckets,
    )
    try:
        return server.shell(snippet)
    except Exception as exc:
        note(f"in-process selector timing failed: {exc}")
        return {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--mlflow-points", type=int, default=100_000)
    parser.add_argument("--mlflow-repeats", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], choices=["gradline", "mlflow"])
    args = parser.parse_args(argv)

    emit_context("history")
    emit("gradline_history_points", args.points)
    results: dict = {}
    if "gradline" not in args.skip:
        emit_load("gradline")
        try:
            results.update(measure_gradline(args))
        except Exception as exc:
            note(f"gradline side failed: {exc}")
            results["gradline_error"] = str(exc).splitlines()[0][:200]
        for name, value in results.items():
            emit(name, value)
    if "mlflow" not in args.skip and peers_available():
        if args.mlflow_points != args.points:
            note(
                f"MLflow reads a {args.mlflow_points}-point series, not {args.points}: "
                "its history read is linear in the series length (~6 s per 100,000 points)"
            )
        emit_load("mlflow")
        with MlflowServer(workers=1) as server:
            peer = run_peer(
                [
                    "mlflow-history",
                    "--url",
                    server.url,
                    "--points",
                    str(args.mlflow_points),
                    "--repeats",
                    str(args.mlflow_repeats),
                ],
                timeout=1200,
            )
        for name, value in peer.items():
            emit(name, value)
        results.update(peer)
    chart = results.get("gradline_chart_1m_ms")
    chart_client = results.get("gradline_chart_1m_client_ms")
    if chart_client and "mlflow_history_ms" in results:
        mlflow_ms = float(results["mlflow_history_ms"])
        # Client wall time on both sides; MLflow's series is 10x shorter by default (the
        # name says how long).
        emit(
            f"mlflow_{args.mlflow_points // 1000}k_vs_gradline_chart_ratio",
            mlflow_ms / chart_client,
        )
    if chart:
        emit("target_chart_met", int(chart <= 50))
    return 0


if __name__ == "__main__":
    sys.exit(main())
