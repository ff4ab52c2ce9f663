"""W&B's Artifact.ttl through the SDK against the real server (docs/registry.md
"Time-to-live"): set before logging or after it with save(), read back from fetched
artifacts, refused on a version linked to the model registry, and carried by an
offline run's records through `gradline sync`."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta

import pytest

import gradline as wandb
from gradline import ArtifactTTL
from tests.sdk.harness import gradline_cli


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)


def api_for(server, sdk_db) -> wandb.Api:
    return wandb.Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def test_ttl_is_logged_read_back_and_changed_with_save(server, sdk_db, sdk_settings, tmp_path):
    (tmp_path / "train.csv").write_text("x,y\n1,2\n")
    run = wandb.init(project="art-ttl", settings=sdk_settings())
    artifact = wandb.Artifact("ttl-data", type="dataset")
    artifact.add_file(str(tmp_path / "train.csv"))
    assert artifact.ttl is None  # the default: never expires
    artifact.ttl = timedelta(days=2)
    run.log_artifact(artifact)
    artifact.wait(timeout=60)
    assert artifact.ttl == timedelta(days=2)

    # Set after logging, then save(): W&B's other way.
    later = wandb.Artifact("ttl-later", type="dataset")
    with later.new_file("a.txt") as fh:
        fh.write("a")
    run.log_artifact(later)
    later.ttl = timedelta(minutes=90)
    later.save()
    assert later.ttl == timedelta(minutes=90)
    run.finish()

    api = api_for(server, sdk_db)
    fetched = api.artifact("sdk-team/art-ttl/ttl-data:latest")
    assert fetched.ttl == timedelta(days=2)
    assert api.artifact("sdk-team/art-ttl/ttl-later:v0").ttl == timedelta(minutes=90)

    fetched.ttl = timedelta(hours=1)
    fetched.save()
    again = api_for(server, sdk_db).artifact("sdk-team/art-ttl/ttl-data:v0")
    assert again.ttl == timedelta(hours=1)
    # Counted from the version's creation, as W&B does.
    data = again._version_data()
    created, expires = (
        datetime.fromisoformat(data[k].replace("Z", "+00:00")) for k in ("created_at", "expires_at")
    )
    assert (data["ttl_seconds"], expires - created) == (3600, timedelta(hours=1))

    # save() without touching ttl keeps it; None (or INHERIT: no team policy) clears it.
    again.description = "described"
    again.save()
    assert api_for(server, sdk_db).artifact("sdk-team/art-ttl/ttl-data:v0").ttl == timedelta(
        hours=1
    )
    again.ttl = ArtifactTTL.INHERIT
    again.save()
    cleared = api_for(server, sdk_db).artifact("sdk-team/art-ttl/ttl-data:v0")
    assert cleared.ttl is None and cleared.description == "described"


def test_bad_ttls_are_refused_when_set():
    artifact = wandb.Artifact("bad-ttl", type="dataset")
    for value in (timedelta(0), timedelta(seconds=-5), timedelta(milliseconds=500)):
        with pytest.raises(ValueError, match="positive"):
            artifact.ttl = value
    with pytest.raises(ValueError, match="timedelta"):
        artifact.ttl = 3600
    with pytest.raises(ValueError, match="at most"):
        artifact.ttl = timedelta(days=365 * 200)
    assert artifact.ttl is None


def test_a_version_linked_to_the_registry_has_no_ttl(server, sdk_db, sdk_settings, tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"weights-ttl")
    run = wandb.init(project="art-ttl-models", settings=sdk_settings())
    model = wandb.Artifact("ttl-model", type="model")
    model.add_file(str(tmp_path / "model.pkl"))
    model.ttl = timedelta(days=7)
    run.log_artifact(model)
    run.link_artifact(model, "sdk-team/model-registry/ttl-classifier")
    run.finish()

    api = api_for(server, sdk_db)
    source = api.artifact("sdk-team/art-ttl-models/ttl-model:v0")
    assert source.ttl is None  # linking disabled it
    linked = api.artifact("sdk-team/model-registry/ttl-classifier:latest")
    assert linked.ttl is None
    for artifact in (source, linked):
        artifact.ttl = timedelta(days=1)
        with pytest.raises(ValueError, match="model registry"):
            artifact.save()
    assert api.artifact("sdk-team/art-ttl-models/ttl-model:v0").ttl is None


def test_an_offline_run_carries_the_ttl_to_sync(server, sdk_db, sdk_settings, tmp_path):
    run = wandb.init(
        project="art-ttl-offline",
        mode="offline",
        settings=sdk_settings(base_url="http://127.0.0.1:9"),
    )
    artifact = wandb.Artifact("offline-ttl", type="dataset")
    with artifact.new_file("a.txt") as fh:
        fh.write("offline")
    artifact.ttl = timedelta(days=3)
    run.log_artifact(artifact)
    run.finish()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(GRADLINE_BASE_URL=server.url, GRADLINE_API_KEY=sdk_db.seed.owner_key)
    done: subprocess.CompletedProcess = gradline_cli("sync", run.dir, "--no-progress", env=env)
    assert done.returncode == 0, done.stderr

    fetched = api_for(server, sdk_db).artifact("sdk-team/art-ttl-offline/offline-ttl:v0")
    assert fetched.ttl == timedelta(days=3)
