"""The SDK tests' real server, shared by every folder that logs through it (tests/sdk,
tests/monitoring): one database and one server per test process, registered once as a
plugin (tests/conftest.py `pytest_plugins`). Importing these fixtures into another
conftest would make a second session instance that drops and recreates the same
database under the first one's server (its keys then answer 401)."""

from __future__ import annotations

import os

import pytest

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
