"""`Artifact.add_reference` as W&B code calls it, against the real server: file://,
http(s):// (a real local HTTP server) and s3:// (moto's S3 over real HTTP) references are
recorded with URI, digest and size, read back through `Api`, and `download()` fetches
them from where they are, refusing content that changed since it was logged."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

import gradline
from gradline import Api, Artifact
from gradline.artifact_refs import ArtifactReferenceError
from tests.sdk.harness import gradline_cli


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)


def api_for(server, sdk_db) -> Api:
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_file_references_round_trip_and_download_checks_the_content(
    server, sdk_db, sdk_settings, tmp_path
):
    data = tmp_path / "data"
    write(data / "train.csv", b"x,y\n1,2\n")
    write(data / "images" / "a.png", b"\x89PNG a")
    write(data / "images" / "b.png", b"\x89PNG b")
    single = write(tmp_path / "labels.json", b'{"a": 1}')

    run = gradline.init(project="refs-file", settings=sdk_settings())
    art = Artifact("mnist-refs", type="dataset")
    added = art.add_reference(f"file://{data}", name="raw")
    assert sorted(e.path for e in added) == [
        "raw/images/a.png",
        "raw/images/b.png",
        "raw/train.csv",
    ]
    (labels,) = art.add_reference(single.as_uri())
    assert labels.path == "labels.json" and labels.digest == sha(b'{"a": 1}') and labels.size == 8
    (loose,) = art.add_reference(f"file://{single}", name="unchecked.json", checksum=False)
    assert loose.digest == f"file://{single}"
    art.add_file(str(write(tmp_path / "readme.md", b"stored")))
    digest_before = art.digest
    run.log_artifact(art).wait(60)
    assert art.digest == digest_before  # the server computes the same manifest digest
    run.finish()

    remote = api_for(server, sdk_db).artifact("sdk-team/refs-file/mnist-refs:latest")
    entry = remote.get_entry("raw/train.csv")
    assert entry.ref == f"file://{data}/train.csv"
    assert entry.digest == sha(b"x,y\n1,2\n") and entry.size == 8
    manifest = {e.path: (e.ref, e.digest, e.size) for e in remote.manifest}
    assert manifest["labels.json"] == (single.as_uri(), sha(b'{"a": 1}'), 8)
    assert manifest["unchecked.json"] == (f"file://{single}", f"file://{single}", 8)
    assert manifest["readme.md"][0] is None
    assert remote.file_count == 6

    root = Path(remote.download(tmp_path / "out"))
    assert (root / "raw" / "images" / "b.png").read_bytes() == b"\x89PNG b"
    assert (root / "labels.json").read_bytes() == b'{"a": 1}'
    assert (root / "readme.md").read_bytes() == b"stored"

    # A referenced file changed after logging: refused, nothing placed.
    (data / "train.csv").write_bytes(b"x,y\n9,9\n")
    with pytest.raises(ArtifactReferenceError, match="changed since it was logged"):
        remote.get_entry("raw/train.csv").download(tmp_path / "again")
    assert not (tmp_path / "again" / "raw" / "train.csv").exists()
    (data / "images" / "a.png").unlink()
    with pytest.raises(ArtifactReferenceError, match="gone"):
        remote.get_entry("raw/images/a.png").download(tmp_path / "again")


def test_reference_limits_and_bad_uris_are_clear(sdk_settings, tmp_path):
    folder = tmp_path / "many"
    for i in range(5):
        write(folder / f"f{i}.txt", str(i).encode())
    art = Artifact("limits", type="dataset")
    with pytest.raises(ArtifactReferenceError, match="more than 3 objects; pass max_objects"):
        art.add_reference(f"file://{folder}", max_objects=3)
    assert len(art.add_reference(f"file://{folder}", max_objects=5)) == 5
    with pytest.raises(ValueError, match="must start with"):
        art.add_reference("ftp://host/file")
    with pytest.raises(ValueError, match="not an existing file or directory"):
        art.add_reference(f"file://{tmp_path}/absent")
    with pytest.raises(ValueError, match="max_objects must be a positive integer"):
        art.add_reference(f"file://{folder}", max_objects=0)


class _ETagHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with an ETag (the content's SHA-256), as object stores do."""

    def end_headers(self):
        path = Path(self.translate_path(self.path))
        if path.is_file():
            self.send_header("ETag", f'"{sha(path.read_bytes())[:16]}"')
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _ETagHandler(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_references_record_the_etag_and_download(
    server, sdk_db, sdk_settings, tmp_path, http_root
):
    root, base = http_root
    write(root / "weights.bin", b"w" * 1000)
    run = gradline.init(project="refs-http", settings=sdk_settings())
    art = Artifact("remote-weights", type="model")
    (entry,) = art.add_reference(f"{base}/weights.bin")
    etag = sha(b"w" * 1000)[:16]
    assert (entry.path, entry.digest, entry.size) == ("weights.bin", etag, 1000)
    art.add_reference(f"{base}/weights.bin", name="unchecked.bin", checksum=False)
    run.log_artifact(art).wait(60)
    run.finish()

    remote = api_for(server, sdk_db).artifact("sdk-team/refs-http/remote-weights:v0")
    got = remote.get_entry("weights.bin")
    assert got.ref == f"{base}/weights.bin" and got.extra == {"etag": f'"{etag}"'}
    assert remote.get_entry("unchecked.bin").digest == f"{base}/weights.bin"
    out = Path(remote.download(tmp_path / "out"))
    assert (out / "weights.bin").read_bytes() == b"w" * 1000
    assert (out / "unchecked.bin").read_bytes() == b"w" * 1000

    (root / "weights.bin").write_bytes(b"v" * 1000)
    with pytest.raises(ArtifactReferenceError, match="changed since it was logged"):
        remote.get_entry("weights.bin").download(tmp_path / "again")
    (root / "weights.bin").unlink()
    with pytest.raises(ArtifactReferenceError, match="404"):
        remote.get_entry("unchecked.bin").download(tmp_path / "again")


@pytest.fixture
def s3(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    motor = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    motor.start()
    host, port = motor.get_host_and_port()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_S3_ENDPOINT_URL": f"http://{host}:{port}",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
    client.create_bucket(Bucket="data")
    client.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
    yield client
    motor.stop()


def test_s3_references_an_object_and_a_prefix(server, sdk_db, sdk_settings, tmp_path, s3):
    s3.put_object(Bucket="data", Key="sets/a/train.csv", Body=b"x\n1\n")
    s3.put_object(Bucket="data", Key="sets/a/parts/p1.bin", Body=b"p1")
    s3.put_object(Bucket="data", Key="sets/a/parts/p2.bin", Body=b"p2")
    first = s3.put_object(Bucket="data", Key="model.pt", Body=b"model v1")

    run = gradline.init(project="refs-s3", settings=sdk_settings())
    art = Artifact("s3-set", type="dataset")
    (model,) = art.add_reference("s3://data/model.pt")
    assert model.path == "model.pt" and model.size == 8
    assert model.digest == first["ETag"].strip('"')
    assert model.extra["versionID"] == first["VersionId"]
    prefix = art.add_reference("s3://data/sets/a", name="set")
    assert sorted(e.path for e in prefix) == [
        "set/parts/p1.bin",
        "set/parts/p2.bin",
        "set/train.csv",
    ]
    with pytest.raises(ArtifactReferenceError, match="more than 2 objects"):
        Artifact("x", type="dataset").add_reference("s3://data/sets/a", max_objects=2)
    run.log_artifact(art).wait(60)
    run.finish()

    # A newer version of the object: the download still reads the logged one.
    s3.put_object(Bucket="data", Key="model.pt", Body=b"model v2")
    remote = api_for(server, sdk_db).artifact("sdk-team/refs-s3/s3-set:latest")
    assert remote.get_entry("set/train.csv").ref == "s3://data/sets/a/train.csv"
    out = Path(remote.download(tmp_path / "out"))
    assert (out / "model.pt").read_bytes() == b"model v1"
    assert (out / "set" / "parts" / "p2.bin").read_bytes() == b"p2"


def test_gs_references_without_google_cloud_storage_say_what_to_install(tmp_path):
    try:
        import google.cloud.storage  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("google-cloud-storage is installed here")
    with pytest.raises(ArtifactReferenceError, match="pip install google-cloud-storage"):
        Artifact("g", type="dataset").add_reference("gs://bucket/key")
    # Without checksum nothing is read, so nothing is needed.
    (entry,) = Artifact("g", type="dataset").add_reference("gs://bucket/dir/", checksum=False)
    assert (entry.path, entry.digest) == ("dir", "gs://bucket/dir/")


def test_log_artifact_of_a_uri_in_an_offline_run_synced_later(
    server, sdk_db, sdk_settings, tmp_path
):
    data = write(tmp_path / "table.parquet", b"PAR1....PAR1")
    run = gradline.init(
        project="refs-offline", mode="offline", settings=sdk_settings(base_url="http://127.0.0.1:9")
    )
    art = run.log_artifact(data.as_uri(), name="table", type="dataset")
    run.finish()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(GRADLINE_BASE_URL=server.url, GRADLINE_API_KEY=sdk_db.seed.owner_key)
    synced = gradline_cli("sync", run.dir, "--no-progress", env=env)
    assert synced.returncode == 0, synced.stderr

    remote = api_for(server, sdk_db).artifact("sdk-team/refs-offline/table:v0")
    assert remote.digest == art.digest
    (entry,) = remote.manifest
    assert (entry.path, entry.ref, entry.digest) == (
        "table.parquet",
        data.as_uri(),
        sha(b"PAR1....PAR1"),
    )
    # Its content comes from the disk, not the server.
    assert Path(remote.file(tmp_path / "f")).read_bytes() == b"PAR1....PAR1"
