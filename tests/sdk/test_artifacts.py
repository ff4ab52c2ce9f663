"""Artifacts and the model registry through the SDK, against the real server: logging,
dedup by digest, aliases, lineage, models, registry links, and uploads that survive an
offline run, an unreachable server and files changed after logging."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

import gradline
from gradline import Api, Artifact
from gradline.artifact_store import ContentCache, manifest_digest
from gradline.transfers import SMALL_FILE
from tests.sdk.harness import FaultProxy, gradline_cli, wait_for


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
        return gradline_cli("sync", run.dir, "--no-progress", env=env)

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
    with pytest.raises(ValueError, match="must start with"):
        art.add_reference("ftp://bucket/key")
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
        return gradline_cli("artifact", *args, env=env, cwd=tmp_path)

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


# -- many small files: tar bundles (docs/registry.md) ----------------------------------
def requests_to(proxy: FaultProxy, method: str, needle: str) -> list[str]:
    return [path for verb, path in proxy.paths if verb == method and needle in path]


def small_files(root: Path, count: int) -> Path:
    """`count` files of distinct random content (no other test's blobs) in folders."""
    for i in range(count):
        write(root / f"part-{i // 100:02d}" / f"row-{i:05d}.txt", f"{i},".encode() + os.urandom(40))
    return root


def test_a_dataset_of_thousands_of_small_files_travels_in_bundles(
    server, sdk_db, sdk_settings, tmp_path
):
    src = small_files(tmp_path / "many", 2000)
    write(src / "big" / "a.bin", os.urandom(SMALL_FILE + 1))
    write(src / "big" / "b.bin", os.urandom(2 * SMALL_FILE))
    write(src / "copy-of-row-0.txt", (src / "part-00" / "row-00000.txt").read_bytes())
    proxy = FaultProxy(server.url)
    try:
        run = gradline.init(project="art-bundles", settings=sdk_settings(base_url=proxy.url))
        run.log_artifact(str(src), name="many", type="dataset").wait(120)
        run.finish()
        # 2,000 distinct small blobs: two bundles of 1,000; the two big files one PUT each.
        assert len(requests_to(proxy, "POST", "/artifact-blobs/bundle")) == 2
        assert len(requests_to(proxy, "PUT", "/artifact-blobs/")) == 2

        proxy.paths.clear()
        remote = Api(api_key=sdk_db.seed.owner_key, base_url=proxy.url).artifact(
            "sdk-team/art-bundles/many:v0"
        )
        assert remote.file_count == 2003
        out = Path(remote.download(tmp_path / "out"))
        assert tree(out) == tree(src)
        assert len(requests_to(proxy, "POST", "/files-bundle")) == 2
        singles = requests_to(proxy, "GET", "/files/")
        assert sorted(p.rsplit("/", 1)[-1] for p in singles) == ["a.bin", "b.bin"]
    finally:
        proxy.close()


def rebuild_tar(body: bytes, change) -> bytes:
    """The tar `body` with each member passed through change(name, data) -> data or None
    (None drops the member)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(body), mode="r:") as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst,
    ):
        for info in src:
            data = change(info.name, src.extractfile(info).read())
            if data is not None:
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_damaged_or_missing_bundle_member_is_fetched_on_its_own(
    server, sdk_db, sdk_settings, tmp_path
):
    src = small_files(tmp_path / "src", 20)
    write(src / "données" / ("long-name-" * 15 + "é.txt"), b"a PAX member name")
    damaged, dropped = "part-00/row-00003.txt", "part-00/row-00011.txt"

    def damage(name: str, data: bytes) -> bytes | None:
        if name == dropped:
            return None
        return bytes([data[0] ^ 0xFF]) + data[1:] if name == damaged else data

    run = gradline.init(project="art-bundle-damage", settings=sdk_settings())
    run.log_artifact(str(src), name="rows", type="dataset").wait(60)
    run.finish()
    proxy = FaultProxy(server.url)
    proxy.rewrite_paths["/files-bundle"] = lambda body: rebuild_tar(body, damage)
    try:
        remote = Api(api_key=sdk_db.seed.owner_key, base_url=proxy.url).artifact(
            "sdk-team/art-bundle-damage/rows:v0"
        )
        out = Path(remote.download(tmp_path / "out"))
        assert tree(out) == tree(src)
        assert len(requests_to(proxy, "POST", "/files-bundle")) == 1
        singles = requests_to(proxy, "GET", "/files/")
        assert sorted(p.split("/files/", 1)[1] for p in singles) == [damaged, dropped]
    finally:
        proxy.close()


def test_a_bundle_member_lost_from_storage_fails_the_download_clearly(
    server, sdk_db, sdk_settings, tmp_path
):
    src = small_files(tmp_path / "src", 10)
    lost = "part-00/row-00004.txt"
    run = gradline.init(project="art-bundle-lost", settings=sdk_settings())
    run.log_artifact(str(src), name="rows", type="dataset").wait(60)
    run.finish()
    sha256 = hashlib.sha256((src / lost).read_bytes()).hexdigest()
    [(storage_name,)] = sdk_db.query(
        "SELECT storage_name FROM registry_artifactblob WHERE sha256 = %s", (sha256,)
    )
    (sdk_db.var_dir / "media" / storage_name).unlink()

    remote = api_for(server, sdk_db).artifact("sdk-team/art-bundle-lost/rows:v0")
    with pytest.raises(gradline.CommError, match="410") as failed:
        remote.download(tmp_path / "out")
    assert lost in str(failed.value)
    assert not (tmp_path / "out" / lost).exists()


def test_a_server_without_bundle_routes_gets_files_one_by_one(
    server, sdk_db, sdk_settings, tmp_path
):
    first = small_files(tmp_path / "first", 30)
    second = small_files(tmp_path / "second", 30)
    proxy = FaultProxy(server.url)
    proxy.error_paths["/artifact-blobs/bundle"] = 404
    proxy.error_paths["/files-bundle"] = 405
    try:
        run = gradline.init(project="art-old-server", settings=sdk_settings(base_url=proxy.url))
        run.log_artifact(str(first), name="first", type="dataset").wait(60)
        run.log_artifact(str(second), name="second", type="dataset").wait(60)
        run.finish()
        # Asked once (one bundle of 30); the answer is remembered for the second artifact.
        assert len(requests_to(proxy, "POST", "/artifact-blobs/bundle")) == 1
        assert len(requests_to(proxy, "PUT", "/artifact-blobs/")) == 60

        api = Api(api_key=sdk_db.seed.owner_key, base_url=proxy.url)
        for name, src in (("first", first), ("second", second)):
            remote = api.artifact(f"sdk-team/art-old-server/{name}:v0")
            assert tree(Path(remote.download(tmp_path / "out" / name))) == tree(src)
        assert len(requests_to(proxy, "POST", "/files-bundle")) == 1
        assert len(requests_to(proxy, "GET", "/files/")) == 60
    finally:
        proxy.close()


def test_a_bundle_stream_that_breaks_is_asked_again_for_the_rest(
    server, sdk_db, sdk_settings, tmp_path
):
    src = small_files(tmp_path / "src", 50)
    run = gradline.init(project="art-bundle-break", settings=sdk_settings())
    run.log_artifact(str(src), name="rows", type="dataset").wait(60)
    run.finish()
    proxy = FaultProxy(server.url)
    cut_once: list[bytes] = []

    def cut_mid_member(body: bytes) -> bytes:
        if cut_once:
            return body
        cut_once.append(body)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as archive:
            members = archive.getmembers()
        return body[: members[len(members) // 2].offset_data + 5]  # the stream broke

    proxy.rewrite_paths["/files-bundle"] = cut_mid_member
    try:
        remote = Api(api_key=sdk_db.seed.owner_key, base_url=proxy.url).artifact(
            "sdk-team/art-bundle-break/rows:v0"
        )
        assert tree(Path(remote.download(tmp_path / "out"))) == tree(src)
        assert len(requests_to(proxy, "POST", "/files-bundle")) == 2
        assert requests_to(proxy, "GET", "/files/") == []
    finally:
        proxy.close()


def test_a_cached_copy_damaged_before_upload_is_rejected_from_the_bundle_and_reported(
    server, sdk_db, sdk_settings, tmp_path
):
    src = small_files(tmp_path / "src", 10)
    proxy = FaultProxy(server.url)
    proxy.error_paths["/artifact-blobs/missing"] = 503  # hold the upload back
    try:
        run = gradline.init(project="art-bundle-reject", settings=sdk_settings(base_url=proxy.url))
        art = run.log_artifact(str(src), name="rows", type="dataset")
        sha256 = hashlib.sha256((src / "part-00" / "row-00002.txt").read_bytes()).hexdigest()
        cached = ContentCache(run._cache_root()).path(sha256)
        cached.chmod(0o644)
        cached.write_bytes(b"bit rot" + cached.read_bytes()[7:])
        wait_for(lambda: proxy.errors_answered >= 1, 30, what="the held-back upload attempt")
        proxy.error_paths.clear()
        with pytest.raises(gradline.GradlineError, match=f"cached copy of {sha256} was damaged"):
            art.wait(timeout=60)
        run.finish()
        assert len(requests_to(proxy, "POST", "/artifact-blobs/bundle")) == 1
        assert requests_to(proxy, "PUT", "/artifact-blobs/") == [
            f"/api/v1/teams/sdk-team/projects/art-bundle-reject/artifact-blobs/{sha256}"
        ]
    finally:
        proxy.close()
