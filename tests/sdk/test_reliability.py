"""Reliability: nothing logged is lost or stored twice, whatever the server does.

(1) no server at init, 100,000 log() calls, the server starts, sync -> every point once
(2) the server SIGKILLed 5 times during a 200,000-point run -> 0 lost, 0 duplicated
(3) finish() with a black-holed server returns within its timeout, not the HTTP timeout
(4) sync twice -> no duplicates
(5) a WAL with a truncated last record -> every complete record recovered
(6) is the Hypothesis state machine in test_protocol_hypothesis.py
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

import gradline
from gradline.wal import read_all
from tests.sdk.conftest import checksum, stored_points, wal_points
from tests.sdk.harness import BlackHole, FaultProxy, gradline_cli, wait_for


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return gradline_cli(*args, env=env, timeout=300)


def cli_env(url: str, key: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        GRADLINE_BASE_URL=url,
        GRADLINE_API_KEY=key,
        GRADLINE_CONFIG_DIR=str(tmp_path / "cli-config"),
    )
    return env


@pytest.mark.slow
def test_no_server_at_init_then_server_starts_and_sync_stores_every_point_once(
    server_factory, sdk_db, sdk_settings, tmp_path, capfd
):
    srv = server_factory(start=False)  # a port nobody listens on yet
    run = gradline.init(
        project="rel-no-server",
        settings=sdk_settings(base_url=srv.url, init_timeout=2, finish_timeout=1, silent=False),
    )
    assert "unreachable" in capfd.readouterr().err
    for i in range(100_000):
        run.log({"x": i * 0.5})
    run.finish()
    err = capfd.readouterr().err
    assert f"gradline sync {run.dir}" in err  # the exact command to run later

    srv.start()
    env = cli_env(srv.url, sdk_db.seed.owner_key, tmp_path)
    first = cli("sync", run.dir, "--no-progress", env=env)
    assert first.returncode == 0, first.stderr
    points = stored_points(sdk_db, run.id, "rel-no-server")
    assert len(points) == 100_000
    assert checksum(points) == checksum(("x", i, i * 0.5) for i in range(100_000))

    # (4) syncing again stores nothing twice, also when forced to re-send everything.
    again = cli("sync", run.dir, "--no-progress", env=env)
    assert again.returncode == 0 and "already synced" in again.stderr
    forced = cli("sync", run.dir, "--force", "--no-progress", env=env)
    assert forced.returncode == 0, forced.stderr
    assert "0 stored, 10" in forced.stderr  # everything came back as a duplicate
    assert len(stored_points(sdk_db, run.id, "rel-no-server")) == 100_000


def test_run_goes_online_when_the_server_comes_back(server_factory, sdk_db, sdk_settings):
    srv = server_factory(start=False)
    # No entity either: the default team is looked up once the server answers.
    run = gradline.init(
        project="rel-comeback",
        settings=sdk_settings(base_url=srv.url, init_timeout=2, entity=None),
    )
    assert run.entity is None
    for i in range(1000):
        run.log({"x": float(i)})
    srv.start()
    wait_for(lambda: run._pipeline.state.created, 60, what="the run to be created")
    for i in range(1000, 2000):
        run.log({"x": float(i)})
    run.finish()
    assert run._pipeline.done.is_set() and run._pipeline.failed is None
    assert [s for _, s, _ in stored_points(sdk_db, run.id, "rel-comeback")] == list(range(2000))
    assert run.entity.startswith("owner")  # the personal team


@pytest.mark.slow
def test_server_sigkilled_five_times_during_a_200k_point_run(server_factory, sdk_db, sdk_settings):
    srv = server_factory()
    run = gradline.init(
        project="rel-kill",
        settings=sdk_settings(
            base_url=srv.url, batch_max_points=2000, finish_timeout=300, flush_interval=0.02
        ),
    )
    keys = [f"k{j}" for j in range(10)]
    steps = 20_000
    chunk = steps // 6
    state = run._pipeline.state
    kills = 0
    for start in range(0, steps, chunk):
        for step in range(start, min(start + chunk, steps)):
            run.log({key: step * 0.25 + j for j, key in enumerate(keys)})
        if kills < 5:
            acked = state.acked
            # Kill while uploads are in flight: right after the next acknowledgement.
            wait_for(
                lambda acked=acked: state.acked > acked, 60, interval=0.005, what="upload progress"
            )
            srv.kill()
            kills += 1
            srv.start()
    assert kills == 5 and srv.restarts == 0
    run.finish()
    engine = run._pipeline.engine
    assert run._pipeline.failed is None and run._pipeline.done.is_set()
    points = stored_points(sdk_db, run.id, "rel-kill")
    expected = [(key, step, step * 0.25 + j) for step in range(steps) for j, key in enumerate(keys)]
    assert len(points) == 200_000  # none lost, none twice (the key is (run, key, step))
    assert checksum(points) == checksum(expected)
    assert engine.stats.rejected == 0  # no conflicting re-sends


def test_finish_with_black_holed_server_returns_within_timeout(server, sdk_db, sdk_settings, capfd):
    proxy = FaultProxy(server.url)
    try:
        run = gradline.init(
            project="rel-blackhole",
            # Requests would hang for 300 s: a finish() that waited on one is far past
            # the bound below, which leaves a loaded box generous slack.
            settings=sdk_settings(base_url=proxy.url, finish_timeout=3, http_timeout=300),
        )
        run.log({"x": 1.0})
        wait_for(
            lambda: run._pipeline.state.acked > 0 and run._pipeline.unsent_bytes() == 0,
            30,
            what="the first upload",
        )
        proxy.mode = "blackhole"  # the server now swallows requests and never answers
        for i in range(1, 5000):
            run.log({"x": float(i)})
        started = time.monotonic()
        run.finish()
        elapsed = time.monotonic() - started
        assert elapsed < 3 + 60, f"finish() took {elapsed:.1f}s"
        assert f"gradline sync {run.dir}" in capfd.readouterr().err
    finally:
        proxy.release_blackhole()
        proxy.close()
    # What did not make it is in the WAL: sync it now, directly to the server.
    env = cli_env(server.url, sdk_db.seed.owner_key, Path(run.dir))
    deadline = time.monotonic() + 30
    while True:  # the abandoned uploader may still hold the lock for a moment
        result = cli("sync", run.dir, "--no-progress", env=env)
        if "active" not in result.stderr or time.monotonic() > deadline:
            break
    assert result.returncode == 0, result.stderr
    assert [s for _, s, _ in stored_points(sdk_db, run.id, "rel-blackhole")] == list(range(5000))


def test_finish_gives_up_on_a_server_error_instead_of_spinning(server, sdk_db, sdk_settings, capfd):
    """A server that answers 500 to every finish is retried a few times, not until the
    finish timeout: finish() returns, says how to sync, and the WAL keeps the finish."""
    proxy = FaultProxy(server.url)
    try:
        proxy.error_paths["/finish"] = 500
        run = gradline.init(
            project="rel-500",
            settings=sdk_settings(base_url=proxy.url, finish_timeout=240, retry_max_backoff=0.5),
        )
        for i in range(100):
            run.log({"x": float(i)})
        started = time.monotonic()
        run.finish()
        elapsed = time.monotonic() - started
        assert elapsed < 120, f"finish() retried the 500 for {elapsed:.1f}s"
        assert 1 <= proxy.errors_answered <= 5
        assert run._pipeline.failed is not None and run._pipeline.failed.status == 500
        assert f"gradline sync {run.dir}" in capfd.readouterr().err
    finally:
        proxy.close()
    # Everything before the finish was stored; sync (the bug fixed) finishes the run.
    assert len(stored_points(sdk_db, run.id, "rel-500")) == 100
    env = cli_env(server.url, sdk_db.seed.owner_key, Path(run.dir))
    deadline = time.monotonic() + 30
    while True:  # the abandoned uploader may still hold the lock for a moment
        result = cli("sync", run.dir, "--no-progress", env=env)
        if "active" not in result.stderr or time.monotonic() > deadline:
            break
    assert result.returncode == 0, result.stderr
    state = sdk_db.query("SELECT state FROM runs_run WHERE uid = %s", (run.id,))
    assert state == [("finished",)]


def test_finish_with_unreachable_server_at_init_black_hole(sdk_settings, capfd):
    hole = BlackHole()
    try:
        started = time.monotonic()
        run = gradline.init(
            project="rel-hole",
            settings=sdk_settings(
                base_url=hole.url, init_timeout=1, finish_timeout=2, http_timeout=300, silent=False
            ),
        )
        # Bounds against hanging on the 300 s requests, with room for a loaded box.
        assert time.monotonic() - started < 1 + 60  # init gave up on the server, not hung
        run.log({"x": 1.0})
        started = time.monotonic()
        run.finish()
        assert time.monotonic() - started < 2 + 60
        assert f"gradline sync {run.dir}" in capfd.readouterr().err
    finally:
        hole.close()


def _offline_run(tmp_path: Path, project: str, rows: int, console: bool = False):
    run = gradline.init(
        project=project,
        entity="sdk-team",
        mode="offline",
        settings={
            "dir": str(tmp_path / "runs"),
            "console": "wrap" if console else "off",
            "system_metrics": False,
            "silent": True,
            "exit_hooks": False,
            "git": False,
            "pip_freeze": False,
            "batch_max_points": 500,
        },
    )
    for i in range(rows):
        run.log({"a": float(i), "b": i * 2.0})
        if console and i % 10 == 0:
            print(f"row {i}")
    run.finish()
    return run


def test_truncated_wal_tail_recovers_every_complete_record(server, sdk_db, tmp_path):
    run = _offline_run(tmp_path, "rel-truncated", 3000)
    wal = Path(run.dir) / "run.wal"
    full = read_all(str(wal))
    batches = [r for r in full.records if r.kind in ("b", "p", "bin")]
    last = full.records[-1]
    assert last.kind == "fin"
    # Cut into the middle of the last batch record: it and everything after are partial.
    cut_record = batches[-1]
    with open(wal, "r+b") as fh:
        fh.truncate(cut_record.start + (cut_record.end - cut_record.start) // 2)
    recovered = read_all(str(wal))
    assert recovered.truncated_tail
    expected_points = sum(len(wal_points(r)) for r in recovered.records)
    assert expected_points == sum(len(wal_points(r)) for r in batches[:-1])

    env = cli_env(server.url, sdk_db.seed.owner_key, tmp_path)
    result = cli("sync", run.dir, "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    assert "cut short" in result.stderr
    points = stored_points(sdk_db, run.id, "rel-truncated")
    assert len(points) == expected_points > 0
    complete = {(k, s, v) for r in recovered.records for k, s, v, _ in wal_points(r)}
    assert set(points) == complete
    # The run had no finish record left: it is marked failed, not left running.
    remote = gradline.Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    assert remote.run(f"sdk-team/rel-truncated/{run.id}").state == "failed"


def test_damaged_record_in_the_middle_and_a_corrupt_dir_do_not_stop_sync(server, sdk_db, tmp_path):
    good = _offline_run(tmp_path, "rel-damaged", 2000, console=True)
    wal = Path(good.dir) / "run.wal"
    records = read_all(str(wal)).records
    victim = next(r for r in records if wal_points(r))
    with open(wal, "r+b") as fh:  # flip one byte inside the payload: its CRC fails
        fh.seek(victim.start + 20)
        byte = fh.read(1)
        fh.seek(victim.start + 20)
        fh.write(bytes([byte[0] ^ 0xFF]))
    broken = tmp_path / "runs" / "offline-run-garbage"
    broken.mkdir()
    (broken / "run.wal").write_bytes(os.urandom(4096))
    env = cli_env(server.url, sdk_db.seed.owner_key, tmp_path)
    result = cli("sync", str(tmp_path / "runs"), "--no-progress", env=env)
    assert result.returncode == 1  # the garbage directory failed ...
    assert "offline-run-garbage" in result.stderr and "no readable run record" in result.stderr
    points = stored_points(sdk_db, good.id, "rel-damaged")  # ... the good one was synced
    expected = {(k, s, v) for r in records if r is not victim for k, s, v, _ in wal_points(r)}
    assert set(points) == expected and len(points) == len(expected)
    assert "damaged bytes" in result.stderr


def test_concurrent_logging_threads_lose_nothing(server, sdk_db, sdk_settings):
    run = gradline.init(project="rel-threads", settings=sdk_settings())

    def worker(j: int) -> None:
        for _ in range(2000):
            run.log({f"t{j}": float(j)})

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.finish()
    assert len(stored_points(sdk_db, run.id, "rel-threads")) == 8000
