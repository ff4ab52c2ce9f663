"""Registry API (docs/registry.md): content-addressed uploads, versions and their dedup,
aliases with history, lineage, registered models with promotion rights, deletion rules
and blob garbage collection — through the HTTP API against real PostgreSQL."""

from __future__ import annotations

import hashlib
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from apps.registry import tasks
from apps.registry.models import ArtifactBlob
from tests.runs.conftest import P, make_run, post_json

T = "/api/v1/teams/team-a"
pytestmark = pytest.mark.django_db


@pytest.fixture
def member_api(api_for, member_user):
    return api_for(member_user)


@pytest.fixture
def viewer_api(api_for, viewer_user):
    return api_for(viewer_user)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def upload(client, files: dict[str, bytes]) -> list[dict]:
    """The SDK's protocol: ask what is missing, upload that, return the manifest."""
    digests = [sha(c) for c in files.values()]
    missing = post_json(client, f"{P}/artifact-blobs/missing", {"sha256": digests})
    assert missing.status_code == 200, missing.content
    contents = {sha(c): c for c in files.values()}
    for digest in missing.json()["missing"]:
        r = client.generic(
            "PUT",
            f"{P}/artifact-blobs/{digest}",
            data=contents[digest],
            content_type="application/octet-stream",
        )
        assert r.status_code == 201, r.content
    return [{"path": p, "sha256": sha(c), "size": len(c)} for p, c in files.items()]


def log_version(client, name: str, files: dict[str, bytes], **body):
    manifest = upload(client, files)
    return post_json(
        client, f"{P}/artifacts/{name}/versions", {"type": "dataset", "files": manifest, **body}
    )


def download(client, name: str, ref: str, path: str) -> bytes:
    r = client.get(f"{P}/artifacts/{name}/versions/{ref}/files/{path}")
    assert r.status_code == 200, r.content
    return b"".join(r.streaming_content) if r.streaming else r.content


def test_log_download_and_dedup_of_a_version(member_api, member_user, team, project):
    make_run(team, project, member_user, uid="prep")
    files = {"train.csv": b"x,y\n1,2\n", "images/a.png": b"\x89PNG a", "images/b.png": b"PNG b"}
    r = log_version(member_api, "mnist", files, run="prep", metadata={"rows": 1})
    assert r.status_code == 201, r.content
    v0 = r.json()
    assert v0["version"] == "v0" and v0["created"] is True
    assert v0["aliases"] == ["latest"] and v0["run"] == "prep"
    assert v0["file_count"] == 3 and v0["size"] == sum(len(c) for c in files.values())
    assert v0["created_by"] == member_user.email and v0["metadata"] == {"rows": 1}
    # The digest is the documented manifest hash, so a client can compute it up front.
    lines = sorted(f"{p}\0{sha(c)}\0{len(c)}\n" for p, c in files.items())
    assert v0["digest"] == hashlib.sha256("".join(lines).encode()).hexdigest()
    for path, content in files.items():
        assert download(member_api, "mnist", "v0", path) == content

    # The same files again: no new version, and no blob is asked for twice.
    again = post_json(
        member_api, f"{P}/artifact-blobs/missing", {"sha256": [sha(c) for c in files.values()]}
    )
    assert again.json() == {"missing": []}
    r = log_version(member_api, "mnist", files, aliases=["best"])
    assert r.status_code == 200 and r.json()["created"] is False
    assert r.json()["version"] == "v0" and r.json()["aliases"] == ["latest", "best"]

    # One file changed: v1, which only needs the changed blob uploaded.
    changed = {**files, "train.csv": b"x,y\n1,2\n3,4\n"}
    asked = post_json(
        member_api,
        f"{P}/artifact-blobs/missing",
        {"sha256": [sha(c) for c in changed.values()]},
    ).json()["missing"]
    assert asked == [sha(changed["train.csv"])]
    r = log_version(member_api, "mnist", changed)
    assert r.status_code == 201 and r.json()["version"] == "v1"
    assert download(member_api, "mnist", "latest", "train.csv") == changed["train.csv"]
    assert download(member_api, "mnist", "best", "train.csv") == files["train.csv"]
    assert ArtifactBlob.objects.for_team(team).count() == 4  # shared files stored once

    listing = member_api.get(f"{P}/artifacts?type=dataset").json()["artifacts"]
    assert [(a["name"], a["version_count"], a["latest"], a["aliases"]) for a in listing] == [
        ("mnist", 2, "v1", {"best": "v0"})
    ]
    detail = member_api.get(f"{P}/artifacts/mnist").json()
    assert [(v["version"], v["aliases"]) for v in detail["versions"]] == [
        ("v1", ["latest"]),
        ("v0", ["best"]),
    ]
    assert member_api.get(f"{P}/artifacts?type=model").json()["artifacts"] == []


def test_uploads_are_checked_against_their_digest(member_api, team, project):
    content = b"weights"
    r = member_api.generic(
        "PUT",
        f"{P}/artifact-blobs/{sha(b'other')}",
        data=content,
        content_type="application/octet-stream",
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "digest_mismatch"
    assert not ArtifactBlob.objects.for_team(team).exists()
    # A version naming a blob that was never uploaded is refused and names it.
    r = post_json(
        member_api,
        f"{P}/artifacts/model/versions",
        {"type": "model", "files": [{"path": "m.pkl", "sha256": sha(content), "size": 7}]},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "missing_blobs"
    assert r.json()["error"]["detail"]["missing"] == [sha(content)]
    assert member_api.get(f"{P}/artifacts/model").status_code == 404  # nothing half-made
    # A wrong size is named.
    upload(member_api, {"m.pkl": content})
    r = post_json(
        member_api,
        f"{P}/artifacts/model/versions",
        {"type": "model", "files": [{"path": "m.pkl", "sha256": sha(content), "size": 8}]},
    )
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "files[0].size"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "bad type!", "files": []}, "type"),
        ({"type": "model", "files": "m.pkl"}, "files"),
        ({"type": "model", "files": [{"path": "../x", "sha256": "0" * 64, "size": 1}]}, None),
        ({"type": "model", "files": [{"path": "a", "sha256": "XYZ", "size": 1}]}, None),
        ({"type": "model", "files": [{"path": "a", "sha256": "0" * 64, "size": -1}]}, None),
        ({"type": "model", "files": [], "aliases": ["v3"]}, "aliases"),
        ({"type": "model", "files": [], "aliases": "prod"}, "aliases"),
        ({"type": "model", "files": [], "metadata": [1]}, "metadata"),
        ({"type": "model", "files": [], "metadata": {"a": "\x00"}}, "metadata"),
        ({"type": "model", "files": [], "run": "no-such-run"}, "run"),
        ({"type": "model", "files": [], "description": 5}, "description"),
    ],
)
def test_bad_version_bodies_are_named(member_api, project, body, field):
    r = post_json(member_api, f"{P}/artifacts/model/versions", body)
    assert r.status_code == 400, r.content
    detail = r.json()["error"]["detail"]
    assert detail["field"] == field if field else detail["field"].startswith("files[0].")


def test_an_artifact_keeps_its_type(member_api, project):
    assert log_version(member_api, "data", {"a": b"1"}).status_code == 201
    r = log_version(member_api, "data", {"a": b"2"}, type="model")
    assert r.status_code == 409 and r.json()["error"]["code"] == "type_mismatch"


def test_aliases_move_with_history(member_api, admin_api, member_user, project):
    log_version(member_api, "model", {"m": b"1"}, type="model", aliases=["production"])
    log_version(member_api, "model", {"m": b"2"}, type="model")
    r = member_api.put(f"{P}/artifacts/model/aliases/production", {"version": "v1"}, format="json")
    assert r.status_code == 200 and r.json() == {"alias": "production", "version": "v1"}
    # Setting it where it already is records nothing.
    member_api.put(f"{P}/artifacts/model/aliases/production", {"version": "v1"}, format="json")
    assert admin_api.delete(f"{P}/artifacts/model/aliases/production").status_code == 204
    events = member_api.get(f"{P}/artifacts/model/alias-events").json()["events"]
    assert [(e["alias"], e["from"], e["to"]) for e in events] == [
        ("production", "v1", None),
        ("production", "v0", "v1"),
        ("production", None, "v0"),
    ]
    assert events[1]["actor"] == member_user.email
    for alias, version, code in [
        ("latest", "v0", 400),  # always the newest
        ("v1", "v0", 400),  # reserved shape
        ("best", "v9", 400),  # no such version: named
        ("best", 3, 400),
    ]:
        r = member_api.put(
            f"{P}/artifacts/model/aliases/{alias}", {"version": version}, format="json"
        )
        assert r.status_code == code, (alias, version, r.content)
    assert member_api.delete(f"{P}/artifacts/model/aliases/nope").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_commits_get_distinct_dense_versions(api_for, member_user, project):
    """Eight writers log different contents to one new artifact at once: v0..v7, each once."""
    clients = [api_for(member_user) for _ in range(8)]
    manifests = [upload(c, {"w": f"weights {i}".encode()}) for i, c in enumerate(clients)]
    results: list[int] = []

    def commit(client, manifest):
        r = post_json(client, f"{P}/artifacts/model/versions", {"type": "model", "files": manifest})
        results.append(r.status_code)
        connection.close()

    threads = [
        threading.Thread(target=commit, args=pair) for pair in zip(clients, manifests, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 8
    versions = api_for(member_user).get(f"{P}/artifacts/model").json()["versions"]
    assert sorted(v["index"] for v in versions) == list(range(8))


def test_lineage_of_runs(member_api, member_user, team, project):
    make_run(team, project, member_user, uid="producer")
    make_run(team, project, member_user, uid="consumer")
    log_version(member_api, "mnist", {"a": b"1"}, run="producer")
    for _ in range(2):  # recording twice is one usage
        r = post_json(
            member_api, f"{P}/runs/consumer/used-artifacts", {"name": "mnist", "ref": "latest"}
        )
        assert r.status_code == 201 and r.json()["version"] == "v0"
    version = member_api.get(f"{P}/artifacts/mnist/versions/v0").json()
    assert version["run"] == "producer"
    assert version["used_by"] == [{"project": "resnet", "run": "consumer"}]
    consumer = member_api.get(f"{P}/runs/consumer/artifacts").json()
    assert consumer["logged"] == [] and [u["name"] for u in consumer["used"]] == ["mnist"]
    producer = member_api.get(f"{P}/runs/producer/artifacts").json()
    assert [(a["name"], a["version"]) for a in producer["logged"]] == [("mnist", "v0")]
    r = post_json(member_api, f"{P}/runs/consumer/used-artifacts", {"name": "nope"})
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "name"


def test_lineage_across_projects_stays_inside_what_the_caller_sees(
    member_api, admin_api, member_user, admin_user, team, project
):
    from tests.factories import make_project

    make_project(team, "secret", actor=admin_user, visibility="restricted")
    manifest = upload(admin_api, {"a": b"secret data"})
    r = post_json(
        admin_api,
        "/api/v1/teams/team-a/projects/secret/artifacts/vault/versions",
        {"type": "dataset", "files": manifest},
    )
    assert r.status_code == 201
    make_run(team, project, member_user, uid="consumer")
    body = {"project": "secret", "name": "vault"}
    r = post_json(member_api, f"{P}/runs/consumer/used-artifacts", body)
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "project"
    r = post_json(admin_api, f"{P}/runs/consumer/used-artifacts", body)
    assert r.status_code == 201 and r.json()["project"] == "secret"


def test_registered_models_link_and_promote(member_api, admin_api, viewer_api, admin_user, project):
    log_version(member_api, "resnet-model", {"m.pkl": b"v0"}, type="model")
    log_version(member_api, "resnet-model", {"m.pkl": b"v1"}, type="model")
    link = {"project": "resnet", "artifact": "resnet-model", "ref": "v0"}
    # Members link; promoting (any alias but latest) is for registry:promote holders.
    r = post_json(member_api, f"{T}/registered-models/classifier/versions", link)
    assert r.status_code == 201 and r.json()["version"] == "v0", r.content
    again = post_json(member_api, f"{T}/registered-models/classifier/versions", link)
    assert again.status_code == 200 and again.json()["created"] is False
    r = post_json(
        member_api,
        f"{T}/registered-models/classifier/versions",
        {**link, "ref": "v1", "aliases": ["production"]},
    )
    assert r.status_code == 403
    assert len(admin_api.get(f"{T}/registered-models/classifier").json()["versions"]) == 1
    r = post_json(
        admin_api,
        f"{T}/registered-models/classifier/versions",
        {**link, "ref": "v1", "aliases": ["production"]},
    )
    assert r.status_code == 201 and r.json()["aliases"] == ["latest", "production"]
    model = viewer_api.get(f"{T}/registered-models/classifier").json()
    assert model["aliases"] == {"production": "v1"}
    assert [(v["version"], v["source"]["version"]) for v in model["versions"]] == [
        ("v1", "v1"),
        ("v0", "v0"),
    ]
    # The link resolves to the source version and its files.
    resolved = viewer_api.get(f"{T}/registered-models/classifier/versions/production").json()
    assert resolved["source"]["files"] == [{"path": "m.pkl", "sha256": sha(b"v1"), "size": 2}]
    # Promotion: admins move the alias, members may not.
    assert (
        member_api.put(
            f"{T}/registered-models/classifier/aliases/production", {"version": "v0"}, format="json"
        ).status_code
        == 403
    )
    r = admin_api.put(
        f"{T}/registered-models/classifier/aliases/production", {"version": "v0"}, format="json"
    )
    assert r.status_code == 200
    events = viewer_api.get(f"{T}/registered-models/classifier/alias-events").json()["events"]
    assert [(e["from"], e["to"], e["actor"]) for e in events] == [
        ("v1", "v0", admin_user.email),
        (None, "v1", admin_user.email),
    ]
    listing = viewer_api.get(f"{T}/registered-models").json()["registered_models"]
    assert [(m["name"], m["version_count"], m["aliases"]) for m in listing] == [
        ("classifier", 2, {"production": "v0"})
    ]
    # Only models are linked.
    log_version(member_api, "mnist", {"a": b"1"})
    r = post_json(
        member_api,
        f"{T}/registered-models/classifier/versions",
        {"project": "resnet", "artifact": "mnist"},
    )
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "artifact"


def test_deletion_rules(member_api, admin_api, project):
    log_version(member_api, "model", {"m": b"0"}, type="model", aliases=["best"])
    log_version(member_api, "model", {"m": b"1"}, type="model")
    assert member_api.delete(f"{P}/artifacts/model/versions/v1").status_code == 403
    r = admin_api.delete(f"{P}/artifacts/model/versions/v0")
    assert r.status_code == 409 and r.json()["error"]["code"] == "has_aliases"
    post_json(
        member_api,
        f"{T}/registered-models/clf/versions",
        {"project": "resnet", "artifact": "model", "ref": "v1"},
    )
    r = admin_api.delete(f"{P}/artifacts/model/versions/v1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "linked"
    assert admin_api.delete(f"{P}/artifacts/model").status_code == 409
    assert admin_api.delete(f"{T}/registered-models/clf/versions/v0").status_code == 204
    assert admin_api.delete(f"{P}/artifacts/model/versions/v1").status_code == 204
    # latest falls back to v0 and v1 is never reissued.
    assert member_api.get(f"{P}/artifacts/model/versions/latest").json()["version"] == "v0"
    assert (
        admin_api.delete(f"{P}/artifacts/model/versions/v0?delete_aliases=true").status_code == 204
    )
    r = log_version(member_api, "model", {"m": b"2"}, type="model")
    assert r.json()["version"] == "v2"
    assert admin_api.delete(f"{P}/artifacts/model").status_code == 204
    assert member_api.get(f"{P}/artifacts/model").status_code == 404


def test_unreferenced_blobs_are_collected_after_the_grace_period(
    member_api, admin_api, team, project, settings, django_capture_on_commit_callbacks
):
    log_version(member_api, "data", {"keep": b"kept", "drop": b"dropped"})
    log_version(member_api, "data", {"keep": b"kept"})
    upload(member_api, {"orphan": b"never committed"})
    admin_api.delete(f"{P}/artifacts/data/versions/v0")
    blobs = {b.sha256: b.storage_name for b in ArtifactBlob.objects.for_team(team)}
    assert all(default_storage.exists(name) for name in blobs.values())

    settings.ARTIFACT_BLOB_GRACE_S = 3600  # everything is younger: nothing goes
    assert tasks.collect_blob_garbage.delay().get() == 0
    settings.ARTIFACT_BLOB_GRACE_S = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.collect_blob_garbage.delay().get() == 1  # one team fanned out
    left = set(ArtifactBlob.objects.for_team(team).values_list("sha256", flat=True))
    assert left == {sha(b"kept")}
    assert default_storage.exists(blobs[sha(b"kept")])
    assert not default_storage.exists(blobs[sha(b"dropped")])
    assert not default_storage.exists(blobs[sha(b"never committed")])
    assert download(member_api, "data", "latest", "keep") == b"kept"


@pytest.mark.django_db(transaction=True)
def test_blob_gc_racing_a_commit_never_leaves_a_version_without_its_content(
    api_for, member_user, team, project
):
    """GC (grace 0) and a commit naming the same unreferenced blob start together, twelve
    times over. Whichever takes the blob's row lock first wins: either the version is
    committed and its blob row and stored file survive, or GC removed the blob and the
    commit is refused with 409 missing_blobs, naming it. Never a version whose content
    is gone."""
    from apps.registry import services as registry_services

    client = api_for(member_user)
    for round_ in range(12):
        content = f"raced content {round_}".encode()
        manifest = upload(client, {"weights.bin": content})
        start = threading.Barrier(2)
        result = {}

        def commit(manifest=manifest, start=start, result=result):
            try:
                start.wait(60)
                result["commit"] = post_json(
                    client, f"{P}/artifacts/raced/versions", {"type": "model", "files": manifest}
                )
            finally:
                connection.close()

        def collect(start=start, result=result):
            try:
                start.wait(60)
                result["collected"] = registry_services.blobs_collect_garbage(team=team, grace_s=0)
            finally:
                connection.close()

        threads = [threading.Thread(target=commit), threading.Thread(target=collect)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        response = result["commit"]
        blob = ArtifactBlob.objects.for_team(team).filter(sha256=sha(content)).first()
        if response.status_code == 201:
            assert blob is not None and default_storage.exists(blob.storage_name)
            version = response.json()["version"]
            assert download(client, "raced", version, "weights.bin") == content
        else:
            assert response.status_code == 409, response.content
            assert response.json()["error"]["code"] == "missing_blobs"
            assert response.json()["error"]["detail"]["missing"] == [sha(content)]
            assert blob is None and result["collected"] == 1


def test_large_manifest_round_trip(member_api, project):
    files = {f"shard-{i:05d}.bin": f"shard {i}".encode() for i in range(2000)}
    r = log_version(member_api, "shards", files)
    assert r.status_code == 201 and r.json()["file_count"] == 2000
    got = member_api.get(f"{P}/artifacts/shards/versions/v0").json()["files"]
    assert {f["path"]: f["sha256"] for f in got} == {p: sha(c) for p, c in files.items()}


def test_deleting_a_project_or_team_takes_its_artifacts_and_stored_files(
    member_api,
    admin_api,
    member_user,
    admin_user,
    team,
    project,
    django_capture_on_commit_callbacks,
):
    import io

    from apps.runs import services as run_services
    from apps.teams import services as team_services
    from tests.factories import make_project

    make_project(team, "other", actor=admin_user)
    run = make_run(team, project, member_user, uid="producer")
    run_file = run_services.run_file_put(run=run, path="log.txt", stream=io.BytesIO(b"log"))
    log_version(member_api, "model", {"m": b"shared"}, type="model", run="producer")
    post_json(
        member_api,
        f"{T}/registered-models/clf/versions",
        {"project": "resnet", "artifact": "model"},
    )
    manifest = upload(member_api, {"m": b"shared"})
    r = post_json(
        member_api,
        "/api/v1/teams/team-a/projects/other/artifacts/copy/versions",
        {"type": "model", "files": manifest},
    )
    assert r.status_code == 201
    blob = ArtifactBlob.objects.for_team(team).get()

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.delete(P).status_code == 204
    assert not default_storage.exists(run_file.storage_name)
    # The registry link went with its source; the blob stays for the other project.
    assert admin_api.get(f"{T}/registered-models/clf").json()["versions"] == []
    assert default_storage.exists(blob.storage_name)

    with django_capture_on_commit_callbacks(execute=True):
        team_services.team_delete(team=team)
    assert not default_storage.exists(blob.storage_name)
    assert not ArtifactBlob.objects.across_teams().filter(pk=blob.pk).exists()


def test_blob_size_limit_and_streamed_content(member_api, team, project, settings):
    import os

    big = os.urandom(9 * 1024 * 1024 + 5)  # beyond the in-memory spool
    assert upload(member_api, {"big.bin": big})
    r = member_api.generic(  # uploading held content again is a no-op answer
        "PUT", f"{P}/artifact-blobs/{sha(big)}", data=big, content_type="application/octet-stream"
    )
    assert r.status_code == 200 and r.json() == {
        "sha256": sha(big),
        "size": len(big),
        "created": False,
    }
    settings.ARTIFACT_FILE_MAX_BYTES = 1000
    small_enough, too_big = b"a" * 1000, b"b" * 1001
    r = member_api.generic(
        "PUT",
        f"{P}/artifact-blobs/{sha(too_big)}",
        data=too_big,
        content_type="application/octet-stream",
    )
    assert r.status_code == 413 and r.json()["error"]["detail"] == {"limit_bytes": 1000}
    assert upload(member_api, {"ok": small_enough})
    held = set(ArtifactBlob.objects.for_team(team).values_list("sha256", flat=True))
    assert held == {sha(big), sha(small_enough)}
    r = log_version(member_api, "big", {"big.bin": big, "ok": small_enough})
    assert r.status_code == 201
    assert download(member_api, "big", "v0", "big.bin") == big


def test_a_file_lost_from_storage_answers_410_before_any_byte(member_api, team, project):
    log_version(member_api, "data", {"a.bin": b"content"})
    default_storage.delete(ArtifactBlob.objects.for_team(team).get().storage_name)
    r = member_api.get(f"{P}/artifacts/data/versions/v0/files/a.bin")
    assert r.status_code == 410 and r.json()["error"]["code"] == "file_missing"


def test_large_file_streams_under_asgi(member_api, member_user, project):
    import os

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from tests.factories import make_key

    big = os.urandom(3 * 1024 * 1024 + 1)
    assert log_version(member_api, "big", {"w.bin": big}).status_code == 201
    auth = {"Authorization": f"Bearer {make_key(member_user)}"}

    async def fetch():
        url = f"{P}/artifacts/big/versions/v0/files/w.bin"
        response = await AsyncClient().get(url, headers=auth)
        if not response.streaming:
            return response.status_code, False, None, response.content
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response.status_code, response.streaming, response["Content-Length"], body

    status, streamed, length, body = async_to_sync(fetch)()
    assert (status, streamed, length) == (200, True, str(len(big))), body[:300]
    assert body == big


def tar_of(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def post_tar(client, url: str, body: bytes):
    return client.generic("POST", url, data=body, content_type="application/x-tar")


def test_bundles_upload_and_download_many_small_files(member_api, viewer_api, team, project):
    import io
    import tarfile

    files = {f"images/{i:04d}.png": f"pixels {i}".encode() for i in range(300)}
    upload(member_api, {"images/0000.png": files["images/0000.png"]})  # held already
    bad_sha = sha(b"something else")
    body = tar_of({sha(c): c for c in files.values()} | {bad_sha: b"not it"}, symlink="0" * 64)
    r = post_tar(member_api, f"{P}/artifact-blobs/bundle", body)
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["stored"], out["held"]) == (299, 1)
    assert sorted((x["sha256"], x["reason"]) for x in out["rejected"]) == sorted(
        [(bad_sha, "content does not match"), ("0" * 64, "not a regular file")]
    )
    manifest = [{"path": p, "sha256": sha(c), "size": len(c)} for p, c in files.items()]
    r = post_json(
        member_api, f"{P}/artifacts/images/versions", {"type": "dataset", "files": manifest}
    )
    assert r.status_code == 201, r.content

    wanted = ["images/0299.png", "images/0007.png", "images/0150.png"]
    r = post_json(
        viewer_api, f"{P}/artifacts/images/versions/latest/files-bundle", {"paths": wanted}
    )
    assert r.status_code == 200 and r["Content-Type"] == "application/x-tar"
    raw = b"".join(r.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as archive:
        got = [(m.name, archive.extractfile(m).read()) for m in archive]
    assert got == [(p, files[p]) for p in wanted]

    r = post_json(
        viewer_api,
        f"{P}/artifacts/images/versions/v0/files-bundle",
        {"paths": ["images/0001.png", "nope.png"]},
    )
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "paths[1]"
    for bad in ({"paths": []}, {"paths": "a"}, {"paths": [1]}, {}):
        r = post_json(viewer_api, f"{P}/artifacts/images/versions/v0/files-bundle", bad)
        assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "paths"
    # Viewers read bundles but may not upload them.
    assert post_tar(viewer_api, f"{P}/artifact-blobs/bundle", body).status_code == 403


def test_bad_bundles_are_refused_and_leave_nothing_behind(member_api, team, project, settings):
    from apps.registry import bundles

    r = post_tar(member_api, f"{P}/artifact-blobs/bundle", b"this is not a tar")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_bundle"
    good = tar_of({sha(b"one"): b"one", sha(b"two"): b"two"})
    # Cut inside the second member: the first, already stored, is removed again.
    r = post_tar(member_api, f"{P}/artifact-blobs/bundle", good[: 1024 + 700])
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_bundle"
    assert not ArtifactBlob.objects.for_team(team).exists()
    media = settings.MEDIA_ROOT / "artifacts" / str(team.pk)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
    big = b"x" * (bundles.MAX_MEMBER_BYTES + 1)
    r = post_tar(member_api, f"{P}/artifact-blobs/bundle", tar_of({sha(big): big}))
    assert r.status_code == 413
