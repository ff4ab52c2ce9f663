"""Deployment test helpers: model versions logged through the registry services, a
private DEPLOYMENTS_ROOT per test, and no model server left running after a test."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import signal
from pathlib import Path

import pytest

from apps.registry import services as registry_services
from tests.celery_worker import celery_worker  # noqa: F401 - the fixture, for the tests here


def sklearn_model_bytes(flip: bool = False) -> bytes:
    """A fitted LogisticRegression on 2 features: predicts x0 (or 1 - x0 when flipped)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 10, dtype=float)
    y = (X[:, 0] > 0.5).astype(int)
    if flip:
        y = 1 - y
    model = LogisticRegression(C=100.0).fit(X, y)
    return pickle.dumps(model)


def log_model_version(
    team, project, actor, content: bytes, name="model", path="model.pkl", aliases=()
):
    sha256 = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=team, sha256=sha256, stream=io.BytesIO(content))
    version, _ = registry_services.version_create(
        team=team,
        project=project,
        name=name,
        data={
            "type": "model",
            "aliases": list(aliases),
            "files": [{"path": path, "sha256": sha256, "size": len(content)}],
        },
        actor=actor,
    )
    return version


def _servers_under(root: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "mlserver" in cmdline and str(root) in cmdline:
            pids.append(int(entry.name))
    return pids


def model_servers(root: Path) -> list[int]:
    """Pids of the model servers running for this test (by their instance folder)."""
    return _servers_under(root)


@pytest.fixture
def deploy_root(settings, tmp_path, monkeypatch):
    root = tmp_path / "deployments"
    root.mkdir()
    settings.DEPLOYMENTS_ROOT = root
    # Worker processes read it from the environment (tests/celery_worker.py copies it).
    monkeypatch.setenv("DEPLOYMENTS_ROOT", str(root))
    # ... and the artifact blobs from this process's media folder (per-pid in tests).
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    yield root
    for pid in _servers_under(root):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
