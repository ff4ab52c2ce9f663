"""Fixtures for SDK tests: a clean SDK environment per test and DB-level checks of what was
stored. The shared server and its settings (`sdk_db`, `server`, `server_factory`,
`sdk_settings`) are in tests/sdk/servers.py."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

import gradline
from tests.sdk.harness import TestDatabase


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
