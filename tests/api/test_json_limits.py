"""Limits on user JSON (apps/core/jsonlimits.py, docs/operations.md "Input limits"):
nesting depth and size on every write of user JSON, integers beyond 64 bits refused
instead of becoming floats, and reads that never fail on what is already stored —
through the HTTP API against real PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from apps.registry.models import ArtifactVersion
from apps.runs.models import Run
from apps.sweeps.models import Sweep
from tests.runs.conftest import P, ingest, make_run, post_json, run_url
from tests.runs.helpers import binary_batch

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
BATCH = "application/x-gradline-batch"
LIMIT = settings.USER_JSON_MAX_DEPTH
RANDOM_SWEEP = {"method": "random", "parameters": {"lr": {"min": 0.001, "max": 0.1}}}


def nested(depth: int, leaf=1):
    """A value `depth` containers deep (objects, with some lists inside: both count)."""
    return orjson.loads(nested_json(depth, leaf))


def nested_json(depth: int, leaf=1) -> str:
    """The JSON text of nested(depth), written without a recursive encoder (orjson and
    json.dumps stop far above the depths these tests send)."""
    opening = "".join("[" if level % 7 == 3 else '{"a":' for level in reversed(range(depth)))
    closing = "".join("]" if level % 7 == 3 else "}" for level in range(depth))
    return opening + orjson.dumps(leaf).decode() + closing


def send(client, method: str, url: str, text: str):
    return client.generic(method, url, data=text.encode(), content_type="application/json")


def assert_names(response, field: str, status: int = 400):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["detail"]["field"] == field, error
    return error


# --------------------------------------------------------------------------- depth


VALUE = "@value"


def with_value(body: dict, value: str) -> str:
    """`body` as JSON text with `value` (JSON text) where VALUE stands."""
    return orjson.dumps(body).decode().replace(f'"{VALUE}"', value)


def _run_create(client, value: str):
    return send(client, "POST", f"{P}/runs", with_value({"config": VALUE}, value))


def _run_resume(client, value: str):
    body = {"id": "run1", "resume": "allow", "config": VALUE}
    return send(client, "POST", f"{P}/runs", with_value(body, value))


def _patch_config(client, value: str):
    return send(client, "PATCH", run_url("run1"), with_value({"config": VALUE}, value))


def _patch_summary(client, value: str):
    return send(client, "PATCH", run_url("run1"), with_value({"summary": {"k": VALUE}}, value))


def _patch_metadata(client, value: str):
    body = with_value({"description": "x", "metadata": VALUE}, value)
    return send(client, "PATCH", f"{P}/artifacts/data/versions/v0", body)


def _artifact_create(client, value: str):
    body = with_value({"type": "dataset", "files": [], "metadata": VALUE}, value)
    return send(client, "POST", f"{P}/artifacts/fresh/versions", body)


def _sweep_create(client, value: str):
    body = with_value({"config": {**RANDOM_SWEEP, "extra": VALUE}}, value)
    return send(client, "POST", f"{P}/sweeps", body)


# (writer, detail.field of the 400, containers above the value in the stored document)
REFUSING_WRITERS = [
    pytest.param(_run_create, "config", 0, id="run-create-config"),
    pytest.param(_run_resume, "config", 0, id="run-resume-config"),
    pytest.param(_patch_config, "config", 0, id="patch-config"),
    pytest.param(_patch_summary, "summary", 1, id="patch-summary"),
    pytest.param(_artifact_create, "metadata", 0, id="artifact-create-metadata"),
    pytest.param(_patch_metadata, "metadata", 0, id="artifact-patch-metadata"),
    pytest.param(_sweep_create, "config", 1, id="sweep-config"),
]


@pytest.fixture
def targets(member_api, team, project, member_user):
    """A run (run1) and an artifact version (data:v0) for the writers to change."""
    make_run(team, project, member_user)
    r = post_json(member_api, f"{P}/artifacts/data/versions", {"type": "dataset", "files": []})
    assert r.status_code == 201, r.content
    return member_api


@pytest.mark.parametrize(("write", "field", "above"), REFUSING_WRITERS)
def test_nesting_beyond_the_limit_is_refused_naming_the_field(targets, write, field, above):
    ok = write(targets, nested_json(LIMIT - above))
    assert ok.status_code in (200, 201), ok.content
    for depth in (LIMIT - above + 1, 252, 255, 1000):
        error = assert_names(write(targets, nested_json(depth)), field)
        assert f"deeper than {LIMIT} levels" in error["message"]


def test_deeper_than_the_parser_reads_is_400(targets, team):
    """Past orjson's 1024 levels the body itself is refused, on every kind of route."""
    deep = nested_json(5000)
    for url, method in (
        (f"{P}/runs", "POST"),
        (run_url("run1"), "PATCH"),
        (run_url("run1", "/ingest"), "POST"),
        (f"{P}/sweeps", "POST"),
        ("/api/v1/teams", "POST"),  # DRF-parsed
        (f"/api/v1/teams/{team.slug}/projects", "POST"),
    ):
        body = '{"config": ' + deep + "}"
        r = targets.generic(method, url, data=body, content_type="application/json")
        assert r.status_code == 400, (url, r.content)
        assert r.json()["error"]["code"] == "invalid_json"


def test_ingest_rejects_too_deep_entries_and_keeps_the_rest(member_api, run):
    body = {
        "points": [["loss", 0, 1.0, T0]],
        "summary": {"good": nested(LIMIT - 1), "deep": "DEEP1"},
        "config": {"lr": 0.1, "deep": "DEEP2", "deeper": nested(LIMIT)},
    }
    text = orjson.dumps(body).decode()
    for name, depth in (("DEEP1", 252), ("DEEP2", 300)):
        text = text.replace(f'"{name}"', nested_json(depth))
    r = send(member_api, "POST", run_url(run.uid, "/ingest"), text)
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"]["accepted"] == 1 and out["rejected"] == 3
    reasons = sorted(e["reason"] for e in out["errors"])
    assert reasons == [
        f"config.deep is nested deeper than {LIMIT} levels.",
        f"config.deeper is nested deeper than {LIMIT} levels.",
        f"summary.deep is nested deeper than {LIMIT} levels.",
    ]
    run.refresh_from_db()
    assert run.config == {"lr": 0.1}
    assert run.summary == {"loss": 1.0, "good": nested(LIMIT - 1)}
    assert member_api.get(f"{P}/runs").status_code == 200


def _header_only_batch(header: str) -> bytes:
    """A binary batch without records whose header is `header` (JSON text) plus padding."""
    raw = header.encode()
    pad = b" " * (-(8 + len(raw)) % 8)
    return b"GLB1" + (len(raw) + len(pad)).to_bytes(4, "little") + raw + pad


def test_binary_ingest_header_is_held_to_the_same_limits(member_api, run):
    body = binary_batch(
        [["loss", 0, 1.0, T0]],
        summary={"deep": nested(200), "ok": 2**64 - 1},
        config={"deep": nested(LIMIT), "lr": 0.1},
    )
    r = member_api.generic("POST", run_url(run.uid, "/ingest"), data=body, content_type=BATCH)
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"]["accepted"] == 1 and out["rejected"] == 2
    assert {e["part"] for e in out["errors"]} == {"summary", "config"}
    run.refresh_from_db()
    assert run.summary == {"loss": 1.0, "ok": 2**64 - 1}
    assert run.config == {"lr": 0.1}

    empty = '{"keys": [], "n_points": 0, "n_system": 0, '
    data = _header_only_batch(empty + f'"summary": {{"big": {2**64}, "fine": 3}}}}')
    r = member_api.generic("POST", run_url(run.uid, "/ingest"), data=data, content_type=BATCH)
    assert r.status_code == 200, r.content
    assert r.json()["rejected"] == 1 and "summary.big" in r.json()["errors"][0]["reason"]
    run.refresh_from_db()
    assert run.summary["fine"] == 3 and "big" not in run.summary
    # Past the parser's depth the header itself is refused.
    data = _header_only_batch(empty + '"config": ' + nested_json(2000) + "}")
    r = member_api.generic("POST", run_url(run.uid, "/ingest"), data=data, content_type=BATCH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_batch", r.content


# --------------------------------------------------------------------------- size


def test_documents_above_the_size_limit_are_refused(targets, team):
    run = Run.objects.for_team(team).get(uid="run1")
    big = {"blob": "x" * settings.USER_JSON_MAX_BYTES}
    text = orjson.dumps(big).decode()
    for write in (_run_create, _patch_config, _sweep_create):
        error = assert_names(write(targets, text), "config")
        assert f"at most {settings.USER_JSON_MAX_BYTES} bytes" in error["message"]
    r = ingest(targets, run.uid, {"config": big, "summary": {"ok": 1}})
    assert r.status_code == 200 and r.json()["rejected"] == 1, r.content
    run.refresh_from_db()
    assert run.config == {} and run.summary == {"ok": 1}


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "value", [2**64, 2**70, -(2**63) - 1, 10**300], ids=["2^64", "2^70", "-2^63-1", "10^300"]
)
def test_integers_beyond_64_bits_are_refused_not_made_floats(member_api, run, value):
    """JSON readers (orjson, browsers) would change them, and jsonb cannot keep 10**20
    apart from 1e20: the user learns now, instead of finding a different number later."""
    text = b'{"summary": {"seed": %d}}' % value
    r = member_api.generic("PATCH", run_url(run.uid), data=text, content_type="application/json")
    error = assert_names(r, "summary")
    assert "summary.seed" in error["message"] and "64 bits" in error["message"]
    r = member_api.generic(
        "POST",
        f"{P}/runs",
        data=b'{"config": {"n": [%d]}}' % value,
        content_type="application/json",
    )
    assert_names(r, "config")
    text = b'{"points": [["loss", 0, 1.0, %f]], "summary": {"seed": %d, "ok": 2}}' % (T0, value)
    r = member_api.generic(
        "POST", run_url(run.uid, "/ingest"), data=text, content_type="application/json"
    )
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"]["accepted"] == 1 and out["rejected"] == 1
    assert out["errors"][0]["part"] == "summary" and "summary.seed" in out["errors"][0]["reason"]
    run.refresh_from_db()
    assert run.summary == {"loss": 1.0, "ok": 2}


def test_numbers_beyond_float_range_are_not_json(member_api, run):
    text = b'{"summary": {"seed": 1%s}}' % (b"0" * 400)
    r = member_api.generic("PATCH", run_url(run.uid), data=text, content_type="application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.content


def test_integers_at_the_64_bit_bounds_are_stored_exactly(member_api, run):
    summary = {"top": 2**64 - 1, "bottom": -(2**63), "long": 1234567890123456789}
    r = member_api.patch(
        run_url(run.uid), data=orjson.dumps({"summary": summary}), content_type="application/json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["summary"] == summary
    got = member_api.get(run_url(run.uid)).json()["summary"]
    assert got == summary and all(type(v) is int for v in got.values())
    # A long digit string inside a string is just text.
    r = ingest(member_api, run.uid, {"summary": {"id": "9" * 40}})
    assert r.status_code == 200 and r.json()["rejected"] == 0
    assert member_api.get(run_url(run.uid)).json()["summary"]["id"] == "9" * 40


# --------------------------------------------------------------------------- reads


def _store_raw(table: str, column: str, pk: int, text: str) -> None:
    """Pre-existing data from before the limits: written straight into PostgreSQL."""
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET {column} = %s::jsonb WHERE id = %s", [text, pk])  # noqa: S608


@pytest.mark.parametrize("depth", [300, 1100])
def test_runs_already_stored_too_deep_still_render(member_api, team, project, member_user, depth):
    deep = make_run(team, project, member_user, uid="deep")
    make_run(team, project, member_user, uid="fine", config={"lr": 0.1})
    _store_raw("runs_run", "config", deep.pk, nested_json(depth))
    _store_raw("runs_run", "summary", deep.pk, '{"loss": 1, "x": ' + nested_json(depth) + "}")

    page = member_api.get(f"{P}/runs")
    assert page.status_code == 200, page.content
    rows = {row["id"]: row for row in page.json()["results"]}
    assert rows["fine"]["config"] == {"lr": 0.1}
    if depth < 1024:  # what orjson reads is answered, cut below the marker
        assert rows["deep"]["summary"]["loss"] == 1
    assert "truncated" in page.content.decode()
    detail = member_api.get(run_url("deep"))
    assert detail.status_code == 200, detail.content
    assert member_api.get(f"{P}/runs", {"columns": "config.a,summary.loss"}).status_code == 200
    # The web pages that show config and summary too.
    browser = Client()
    browser.force_login(member_user)
    for page_url in (f"/{team.slug}/{project.name}/runs/deep", f"/{team.slug}/{project.name}/"):
        shown = browser.get(page_url)
        assert shown.status_code == 200, (page_url, shown.content[-500:])
    compared = browser.get(f"/{team.slug}/{project.name}/compare", {"runs": "deep,fine"})
    assert compared.status_code == 200 and "truncated" in compared.content.decode()


@pytest.mark.parametrize("depth", [300, 1100])
def test_sweeps_already_stored_too_deep_still_render(member_api, project, depth):
    created = post_json(member_api, f"{P}/sweeps", {"config": RANDOM_SWEEP})
    assert created.status_code == 201, created.content
    sweep = Sweep.objects.for_team(project.team).get(uid=created.json()["id"])
    config = orjson.dumps(RANDOM_SWEEP).decode()[:-1] + ', "extra": ' + nested_json(depth) + "}"
    _store_raw("sweeps_sweep", "config", sweep.pk, config)

    listing = member_api.get(f"{P}/sweeps")
    assert listing.status_code == 200, listing.content
    assert listing.json()["sweeps"][0]["id"] == sweep.uid
    detail = member_api.get(f"{P}/sweeps/{sweep.uid}")
    assert detail.status_code == 200, detail.content


def test_artifact_metadata_already_stored_too_deep_still_renders(targets, team):
    version = ArtifactVersion.objects.for_team(team).get(artifact__name="data")
    _store_raw("registry_artifactversion", "metadata", version.pk, nested_json(400))
    r = targets.get(f"{P}/artifacts/data/versions/v0")
    assert r.status_code == 200, r.content
    assert "truncated" in r.content.decode()
