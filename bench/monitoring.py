"""Production monitoring, in one invocation (docs/monitoring.md; DESIGN.md §9):

    .venv/bin/python bench/monitoring.py [--predictions 1000000] [--rows 1000000]

  ingest     1,000,000 predictions x 20 features (16 numeric, 4 categorical) logged through
             gradline.monitoring (log() from the calling thread, batches through the WAL
             and the uploader) into a real server: end-to-end predictions/s, from the
             first log() to close() returning with everything acknowledged. Target
             >= 50,000/s. The caller's own cost per log() is reported too.
  drift      a drift report over --features (100) features x --rows (1,000,000) rows,
             reference and current, half of the features shifted: apps.monitoring's
             profile + per-feature comparison (what the server runs for a window) vs
             Evidently 0.7 DataDriftPreset in .venv-peers on the same arrays. Targets:
             the same per-feature verdicts, >= 10x faster.
  dashboard  GET …/metrics for 30 days of hourly windows (720 windows x 2 versions):
             median and p95 wall time over a kept-alive connection. Target <= 100 ms.

Prints name=value lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))

from _harness import (
    PEERS_PY,
    GradlineServer,
    Http,
    emit,
    emit_context,
    emit_load,
    median,
    note,
    percentile,
)

NUMERIC = 16
CATEGORICAL = 4
CATEGORIES = ["a", "b", "c", "d", "e"]


def setup_model(server: GradlineServer) -> None:
    """Registered model `fraud` with v0 (alias production) and v1, through services."""
    snippet = f"""
import hashlib, io
from apps.registry import services as rs
from apps.teams.models import Team
from apps.projects import services as ps
from django.contrib.auth import get_user_model
team = Team.objects.get(slug={server.team!r})
user = get_user_model().objects.get(email="bench@example.com")
project = ps.project_create(team=team, name="fraud-train", actor=user)
for i in range(2):
    content = f"weights {{i}}".encode()
    sha = hashlib.sha256(content).hexdigest()
    rs.blob_put(team=team, sha256=sha, stream=io.BytesIO(content))
    v, _ = rs.version_create(team=team, project=project, name="fraud-model",
        data={{"type": "model",
              "files": [{{"path": "m.bin", "sha256": sha, "size": len(content)}}]}},
        actor=user)
    rs.registered_model_link(team=team, name="fraud", source=v,
        aliases=["production"] if i == 0 else [], actor=user,
        permissions=frozenset({{"registry:promote"}}))
print("ok=1")
"""
    server.shell(snippet)


def bench_ingest(server: GradlineServer, n: int, tmp: Path) -> None:
    from gradline import monitoring

    settings = {"base_url": server.url, "api_key": server.api_key, "entity": server.team}
    features = [{"name": f"n{i}", "type": "numeric"} for i in range(NUMERIC)]
    features += [{"name": f"c{i}", "type": "categorical"} for i in range(CATEGORICAL)]
    mon = monitoring.Monitor.create(
        "bench-ingest", registered_model="fraud", alias="production", features=features,
        prediction_type="binary", settings=settings, dir=tmp / "wal",
    )  # fmt: skip
    rng = np.random.default_rng(0)
    num = rng.normal(0, 1, (n, NUMERIC)).round(6).tolist()
    cats = rng.integers(0, len(CATEGORIES), (n, CATEGORICAL)).tolist()
    scores = rng.uniform(0, 1, n).round(6).tolist()
    names_n = [f"n{i}" for i in range(NUMERIC)]
    names_c = [f"c{i}" for i in range(CATEGORICAL)]
    # The service's own work (building its feature dict) is not the logger's cost.
    rows = []
    for i in range(n):
        feats = dict(zip(names_n, num[i], strict=True))
        for name, c in zip(names_c, cats[i], strict=True):
            feats[name] = CATEGORIES[c]
        rows.append(feats)
    now = time.time()
    note(f"ingest: logging {n} predictions")
    started = time.perf_counter()
    log = mon.log
    for i in range(n):
        log(f"r{i}", rows[i], scores[i], time=now, latency_ms=3.5)
    logged = time.perf_counter()
    ok = mon.close(timeout=3600)
    done = time.perf_counter()
    stored = server.sql(
        "SELECT count(*) FROM monitoring_prediction p JOIN monitoring_monitor m"
        " ON m.id = p.monitor_id WHERE m.name = 'bench-ingest'"
    )[0][0]
    emit("ingest_predictions", n)
    emit("ingest_features", NUMERIC + CATEGORICAL)
    emit("ingest_all_acknowledged", int(ok))
    emit("ingest_stored", stored)
    emit("ingest_log_call_us", (logged - started) / n * 1e6)
    emit("ingest_seconds", done - started)
    emit("ingest_predictions_per_s", n / (done - started))
    emit("ingest_target_met", int(n / (done - started) >= 50_000 and stored == n))


def drift_data(features: int, rows: int, path: Path) -> list[bool]:
    rng = np.random.default_rng(42)
    ref = rng.normal(0, 1, (rows, features)).astype(np.float64)
    shift = np.zeros(features)
    shift[::2] = 0.5  # every other feature drifts by half a standard deviation
    cur = rng.normal(0, 1, (rows, features)) + shift
    np.save(path / "ref.npy", ref)
    np.save(path / "cur.npy", cur)
    return [bool(s) for s in shift]


def bench_drift(features: int, rows: int, tmp: Path) -> None:
    from apps.monitoring import profile as profiles

    truth = drift_data(features, rows, tmp)
    ref = np.load(tmp / "ref.npy")
    cur = np.load(tmp / "cur.npy")
    started = time.perf_counter()
    stored = [profiles.numeric_profile(ref[:, j]) for j in range(features)]  # reference, once
    profiled = time.perf_counter()
    ours = []
    for j, (prof, sample) in enumerate(stored):
        sample_arr = np.frombuffer(sample, dtype="<f8")
        out = profiles.compare("numeric", prof, sample_arr, cur[:, j], {})
        ours.append(out["drifted"])
    done = time.perf_counter()
    emit("drift_features", features)
    emit("drift_rows", rows)
    emit("drift_ours_profile_s", profiled - started)
    emit("drift_ours_compare_s", done - profiled)
    emit("drift_ours_s", done - started)
    emit("drift_ours_correct", sum(a == b for a, b in zip(ours, truth, strict=True)))
    if not PEERS_PY.exists():
        note("Evidently: .venv-peers missing (make bench-setup)")
        return
    proc = subprocess.run(
        [str(PEERS_PY), str(Path(__file__).with_name("_monitoring_peer.py")), str(tmp)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        note(f"Evidently failed: {proc.stderr[-2000:]}")
        return
    peer = json.loads(proc.stdout.strip().splitlines()[-1])
    theirs = peer["drifted"]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    emit("drift_evidently_version", peer["version"])
    emit("drift_evidently_s", peer["seconds"])
    emit("drift_evidently_method", peer["method"])
    emit("drift_same_verdicts", same)
    emit("drift_speedup", peer["seconds"] / (done - started))
    emit("drift_target_met", int(same == features and peer["seconds"] / (done - started) >= 10))


def bench_dashboard(server: GradlineServer) -> None:
    http = Http(server.url, server.api_key)
    base = f"/api/v1/teams/{server.team}/monitors"
    body = {
        "name": "bench-dash", "registered_model": "fraud", "alias": "production",
        "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}],
        "prediction_type": "binary", "retention_days": 60,
    }  # fmt: skip
    http.json("POST", base, body)
    hour = 3600
    end = time.time() // hour * hour
    rng = np.random.default_rng(1)
    records, labels = [], []
    for w in range(720):
        for k in range(6):
            rid = f"w{w}-{k}"
            records.append(
                {
                    "id": rid,
                    "time": end - (720 - w) * hour + k * 60,
                    "version": k % 2,  # two versions in every window
                    "features": {"x": float(rng.normal()), "c": "abc"[k % 3]},
                    "prediction": float(rng.uniform()),
                    "latency_ms": float(rng.uniform(1, 20)),
                }
            )
            labels.append({"id": rid, "target": int(k % 2)})
    for i in range(0, len(records), 5000):
        http.json("POST", f"{base}/bench-dash/predictions", {"records": records[i : i + 5000]})
        http.json("POST", f"{base}/bench-dash/ground-truth", {"records": labels[i : i + 5000]})
    path = f"{base}/bench-dash/metrics?from={end - 30 * 86400}&to={end + hour}"
    times = []
    for _ in range(25):
        t0 = time.perf_counter()
        status, _, data = http.request("GET", path)
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200, data[:300]
    got = json.loads(data)
    emit("dashboard_windows", len(got["times"]))
    emit("dashboard_versions", len(got["versions"]))
    emit("dashboard_bytes", len(data))
    emit("dashboard_ms_median", median(times[5:]))
    emit("dashboard_ms_p95", percentile(times[5:], 0.95))
    emit("dashboard_target_met", int(median(times[5:]) <= 100))
    http.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma list of ingest,drift,dashboard")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    emit_context("monitoring")
    emit_load("start")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "drift" not in skip:
            bench_drift(args.features, args.rows, tmp)
            emit_load("after_drift")
        if {"ingest", "dashboard"} - skip:
            with GradlineServer(workers=args.workers, team="bench") as server:
                setup_model(server)
                if "dashboard" not in skip:
                    bench_dashboard(server)
                if "ingest" not in skip:
                    bench_ingest(server, args.predictions, tmp)
                emit_load("end")


if __name__ == "__main__":
    main()
