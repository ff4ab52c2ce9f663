"""Runs: create, resume with high-water marks, update, heartbeat, finish, delete rules,
crashed-run detection."""

from __future__ import annotations

import gzip
import zlib
from datetime import timedelta

import orjson
import pytest
from django.db import connection
from django.utils import timezone

from apps.projects.models import Project
from apps.runs import tasks
from apps.runs.models import MetricKey, Run
from tests.factories import make_project
from tests.runs.conftest import P, ingest, make_run, post_json, run_url
from tests.runs.helpers import point_count

T0 = 1_700_000_000.0


def test_create_with_client_id_and_metadata(member_api, project):
    body = {
        "id": "3k9f2a",
        "name": "baseline",
        "config": {"lr": 0.01, "model": {"depth": 50}},
        "tags": ["baseline", "resnet", "baseline"],
        "notes": "first try",
        "group": "sweep-1",
        "job_type": "train",
        "host": "gpu-01",
        "program": "train.py",
        "args": ["--lr", "0.01"],
        "git": {"commit": "abc123", "remote": "git@example.com:x.git", "diff": "+x"},
        "metadata": {"python": "3.11.7", "platform": "Linux"},
    }
    r = post_json(member_api, f"{P}/runs", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["id"] == "3k9f2a" and out["name"] == "baseline" and out["state"] == "running"
    assert out["tags"] == ["baseline", "resnet"]
    assert out["resumed"] is False and out["high_water"] == {} and out["last_step"] is None
    assert out["url"].endswith("/team-a/resnet/runs/3k9f2a")
    assert out["user"] == "member@a.example"
    detail = member_api.get(run_url("3k9f2a")).json()
    for field in ("config", "git", "metadata", "args", "program", "host", "group", "job_type"):
        assert detail[field] == body[field]


def test_create_generates_id_and_name(member_api, project):
    out = post_json(member_api, f"{P}/runs", {}).json()
    assert len(out["id"]) == 8 and out["id"].isalnum()
    assert out["name"].count("-") == 2 and out["name"].endswith("-1")


def test_create_makes_the_project_on_first_use(member_api, viewer_api, team):
    r = post_json(member_api, "/api/v1/teams/team-a/projects/brand-new/runs", {"id": "r1"})
    assert r.status_code == 201
    assert Project.objects.for_team(team).filter(name="brand-new").exists()
    # A viewer may not log runs, whether the project exists or not.
    r = post_json(viewer_api, "/api/v1/teams/team-a/projects/other-new/runs", {})
    assert r.status_code == 403
    assert not Project.objects.for_team(team).filter(name="other-new").exists()
    # Only POST creates: reading a missing project is still 404.
    assert member_api.get("/api/v1/teams/team-a/projects/nothing/runs").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "Bad Id"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"config": [1, 2]}, "config"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"resume": "sometimes"}, "resume"),
        ({"name": 5}, "name"),
        ({"args": "train.py"}, "args"),
    ],
)
def test_create_rejects_bad_fields(member_api, project, body, field):
    r = post_json(member_api, f"{P}/runs", body)
    assert r.status_code == 400
    assert r.json()["error"]["detail"]["field"] == field


def test_resume_reports_high_water_marks(member_api, run):
    ingest(
        member_api,
        run.uid,
        {
            "points": [["loss", s, 1.0, T0] for s in range(0, 120)] + [["acc", 7, 0.5, T0]],
            "system": [["system/cpu", 900, 3.0, T0]],
        },
    )
    member_api.post(run_url(run.uid, "/finish"), {"exit_code": 0}, format="json")
    r = post_json(member_api, f"{P}/runs", {"id": run.uid, "resume": "allow", "config": {"b": 2}})
    assert r.status_code == 200
    out = r.json()
    assert out["resumed"] is True and out["state"] == "running"
    assert out["high_water"] == {"loss": 119, "acc": 7, "system/cpu": 900}
    assert out["last_step"] == 119  # system sample indexes are not training steps
    assert out["config"] == {"b": 2}
    assert out["console_next"] == 0


def test_create_and_resume_report_the_next_console_line(member_api, project):
    out = post_json(member_api, f"{P}/runs", {"id": "con"}).json()
    assert out["console_next"] == 0
    lines = [["stdout", T0, f"line {i}"] for i in range(3)]
    ingest(member_api, "con", {"console": lines, "console_offset": 0})
    ingest(member_api, "con", {"console": lines[:1]})  # appended after the stored ones: 3
    out = post_json(member_api, f"{P}/runs", {"id": "con", "resume": "allow"}).json()
    assert out["console_next"] == 4


def test_resume_modes(member_api, run):
    r = post_json(member_api, f"{P}/runs", {"id": "missing", "resume": "must"})
    assert r.status_code == 404
    for mode in ("never", None):
        r = post_json(member_api, f"{P}/runs", {"id": run.uid, "resume": mode})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "run_exists"
    assert post_json(member_api, f"{P}/runs", {"id": run.uid, "resume": "must"}).status_code == 200
    r = post_json(member_api, f"{P}/runs", {"id": "fresh", "resume": "allow"})
    assert r.status_code == 201 and r.json()["resumed"] is False


def test_update_merges_config_and_replaces_tags(member_api, run):
    member_api.patch(run_url(run.uid), {"config": {"a": 1, "b": 1}, "tags": ["x"]}, format="json")
    r = member_api.patch(
        run_url(run.uid),
        {"config": {"b": 2}, "tags": ["y", "z"], "notes": "n", "name": "renamed"},
        format="json",
    )
    assert r.status_code == 200
    out = r.json()
    assert out["config"] == {"a": 1, "b": 2}
    assert out["tags"] == ["y", "z"] and out["notes"] == "n" and out["name"] == "renamed"
    r = member_api.patch(run_url(run.uid), {"tags": [1]}, format="json")
    assert r.status_code == 400


def test_heartbeat_and_finish(member_api, run):
    r = member_api.post(run_url(run.uid, "/heartbeat"))
    assert r.status_code == 200 and r.json() == {"state": "running"}
    r = member_api.post(run_url(run.uid, "/finish"), {"exit_code": 3}, format="json")
    assert r.status_code == 200
    out = r.json()
    assert (out["state"], out["exit_code"]) == ("failed", 3) and out["finished_at"]
    r = member_api.post(run_url(run.uid, "/finish"), {"exit_code": 0}, format="json")
    assert r.json()["state"] == "finished"
    r = member_api.post(run_url(run.uid, "/finish"), {"state": "crashed"}, format="json")
    assert r.status_code == 400


def test_member_deletes_only_own_runs_admin_any(
    member_api, admin_api, team, project, admin_user, member_user
):
    own = make_run(team, project, member_user, uid="mine")
    theirs = make_run(team, project, admin_user, uid="theirs")
    ingest(member_api, own.uid, {"points": [["loss", s, 1.0, T0] for s in range(40)]})
    assert point_count(own) == 40
    r = member_api.delete(run_url(theirs.uid))
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert member_api.delete(run_url(own.uid)).status_code == 204
    assert not Run.objects.for_team(team).filter(pk=own.pk).exists()
    # The run's points and rollups went with it.
    assert point_count(own) == 0
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs_rollup WHERE run_id = %s", [own.pk])
        assert cur.fetchone()[0] == 0
    assert not MetricKey.objects.for_team(team).filter(run_id=own.pk).exists()
    assert admin_api.delete(run_url(theirs.uid)).status_code == 204


def test_project_delete_removes_points_too(team, project, member_user, member_api):
    run = make_run(team, project, member_user)
    ingest(member_api, run.uid, {"points": [["loss", s, 1.0, T0] for s in range(10)]})
    project.delete()
    assert point_count(run) == 0


def test_crashed_detection_marks_silent_runs_per_team(
    team, project, member_user, other_team, other_admin, settings
):
    settings.RUN_CRASH_TIMEOUT_S = 300
    silent = make_run(team, project, member_user, uid="silent")
    make_run(team, project, member_user, uid="alive")
    finished = make_run(team, project, member_user, uid="done")
    other = make_run(other_team, make_project(other_team, "p", actor=other_admin), other_admin)
    old = timezone.now() - timedelta(seconds=301)
    Run.objects.for_team(team).filter(pk__in=[silent.pk, finished.pk]).update(heartbeat_at=old)
    Run.objects.for_team(team).filter(pk=finished.pk).update(state="finished")
    Run.objects.for_team(other_team).filter(pk=other.pk).update(heartbeat_at=old)

    assert tasks.detect_crashed_runs.delay().get() == 2  # one job per team

    states = dict(Run.objects.across_teams().values_list("uid", "state"))
    expected = {"silent": "crashed", "alive": "running", "done": "finished", "run1": "crashed"}
    assert states == expected
    assert tasks.detect_crashed_runs.delay().get() == 0  # idempotent


def test_heartbeat_revives_a_crashed_run(member_api, run, team):
    Run.objects.for_team(team).filter(pk=run.pk).update(state="crashed")
    assert member_api.post(run_url(run.uid, "/heartbeat")).json() == {"state": "running"}
    Run.objects.for_team(team).filter(pk=run.pk).update(state="crashed")
    ingest(member_api, run.uid, {"heartbeat": True})
    run.refresh_from_db()
    assert run.state == "running"


def test_viewer_reads_but_cannot_write(viewer_api, run):
    read = viewer_api.get(run_url(run.uid))
    assert read.status_code == 200 and read.json()["id"] == run.uid
    for refused in (
        ingest(viewer_api, run.uid, {"heartbeat": True}),
        viewer_api.delete(run_url(run.uid)),
    ):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "permission_denied"
    assert viewer_api.get(run_url(run.uid)).json()["state"] == read.json()["state"]


HUGE = 1.8446744073709552e19  # beyond int64: JSONB hands it back as an integer


def test_values_beyond_int64_read_back_as_floats(member_api, run):
    """JSONB keeps 1.8446744073709552e19 as the integer 18446744073709552000, which no
    64-bit JSON encoder accepts: every read of run JSON must still answer (as a float)."""
    r = ingest(
        member_api,
        run.uid,
        {
            "points": [["big", 0, HUGE, T0], ["neg", 0, -1e30, T0]],
            "summary": {"user_big": 1e25},
            "config": {"cfg_big": 3e21, "nested": {"deep": [2e20]}},
        },
    )
    assert r.status_code == 200, r.content
    r = member_api.patch(run_url(run.uid), {"summary": {"patched": 5e19}}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["summary"]["patched"] == 5e19
    detail = member_api.get(run_url(run.uid))
    assert detail.status_code == 200, detail.content
    out = detail.json()
    assert out["summary"]["big"] == HUGE and out["summary"]["neg"] == -1e30
    assert out["summary"]["user_big"] == 1e25
    assert out["config"] == {"cfg_big": 3e21, "nested": {"deep": [2e20]}}
    listed = member_api.get(f"{P}/runs?order=-summary.big&page_size=1")
    assert listed.status_code == 200, listed.content
    assert listed.json()["results"][0]["summary"]["big"] == HUGE
    assert listed.json()["next_cursor"] is None
    resumed = post_json(member_api, f"{P}/runs", {"id": run.uid, "resume": "allow"})
    assert resumed.status_code == 200, resumed.content
    finished = post_json(member_api, run_url(run.uid, "/finish"), {"exit_code": 0})
    assert finished.status_code == 200, finished.content
    assert finished.json()["config"]["cfg_big"] == 3e21


def test_runs_list_cursor_over_huge_summary_values(member_api, team, project, member_user):
    for i in range(3):
        make_run(team, project, member_user, uid=f"h{i}")
        ingest(member_api, f"h{i}", {"points": [["big", 0, HUGE * (i + 1), T0]]})
    first = member_api.get(f"{P}/runs?order=-summary.big&page_size=2")
    assert first.status_code == 200, first.content
    page = first.json()
    assert [r["id"] for r in page["results"]] == ["h2", "h1"]
    second = member_api.get(f"{P}/runs?order=-summary.big&page_size=2&cursor={page['next_cursor']}")
    assert second.status_code == 200, second.content
    assert [r["id"] for r in second.json()["results"]] == ["h0"]


def _gzipped(client, method: str, url: str, body, encoding: str = "gzip"):
    raw = orjson.dumps(body)
    data = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    return client.generic(
        method, url, data=data, content_type="application/json", HTTP_CONTENT_ENCODING=encoding
    )


def test_create_update_finish_accept_gzip_bodies(member_api, project):
    r = _gzipped(member_api, "POST", f"{P}/runs", {"id": "gz", "config": {"lr": 0.1}})
    assert r.status_code == 201, r.content
    assert r.json()["config"] == {"lr": 0.1}
    r = _gzipped(member_api, "PATCH", run_url("gz"), {"notes": "zipped"}, encoding="deflate")
    assert r.status_code == 200, r.content
    assert r.json()["notes"] == "zipped"
    r = _gzipped(member_api, "POST", run_url("gz", "/finish"), {"exit_code": 3})
    assert r.status_code == 200, r.content
    assert (r.json()["state"], r.json()["exit_code"]) == ("failed", 3)


@pytest.mark.parametrize(("method", "suffix"), [("POST", None), ("PATCH", ""), ("POST", "/finish")])
def test_json_routes_refuse_gzip_bombs_and_bad_encodings(member_api, run, settings, method, suffix):
    url = f"{P}/runs" if suffix is None else run_url(run.uid, suffix)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    bomb = gzip.compress(b'{"notes": "' + b"0" * (4 * 1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    r = member_api.generic(
        method, url, data=bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert r.status_code == 413, r.content
    assert r.json()["error"]["code"] == "payload_too_large"
    for data, encoding, status in (
        (b"not gzip at all", "gzip", 400),
        (gzip.compress(b'{"notes": "cut"}')[:-12], "gzip", 400),  # truncated stream
        (b"{}", "br", 415),
    ):
        r = member_api.generic(
            method, url, data=data, content_type="application/json", HTTP_CONTENT_ENCODING=encoding
        )
        assert r.status_code == status, (encoding, r.content)
    run.refresh_from_db()
    assert run.notes == "" and run.state == "running"


@pytest.mark.parametrize(
    ("body", "field", "where"),
    [
        ({"name": "a\u0000b"}, "name", "name"),
        ({"notes": "\u0000"}, "notes", "notes"),
        ({"group": "g\u0000"}, "group", "group"),
        ({"job_type": "\u0000t"}, "job_type", "job_type"),
        ({"host": "h\u0000"}, "host", "host"),
        ({"program": "p\u0000"}, "program", "program"),
        ({"tags": ["ok", "b\u0000d"]}, "tags", "tags[1]"),
        ({"config": {"a": {"b\u0000": 1}}}, "config", "config.a.b\\u0000"),
        ({"config": {"a": ["x", "y\u0000"]}}, "config", "config.a[1]"),
        ({"git": {"diff": "+\u0000"}}, "git", "git.diff"),
        ({"metadata": {"env": {"K": "v\u0000"}}}, "metadata", "metadata.env.K"),
        ({"args": ["--x", "\u0000"]}, "args", "args[1]"),
    ],
)
def test_nul_characters_answer_400_naming_the_field(member_api, run, body, field, where):
    """PostgreSQL text and jsonb cannot hold NUL: refused up front, never a 500."""
    r = post_json(member_api, f"{P}/runs", {"id": "nul-run", **body})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"] == {"field": field}
    assert where in r.json()["error"]["message"]
    assert not Run.objects.for_team(run.team).filter(uid="nul-run").exists()
    r = post_json(member_api, f"{P}/runs", {"id": run.uid, "resume": "allow", **body})
    assert r.status_code == 400, r.content
    if field in ("name", "notes", "group", "job_type", "tags", "config"):
        r = member_api.patch(run_url(run.uid), body, format="json")
        assert r.status_code == 400, r.content
        assert r.json()["error"]["detail"] == {"field": field}
    r = member_api.patch(run_url(run.uid), {"summary": {"k": "v\u0000"}}, format="json")
    assert r.status_code == 400 and r.json()["error"]["detail"] == {"field": "summary"}


def test_ingest_refuses_nul_in_summary_and_config_entries(member_api, run):
    r = ingest(
        member_api,
        run.uid,
        {
            "points": [["loss", 0, 1.0, T0]],
            "summary": {"good": 1, "bad": "x\u0000", "b\u0000": 2},
            "config": {"lr": 0.1, "opt": {"name": "\u0000"}},
        },
    )
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"]["accepted"] == 1 and out["rejected"] == 3
    assert {e["part"] for e in out["errors"]} == {"summary", "config"}
    assert all("NUL" in e["reason"] for e in out["errors"])
    run.refresh_from_db()
    assert run.summary == {"loss": 1.0, "good": 1}
    assert run.config == {"lr": 0.1}
