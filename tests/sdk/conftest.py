"""Fixtures for SDK tests: one real server per session (its own database), helpers to make
SDK settings that point at it, and DB-level checks of what was stored."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

import gradline
from tests.sdk.harness import ServerProcess, TestDatabase, bootstrap


@pytest.fixture(scope="session")
def sdk_db(tmp_path_factory):
    db = TestDatabase(f"test_gradline_sdk_{os.getpid()}")
    db.create()
    var_dir = tmp_path_factory.mktemp("sdk-server")
    seed = bootstrap(db, var_dir)
    db.seed = seed
    db.var_dir = var_dir
    yield db
    db.drop()


@pytest.fixture(scope="session")
def server(sdk_db):
    """The shared server. Tests that kill servers start their own (`server_factory`)."""
    proc = ServerProcess(sdk_db, sdk_db.var_dir).start()
    yield proc
    proc.stop()


@pytest.fixture
def server_factory(sdk_db):
    started: list[ServerProcess] = []

    def make(start: bool = True) -> ServerProcess:
        proc = ServerProcess(sdk_db, sdk_db.var_dir)
        started.append(proc)
        if start:
            proc.start()
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture(autouse=True)
def _sdk_env(monkeypatch, tmp_path):
    """No GRADLINE_/WANDB_ variables or login file of the machine leak into a test."""
    for key in list(os.environ):
        if key.startswith(("GRADLINE_", "WANDB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GRADLINE_CONFIG_DIR", str(tmp_path / "config"))
    yield
    if gradline.run is not None:  # a failing test must not leave its run to the next
        gradline.run.finish(quiet=True)


@pytest.fixture
def sdk_settings(server, sdk_db, tmp_path):
    """Settings for a quiet, fast online run against the shared server."""

    def make(**overrides):
        values = {
            "base_url": server.url,
            "api_key": sdk_db.seed.owner_key,
            "entity": sdk_db.seed.team,
            "dir": str(tmp_path / "runs"),
            "system_metrics": False,
            "console": "off",
            "git": False,
            "pip_freeze": False,
            "silent": True,
            "exit_hooks": False,
            "retry_max_backoff": 1.0,
            "finish_timeout": 60.0,
        }
        values.update(overrides)
        return values

    return make


def stored_points(db: TestDatabase, run_uid: str, project: str | None = None) -> list[tuple]:
    """(key, step, value) of every point stored for a run, straight from PostgreSQL."""
    sql = (
        "SELECT k.name, p.step, p.value FROM runs_point p "
        "JOIN runs_metrickey k ON k.id = p.key_id JOIN runs_run r ON r.id = p.run_id "
        "JOIN projects_project pr ON pr.id = r.project_id WHERE r.uid = %s"
    )
    params: tuple = (run_uid,)
    if project:
        sql += " AND pr.name = %s"
        params += (project,)
    return db.query(sql + " ORDER BY k.name, p.step", params)


def stored_console(db: TestDatabase, run_uid: str) -> list[tuple]:
    return db.query(
        "SELECT c.line, c.stream, c.text FROM runs_consoleline c "
        "JOIN runs_run r ON r.id = c.run_id WHERE r.uid = %s ORDER BY c.line",
        (run_uid,),
    )


def checksum(points) -> str:
    """Order-independent digest of (key, step, value) triples (values bit-exact)."""
    digest = hashlib.sha256()
    for key, step, value in sorted(points):
        digest.update(key.encode() + b"\0" + struct.pack("<qd", step, value))
    return digest.hexdigest()


def wal_points(record) -> list:
    """The [key, step, value, wall_time] points of a WAL record, binary or JSON."""
    from gradline.batchfmt import Decoded
    from gradline.wal import BINARY_KIND

    if record.kind == BINARY_KIND:
        return Decoded(record.payload).records()[0]
    return record.data.get("points", [])
