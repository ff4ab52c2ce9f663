"""gradline.monitoring against a real server process: many threads logging through one
logger store each prediction id once; ground truth by id joins; a server outage never
raises into the caller, close() is bounded, and sync() uploads what the WAL kept,
exactly once."""

from __future__ import annotations

import threading
import time

import pytest

import gradline
from gradline import monitoring

FEATURES = [{"name": "amount", "type": "numeric"}, {"name": "country", "type": "categorical"}]


@pytest.fixture
def fraud_model(sdk_settings, tmp_path):
    """Registered model `fraud-sdk` with v0 under alias production (through the SDK)."""
    weights = tmp_path / "model.pkl"
    weights.write_bytes(b"weights")
    run = gradline.init(project="monitoring-sdk", settings=sdk_settings())
    run.link_model(str(weights), "fraud-sdk", aliases=["production"])
    run.finish()
    return "fraud-sdk"


def stored(sdk_db, name: str) -> int:
    return sdk_db.query(
        "SELECT count(*) FROM monitoring_prediction p JOIN monitoring_monitor m"
        " ON m.id = p.monitor_id WHERE m.name = %s",
        (name,),
    )[0][0]


def test_threads_log_exactly_once_and_truth_joins(fraud_model, sdk_settings, sdk_db, tmp_path):
    settings = sdk_settings(retry_max_backoff=0.5)
    mon = monitoring.Monitor.create(
        "sdk-threads",
        registered_model=fraud_model,
        alias="production",
        features=FEATURES,
        prediction_type="binary",
        settings=settings,
        dir=tmp_path / "wal",
        batch_size=300,
    )
    now = time.time()

    def worker(k: int) -> None:
        # Each id is logged by two threads (a retrying client): stored once.
        for i in range(k * 250, k * 250 + 500):
            mon.log(f"t{i}", {"amount": float(i), "country": "de"}, (i % 10) / 10, time=now)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unique = 7 * 250 + 500
    for i in range(unique):
        mon.log_ground_truth(f"t{i}", int(i % 10 >= 5))
    assert mon.close(timeout=120) is True
    assert stored(sdk_db, "sdk-threads") == unique
    assert (mon.accepted, mon.rejected, mon.failed) == (unique + unique, [], [])
    again = monitoring.Monitor("sdk-threads", settings=settings, dir=tmp_path / "wal2")
    window = again.metrics()["windows"][-1]["all"]
    assert window["volume"] == unique and window["labeled"] == unique
    assert window["accuracy"] == 1.0  # score >= 0.5 exactly when the truth is 1
    again.close()


def test_outage_keeps_wal_then_sync_uploads_once(
    fraud_model, server_factory, sdk_settings, sdk_db, tmp_path
):
    own = server_factory()
    settings = sdk_settings(base_url=own.url, retry_max_backoff=0.5)
    mon = monitoring.Monitor.create(
        "sdk-outage",
        registered_model=fraud_model,
        alias="production",
        features=FEATURES,
        prediction_type="binary",
        settings=settings,
        dir=tmp_path / "wal",
    )
    mon.log("before", {"amount": 1.0}, 0.1)
    assert mon.flush(timeout=60) is True
    own.kill()
    started = time.monotonic()
    for i in range(1000):
        mon.log(f"o{i}", {"amount": float(i), "country": "fr"}, 0.5)  # never raises
    assert time.monotonic() - started < 5  # nothing waits on the network
    assert mon.close(timeout=2) is False  # bounded; the WAL keeps the rest
    assert stored(sdk_db, "sdk-outage") == 1
    own.start()
    first = monitoring.sync(tmp_path / "wal", settings=settings)
    assert (first["files"], first["accepted"], first["rejected"]) == (1, 1000, 0)
    assert stored(sdk_db, "sdk-outage") == 1001
    assert monitoring.sync(tmp_path / "wal", settings=settings)["files"] == 0  # removed
