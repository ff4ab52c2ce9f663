"""Reference entries of a version (W&B's `add_reference`, docs/registry.md): stored with
the URI, digest, size and extra as the client recorded them, part of the version digest,
listed apart from stored files, validated field by field."""

from __future__ import annotations

import hashlib

import pytest

from tests.registry.test_api import log_version
from tests.runs.conftest import P, post_json

pytestmark = pytest.mark.django_db

REFS = [
    {
        "path": "data/train.csv",
        "ref": "s3://bucket/data/train.csv",
        "digest": "9a0364b9e99bb480dd25e1f0284c8555",
        "size": 120,
        "extra": {"etag": "9a0364b9e99bb480dd25e1f0284c8555", "versionID": "v1"},
    },
    {"path": "page.html", "ref": "https://example.com/page.html", "digest": "W/abc", "size": None},
]


def post_refs(client, name: str, references, files=None, **body):
    return post_json(
        client,
        f"{P}/artifacts/{name}/versions",
        {"type": "dataset", "files": files or [], "references": references, **body},
    )


def test_a_reference_version_round_trips_and_dedups(api_for, member_user, team, project):
    client = api_for(member_user)
    r = log_version(client, "mixed", {"readme.md": b"hello"}, references=REFS)
    assert r.status_code == 201, r.content
    v0 = r.json()
    assert v0["file_count"] == 1 and v0["size"] == 5  # what the server stores
    assert v0["files"] == [
        {"path": "readme.md", "sha256": hashlib.sha256(b"hello").hexdigest(), "size": 5}
    ]
    assert v0["references"] == [
        {**REFS[0]},
        {**REFS[1], "extra": {}},
    ]
    lines = sorted(
        [
            ("readme.md", f"readme.md\x00{hashlib.sha256(b'hello').hexdigest()}\x005\n"),
            (
                "data/train.csv",
                "data/train.csv\x00ref\x00s3://bucket/data/train.csv\x00"
                "9a0364b9e99bb480dd25e1f0284c8555\x00120\n",
            ),
            ("page.html", "page.html\x00ref\x00https://example.com/page.html\x00W/abc\x00\n"),
        ]
    )
    assert v0["digest"] == hashlib.sha256("".join(line for _, line in lines).encode()).hexdigest()
    got = client.get(f"{P}/artifacts/mixed/versions/v0").json()
    assert got["references"] == v0["references"]

    # Same manifest: same version. A changed digest of a reference: a new one.
    again = log_version(client, "mixed", {"readme.md": b"hello"}, references=REFS)
    assert again.status_code == 200 and again.json()["version"] == "v0"
    changed = [{**REFS[0], "digest": "other"}, REFS[1]]
    r = log_version(client, "mixed", {"readme.md": b"hello"}, references=changed)
    assert r.status_code == 201 and r.json()["version"] == "v1"

    # A reference-only version; the server never serves a reference's content.
    r = post_refs(client, "refs-only", REFS[:1])
    assert r.status_code == 201, r.content
    assert r.json()["file_count"] == 0 and len(r.json()["references"]) == 1
    r = client.get(f"{P}/artifacts/refs-only/versions/v0/files/data/train.csv")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("references", "field"),
    [
        ("nope", "references"),
        (["x"], "references[0]"),
        ([{**REFS[0], "path": "../up"}], "references[0].path"),
        ([{**REFS[0], "ref": "ftp://host/file"}], "references[0].ref"),
        ([{**REFS[0], "ref": "s3://bucket/a\nb"}], "references[0].ref"),
        ([{**REFS[0], "ref": 7}], "references[0].ref"),
        ([{**REFS[0], "ref": "s3://b/" + "k" * 5000}], "references[0].ref"),
        ([{**REFS[0], "digest": ""}], "references[0].digest"),
        ([{**REFS[0], "digest": "d" * 600}], "references[0].digest"),
        ([{**REFS[0], "size": -1}], "references[0].size"),
        ([{**REFS[0], "size": True}], "references[0].size"),
        ([{**REFS[0], "extra": {"etag": ["list"]}}], "references[0].extra"),
        ([{**REFS[0], "extra": "etag"}], "references[0].extra"),
        ([REFS[0], REFS[0]], "references[1].path"),
        ([{**REFS[1], "path": "readme.md"}], "references[0].path"),
    ],
)
def test_bad_references_are_400_naming_the_field(
    api_for, member_user, team, project, references, field
):
    client = api_for(member_user)
    files = [{"path": "readme.md", "sha256": hashlib.sha256(b"").hexdigest(), "size": 0}]
    r = post_refs(client, "bad-refs", references, files=files)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == field, r.content


def test_version_tags_are_stored_merged_and_validated(api_for, member_user, team, project):
    client = api_for(member_user)
    r = log_version(client, "tagged", {"a.txt": b"a"}, tags=["gold", "with space", "gold"])
    assert r.status_code == 201 and r.json()["tags"] == ["gold", "with space"]
    # Logged again with another tag: the same version, tags merged.
    r = log_version(client, "tagged", {"a.txt": b"a"}, tags=["silver"])
    assert r.status_code == 200 and r.json()["tags"] == ["gold", "with space", "silver"]
    rows = client.get(f"{P}/artifacts/tagged").json()["versions"]
    assert rows[0]["tags"] == ["gold", "with space", "silver"]
    r = client.generic(
        "PATCH",
        f"{P}/artifacts/tagged/versions/v0",
        data='{"tags": ["bronze"]}',
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["tags"] == ["bronze"]
    for bad in ("gold", ["a/b"], [" lead"], ["two  spaces"], [7], ["x" * 129], ["t"] * 33):
        r = log_version(client, "tagged", {"b.txt": b"b"}, tags=bad)
        assert r.status_code == 400, (bad, r.content)
        assert r.json()["error"]["detail"]["field"] == "tags"


def test_the_version_page_lists_references(team, project, member_user, viewer_user):
    from tests.registry.test_web import _html, _log, url
    from tests.web.conftest import login

    _log(team, project, "refs-page", "dataset", {"readme.md": b"r"}, member_user, references=REFS)
    page = url("web:artifact-version-detail", name="refs-page", ref="v0")
    html = _html(login(viewer_user).get(page))
    refs = html.split('data-testid="references"')[1].split("</section>")[0]
    assert 'data-reference="data/train.csv"' in refs and "s3://bucket/data/train.csv" in refs
    assert 'data-reference="page.html"' in refs and "unknown" in refs  # size null
    assert 'data-file="readme.md"' in html
