"""Run files: streamed upload and download through the default storage at server-chosen
names; client names are validated (no traversal, no absolute paths)."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.core.files.storage import default_storage

from apps.runs.models import RunFile
from tests.runs.conftest import run_url


def put(client, uid: str, path: str, data: bytes, content_type="application/octet-stream"):
    return client.generic(
        "PUT", run_url(uid, f"/files/{path}"), data=data, content_type=content_type
    )


def test_upload_list_download_replace_delete(
    member_api, run, team, django_capture_on_commit_callbacks
):
    blob = os.urandom(3 * 1024 * 1024 + 17)
    r = put(member_api, run.uid, "checkpoints/epoch-1/model.pt", blob)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["path"] == "checkpoints/epoch-1/model.pt"
    assert out["size"] == len(blob) and out["sha256"] == hashlib.sha256(blob).hexdigest()
    record = RunFile.objects.for_team(team).get(run=run)
    # Stored under a name the server chose, not the client's path.
    assert record.storage_name.startswith(f"runs/{team.pk}/{run.pk}/")
    assert "model.pt" not in record.storage_name and "checkpoints" not in record.storage_name

    put(member_api, run.uid, "config.yaml", b"lr: 0.1\n", "text/yaml")
    listing = member_api.get(run_url(run.uid, "/files")).json()["files"]
    assert [f["path"] for f in listing] == ["checkpoints/epoch-1/model.pt", "config.yaml"]

    r = member_api.get(run_url(run.uid, "/files/checkpoints/epoch-1/model.pt"))
    assert r.status_code == 200 and r.streaming
    assert r["Content-Length"] == str(len(blob))
    assert 'filename="model.pt"' in r["Content-Disposition"]
    assert b"".join(r.streaming_content) == blob
    r = member_api.get(run_url(run.uid, "/files/config.yaml"))
    assert r["Content-Type"] == "text/yaml"

    old_blob = record.storage_name
    with django_capture_on_commit_callbacks(execute=True):
        r = put(member_api, run.uid, "checkpoints/epoch-1/model.pt", b"smaller")
    assert r.status_code == 201 and r.json()["size"] == 7
    assert not default_storage.exists(old_blob)  # replaced blob removed after commit
    got = member_api.get(run_url(run.uid, "/files/checkpoints/epoch-1/model.pt"))
    assert got.content == b"smaller"  # small files come in one body

    new_blob = RunFile.objects.for_team(team).get(run=run, path="config.yaml").storage_name
    with django_capture_on_commit_callbacks(execute=True):
        assert member_api.delete(run_url(run.uid, "/files/config.yaml")).status_code == 204
    assert not default_storage.exists(new_blob)
    assert member_api.get(run_url(run.uid, "/files/config.yaml")).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["../secret", "a/../../b", "/etc/passwd", "a//b", "./a", "a/.", "C:/x", "a\\b", "%2e%2e/x"],
)
def test_bad_file_names_are_rejected(member_api, run, path):
    r = put(member_api, run.uid, path, b"x")
    assert r.status_code in (400, 404), (path, r.status_code)
    if r.status_code == 400:
        assert r.json()["error"]["detail"]["field"] == "path"
    assert member_api.get(run_url(run.uid, "/files")).json()["files"] == []


def test_file_size_limit_is_413(member_api, run, settings):
    settings.RUN_FILE_MAX_BYTES = 1000
    r = put(member_api, run.uid, "big.bin", b"x" * 1001)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert put(member_api, run.uid, "ok.bin", b"x" * 1000).status_code == 201


def test_files_larger_than_the_request_body_limit_stream_through(member_api, run, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    r = put(member_api, run.uid, "weights.bin", b"w" * 200_000)
    assert r.status_code == 201 and r.json()["size"] == 200_000


def test_run_delete_removes_blobs(member_api, run, team, django_capture_on_commit_callbacks):
    put(member_api, run.uid, "a.txt", b"a")
    name = RunFile.objects.for_team(team).get(run=run).storage_name
    with django_capture_on_commit_callbacks(execute=True):
        assert member_api.delete(run_url(run.uid)).status_code == 204
    assert not default_storage.exists(name)


def test_viewer_reads_files_but_cannot_upload(viewer_api, member_api, run):
    put(member_api, run.uid, "a.txt", b"a")
    read = viewer_api.get(run_url(run.uid, "/files/a.txt"))
    assert read.status_code == 200 and read.getvalue() == b"a"
    refused = put(viewer_api, run.uid, "b.txt", b"b")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    listed = viewer_api.get(run_url(run.uid, "/files")).json()
    assert [f["path"] for f in listed["files"]] == ["a.txt"]
