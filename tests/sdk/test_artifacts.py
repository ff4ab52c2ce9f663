"""Artifacts and the model registry through the SDK, against the real server: logging,
dedup by digest, aliases, lineage, models, registry links, and uploads that survive an
offline run, an unreachable server and files changed after logging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gradline
from gradline import Api, Artifact
from gradline.artifact_store import manifest_digest
from gradline.later import NotAvailableYet
from tests.sdk.harness import FaultProxy, wait_for


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    """download() defaults to ./artifacts: keep it out of the repository."""
    monkeypatch.chdir(tmp_path)


def api_for(server, sdk_db) -> Api:
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def dataset(tmp_path: Path, tag: bytes = b"") -> Path:
    src = tmp_path / "src"
    write(src / "train.csv", b"x,y\n1,2\n" + tag)
    write(src / "images" / "a.png", os.urandom(3000) if not tag else b"\x89PNG" + tag)
    write(src / "images" / "sub" / "b.png", b"\x89PNG-b")
    write(src / "empty.txt", b"")
    return src


def test_dataset_artifact_round_trip(server, sdk_db, sdk_settings, tmp_path):
    src = dataset(tmp_path)
    run = gradline.init(project="art-data", settings=sdk_settings())
    art = Artifact("mnist", type="dataset", description="digits", metadata={"rows": 2})
    art.add_file(str(src / "train.csv"))
    art.add_file(str(src / "empty.txt"), name="meta/empty.txt")
    art.add_dir(str(src / "images"), name="images")
    with art.new_file("notes/readme.md") as fh:
        fh.write("hand-written\n")
    run.log_artifact(art, aliases=["best"])
    art.wait(timeout=60)
    assert art.version == "v0" and art.name == "mnist:v0"
    assert set(art.aliases) == {"latest", "best"}
    expected_files = {
        "train.csv": (src / "train.csv").read_bytes(),
        "meta/empty.txt": b"",
        "images/a.png": (src / "images" / "a.png").read_bytes(),
        "images/sub/b.png": b"\x89PNG-b",
        "notes/readme.md": b"hand-written\n",
    }
    run.finish()

    remote = api_for(server, sdk_db).artifact("sdk-team/art-data/mnist:best", type="dataset")
    assert remote.version == "v0" and remote.qualified_name == "sdk-team/art-data/mnist:v0"
    assert remote.metadata == {"rows": 2} and remote.description == "digits"
    files = [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in remote.files()]
    assert remote.digest == art.digest == manifest_digest(files)
    out = Path(remote.download(root=str(tmp_path / "elsewhere")))
    assert tree(out) == expected_files
    assert Path(remote.get_entry("images/sub/b.png").download(tmp_path / "one")).read_bytes() == (
        b"\x89PNG-b"
    )
    default_root = Path(remote.download())
    assert default_root == tmp_path / "artifacts" / "mnist:v0"
    assert tree(default_root) == expected_files


def test_identical_files_give_the_same_version_and_aliases_move(
    server, sdk_db, sdk_settings, tmp_path
):
    src = dataset(tmp_path, tag=b"v")
    run = gradline.init(project="art-dedup", settings=sdk_settings())
    first = run.log_artifact(str(src), name="data", type="dataset", aliases=["best"]).wait(60)
    again = run.log_artifact(str(src), name="data", type="dataset", aliases=["prod"]).wait(60)
    assert (first.version, again.version) == ("v0", "v0")
    write(src / "train.csv", b"changed")
    changed = run.log_artifact(str(src), name="data", type="dataset", aliases=["best"]).wait(60)
    assert changed.version == "v1"
    run.finish()

    api = api_for(server, sdk_db)
    versions = api.artifacts("dataset", "sdk-team/art-dedup/data")
    assert [v.version for v in versions] == ["v1", "v0"]
    assert set(versions[0].aliases) == {"latest", "best"}
    assert set(versions[1].aliases) == {"prod"}
    assert api.artifact("sdk-team/art-dedup/data:best").version == "v1"
    assert api.artifact("sdk-team/art-dedup/data:prod").digest == first.digest


def test_use_artifact_records_lineage(server, sdk_db, sdk_settings, tmp_path):
    src = dataset(tmp_path)
    producer = gradline.init(project="art-lineage", job_type="prep", settings=sdk_settings())
    producer.log_artifact(str(src / "train.csv"), name="table", type="dataset")
    producer.finish()

    consumer = gradline.init(project="art-lineage", job_type="train", settings=sdk_settings())
    used = consumer.use_artifact("table:latest", type="dataset")
    path = used.file(root=tmp_path / "got")
    assert Path(path).read_bytes() == (src / "train.csv").read_bytes()
    with pytest.raises(ValueError, match="type"):
        consumer.use_artifact("table:v0", type="model")
    consumer.finish()

    api = api_for(server, sdk_db)
    consumer_remote = api.run(f"sdk-team/art-lineage/{consumer.id}")
    assert [a.name for a in consumer_remote.used_artifacts()] == ["table:v0"]
    producer_remote = api.run(f"sdk-team/art-lineage/{producer.id}")
    assert [a.name for a in producer_remote.logged_artifacts()] == ["table:v0"]
    version = api.artifact("sdk-team/art-lineage/table:v0")
    assert version.logged_by().id == producer.id
    assert [r.id for r in version.used_by()] == [consumer.id]


@pytest.fixture
def model_env(monkeypatch, server, sdk_db, tmp_path):
    """The environment a script sees: log_model/use_model start their own run."""
    for key, value in {
        "GRADLINE_BASE_URL": server.url,
        "GRADLINE_API_KEY": sdk_db.seed.owner_key,
        "GRADLINE_ENTITY": "sdk-team",
        "GRADLINE_PROJECT": "art-models",
        "GRADLINE_DIR": str(tmp_path / "runs"),
        "GRADLINE_SYSTEM_METRICS": "false",
        "GRADLINE_CONSOLE": "off",
        "GRADLINE_GIT": "false",
        "GRADLINE_PIP_FREEZE": "false",
        "GRADLINE_SILENT": "true",
        "GRADLINE_EXIT_HOOKS": "false",
    }.items():
        monkeypatch.setenv(key, value)


def test_log_model_and_use_model_round_trip_without_init(model_env, server, sdk_db, tmp_path):
    weights = write(tmp_path / "path" / "to" / "model.pkl", os.urandom(5000))
    gradline.log_model("model", str(weights), aliases=["latest", "production"])  # brief order
    started = gradline.run
    assert started is not None and started.job_type == "log-model"
    path = gradline.use_model("model:production")
    assert Path(path).read_bytes() == weights.read_bytes()
    assert Path(path).name == "model.pkl"

    folder = tmp_path / "hf"
    write(folder / "config.json", b"{}")
    write(folder / "weights.bin", b"\0" * 100)
    gradline.log_model(str(folder), name="hf-model")  # W&B order
    got = gradline.use_model("hf-model:latest")
    assert tree(Path(got)) == {"config.json": b"{}", "weights.bin": b"\0" * 100}
    with pytest.raises(ValueError, match="neither"):
        gradline.log_model("model", "no/such/file.pkl")
    gradline.finish()

    remote = api_for(server, sdk_db).run(f"sdk-team/art-models/{started.id}")
    assert sorted(a.name for a in remote.logged_artifacts()) == ["hf-model:v0", "model:v0"]
    assert sorted(a.name for a in remote.used_artifacts()) == ["hf-model:v0", "model:v0"]


def test_link_model_then_use_model_through_the_registry(model_env, server, sdk_db, tmp_path):
    weights = write(tmp_path / "model.pkl", b"weights-v1")
    gradline.link_model(str(weights), "resnet-classifier", aliases=["production"])
    assert gradline.run.job_type == "log-model"
    path = gradline.use_model("sdk-team/model-registry/resnet-classifier:production")
    assert Path(path).read_bytes() == b"weights-v1"
    gradline.finish()

    api = api_for(server, sdk_db)
    linked = api.artifact("sdk-team/model-registry/resnet-classifier:production")
    assert linked.name == "resnet-classifier:v0" and "production" in linked.aliases
    assert linked.source_project == "art-models" and linked.type == "model"
    assert [
        v.version for v in api.artifacts("model", "sdk-team/model-registry/resnet-classifier")
    ] == ["v0"]


def test_offline_artifact_is_uploaded_by_sync_exactly_once(server, sdk_db, sdk_settings, tmp_path):
    src = dataset(tmp_path)
    run = gradline.init(
        project="art-offline", mode="offline", settings=sdk_settings(base_url="http://127.0.0.1:9")
    )
    art = run.log_artifact(str(src), name="offline-data", type="dataset", aliases=["best"])
    with pytest.raises(gradline.UsageError, match="gradline sync"):
        art.wait()
    run.finish()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(GRADLINE_BASE_URL=server.url, GRADLINE_API_KEY=sdk_db.seed.owner_key)

    def sync() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gradline", "sync", run.dir, "--no-progress"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = sync()
    assert first.returncode == 0, first.stderr
    assert "1 artifact record(s) sent" in first.stderr
    second = sync()
    assert second.returncode == 0 and "already synced" in second.stderr, second.stderr

    api = api_for(server, sdk_db)
    [version] = api.artifacts("dataset", "sdk-team/art-offline/offline-data")
    assert version.digest == art.digest and set(version.aliases) == {"latest", "best"}
    assert tree(Path(version.download(tmp_path / "out"))) == tree(src)
    assert version.logged_by().id == run.id
    events = api.client.json(
        "GET", "/api/v1/teams/sdk-team/projects/art-offline/artifacts/offline-data/alias-events"
    )["events"]
    assert [(e["alias"], e["to"]) for e in events] == [("best", "v0")]


def test_artifact_logged_while_the_server_is_down_arrives_when_it_is_back(
    server_factory, sdk_db, sdk_settings, tmp_path
):
    own = server_factory()
    # Content no other server process stored: each test server keeps blobs in a media
    # folder of its own (config/settings/test.py names it by process id).
    src = tmp_path / "src"
    write(src / "a.bin", os.urandom(4000))
    write(src / "dir" / "b.bin", os.urandom(10))
    run = gradline.init(project="art-outage", settings=sdk_settings(base_url=own.url))
    own.kill()
    art = run.log_artifact(str(src), name="outage", type="dataset")
    with pytest.raises(gradline.artifacts.WaitTimeoutError):
        art.wait(timeout=1.0)
    own.start()
    art.wait(timeout=60)
    assert art.version == "v0"
    run.finish()
    remote = Api(api_key=sdk_db.seed.owner_key, base_url=own.url).artifact(
        "sdk-team/art-outage/outage:latest"
    )
    assert tree(Path(remote.download(tmp_path / "out"))) == tree(src)


def test_a_file_changed_after_log_artifact_still_uploads_the_logged_content(
    server, sdk_db, sdk_settings, tmp_path
):
    proxy = FaultProxy(server.url)
    proxy.error_paths["/artifact-blobs/missing"] = 503  # hold the upload back
    try:
        run = gradline.init(project="art-changed", settings=sdk_settings(base_url=proxy.url))
        weights = write(tmp_path / "model.pkl", b"as logged")
        art = run.log_model(str(weights), name="changing")
        weights.write_bytes(b"changed afterwards, longer")
        assert art.state == "PENDING"
        wait_for(lambda: proxy.errors_answered >= 1, 30, what="the held-back upload attempt")
        proxy.error_paths.clear()
        art.wait(timeout=60)
        run.finish()
    finally:
        proxy.close()
    remote = api_for(server, sdk_db).artifact("sdk-team/art-changed/changing:v0")
    assert Path(remote.file(tmp_path / "out")).read_bytes() == b"as logged"


def test_bad_input_is_refused_clearly(server, sdk_db, sdk_settings, tmp_path):
    with pytest.raises(ValueError, match="not valid"):
        Artifact("bad name!", type="dataset")
    art = Artifact("ok", type="dataset")
    with pytest.raises(NotAvailableYet, match="add_reference"):
        art.add_reference("s3://bucket/key")
    with pytest.raises(ValueError, match="relative"):
        art.add_file(str(write(tmp_path / "f.txt", b"f")), name="../escape.txt")
    with pytest.raises(ValueError, match="reserved"):
        gradline.init(project="art-bad", settings=sdk_settings()).log_artifact(
            str(tmp_path / "f.txt"), name="f", type="dataset", aliases=["v3"]
        )
    run = gradline.run
    run.log_artifact(str(tmp_path / "f.txt"), name="typed", type="dataset").wait(60)
    other = run.log_artifact(str(tmp_path / "f.txt"), name="typed", type="model")
    with pytest.raises(gradline.GradlineError, match="type"):
        other.wait(60)
    with pytest.raises(gradline.CommError, match="not found"):
        run.use_artifact("missing:latest")
    run.finish()


def test_cli_artifact_put_then_get(server, sdk_db, tmp_path):
    src = dataset(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        GRADLINE_BASE_URL=server.url,
        GRADLINE_API_KEY=sdk_db.seed.owner_key,
        GRADLINE_DIR=str(tmp_path / "runs"),
        GRADLINE_CONFIG_DIR=str(tmp_path / "config"),
        GRADLINE_GIT="false",
        GRADLINE_PIP_FREEZE="false",
    )

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gradline", "artifact", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    put = cli("put", str(src), "--name", "sdk-team/art-cli/cli-data", "--alias", "gold")
    assert put.returncode == 0, put.stderr
    assert put.stdout.strip() == "sdk-team/art-cli/cli-data:v0"
    got = cli("get", "sdk-team/art-cli/cli-data:gold", "--root", str(tmp_path / "got"))
    assert got.returncode == 0, got.stderr
    assert tree(Path(got.stdout.strip())) == tree(src)
    missing = cli("get", "sdk-team/art-cli/nothing:latest")
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad = cli("put", str(tmp_path / "absent"), "--name", "sdk-team/art-cli/x")
    assert bad.returncode == 1 and "not an existing file" in bad.stderr
