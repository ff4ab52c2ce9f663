"""Integers against their column ranges on every write path (issue 16 item 7): values
around the 32- and 64-bit bounds are refused naming the field (a 400, or a rejected
record in an ingest batch whose good records are stored) and never answer 500 —
through the HTTP API against real PostgreSQL."""

from __future__ import annotations

import orjson
import pytest

from apps.runs.models import ConsoleLine
from tests.runs.conftest import P, post_json, run_url
from tests.runs.helpers import binary_batch, stored_points

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
BATCH = "application/x-gradline-batch"
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1
VALUES = [2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]
IDS = ["2^31", "2^63-1", "2^63", "2^64", "-2^63-1"]
sweep_values = pytest.mark.parametrize("value", VALUES, ids=IDS)


def send(client, method: str, url: str, text: str):
    """JSON text as the body: integers beyond 64 bits cannot go through orjson.dumps."""
    return client.generic(method, url, data=text.encode(), content_type="application/json")


def assert_refused(response, field: str):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["detail"]["field"] == field, response.content


# --------------------------------------------------------------------------- ingest


@sweep_values
@pytest.mark.parametrize("lines", [1, 2])
def test_console_offset_fits_every_line_number_in_bigint(member_api, run, value, lines):
    console = orjson.dumps([["stdout", T0, f"line {i}"] for i in range(lines)]).decode()
    text = (
        f'{{"points": [["loss", 0, 1.5, {T0}]], "console": {console}, '
        f'"console_offset": {value}, "summary": {{"best": 1}}}}'
    )
    r = send(member_api, "POST", run_url(run.uid, "/ingest"), text)
    assert r.status_code == 200, r.content
    out = r.json()
    fits = value >= 0 and value + lines <= INT64_MAX  # console_next = last line + 1
    stored = ConsoleLine.objects.for_team(run.team).filter(run=run)
    if fits:
        assert out["console"]["accepted"] == lines and out["rejected"] == 0
        assert sorted(stored.values_list("line", flat=True)) == list(range(value, value + lines))
    else:
        assert out["console"]["accepted"] == 0 and out["rejected"] == 1
        assert out["errors"][0]["reason"].startswith("console_offset:")
        assert not stored.exists()
    # The batch's good records are stored either way.
    assert stored_points(run) == {("loss", 0): (1.5, T0)}
    run.refresh_from_db()
    assert run.summary == {"loss": 1.5, "best": 1}


@sweep_values
def test_binary_console_offset_is_bounded_the_same_way(member_api, run, value):
    if not -(2**63) <= value < 2**64:  # orjson (which writes the header) stops at 64 bits
        pytest.skip("the header writer cannot encode it")
    body = binary_batch(
        [["loss", 0, 1.5, T0]],
        console=[["stdout", T0, "a"], ["stdout", T0, "b"]],
        console_offset=value,
    )
    r = member_api.generic("POST", run_url(run.uid, "/ingest"), data=body, content_type=BATCH)
    assert r.status_code == 200, r.content
    fits = 0 <= value <= INT64_MAX - 2
    assert r.json()["console"]["accepted"] == (2 if fits else 0)
    assert r.json()["metrics"]["accepted"] == 1


@sweep_values
def test_steps_beyond_the_range_reject_the_record_only(member_api, run, value):
    text = f'{{"points": [["loss", 0, 1.0, {T0}], ["loss", {value}, 2.0, {T0}]]}}'
    r = send(member_api, "POST", run_url(run.uid, "/ingest"), text)
    assert r.status_code == 200, r.content
    out = r.json()
    if 0 <= value <= 2**53 - 1:
        assert out["metrics"]["accepted"] == 2
    else:
        assert out["metrics"]["accepted"] == 1 and out["rejected"] == 1
        assert out["errors"] == [
            {"index": 1, "part": "points", "reason": out["errors"][0]["reason"]}
        ]
        assert out["errors"][0]["reason"].startswith("step:")
    assert ("loss", 0) in stored_points(run)


# --------------------------------------------------------------------------- runs


@sweep_values
def test_exit_code_is_a_32_bit_integer(member_api, run, value):
    r = send(member_api, "POST", run_url(run.uid, "/finish"), f'{{"exit_code": {value}}}')
    assert_refused(r, "exit_code")
    for fits in (INT32_MAX, -(2**31)):
        r = send(member_api, "POST", run_url(run.uid, "/finish"), f'{{"exit_code": {fits}}}')
        assert r.status_code == 200 and r.json()["exit_code"] == fits, r.content


@sweep_values
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/history?keys=loss&min_step={v}", "min_step"),
        ("/history?keys=loss&max_step={v}", "max_step"),
        ("/history?keys=loss&buckets={v}", "buckets"),
        ("/scan?min_step={v}", "min_step"),
        ("/scan?max_step={v}", "max_step"),
        ("/scan?cursor={v}", "cursor"),
        ("/scan?page_size={v}", "page_size"),
        ("/console?offset={v}", "offset"),
        ("/console?limit={v}", "limit"),
    ],
)
def test_run_query_integers_answer_400_beyond_their_range(member_api, run, value, path, name):
    r = member_api.get(run_url(run.uid, path.format(v=value)))
    if 0 <= value <= INT64_MAX and name not in ("buckets", "page_size", "limit"):
        assert r.status_code == 200, r.content
    else:
        assert_refused(r, name)


@sweep_values
@pytest.mark.parametrize(
    "url",
    [
        f"{P}/runs?page_size={{v}}",
        f"{P}/history?runs=run1&keys=loss&min_step={{v}}",
        "/api/v1/teams?limit={v}",
        "/api/v1/teams?offset={v}",
        "/api/v1/teams/team-a/members?offset={v}",
        "/api/v1/teams/team-a/audit?before={v}",
        "/api/v1/keys?limit={v}",
    ],
)
def test_list_integers_never_answer_500(admin_api, run, value, url):
    r = admin_api.get(url.format(v=value))
    assert r.status_code in (200, 400), r.content
    if r.status_code == 400:
        assert r.json()["error"]["detail"]["field"], r.content


@sweep_values
def test_ids_in_urls_beyond_bigint_are_404(member_api, admin_api, run, value):
    for client, url in (
        (member_api, f"/api/v1/keys/{abs(value)}"),
        (admin_api, f"/api/v1/teams/team-a/members/{abs(value)}"),
        (admin_api, f"/api/v1/teams/team-a/service-accounts/{abs(value)}"),
        (member_api, f"{P}/artifacts/data/versions/v{abs(value)}"),
    ):
        r = client.get(url) if "keys" not in url else client.delete(url)
        assert r.status_code == 404, (url, r.content)


# --------------------------------------------------------------------------- sweeps


@sweep_values
def test_sweep_run_cap_fits_its_column(member_api, project, value):
    config = '{"method": "random", "parameters": {"lr": {"min": 0.1, "max": 0.2}}, "run_cap": %d}'
    r = send(member_api, "POST", f"{P}/sweeps", '{"config": ' + config % value + "}")
    assert_refused(r, "config.run_cap")
    r = send(member_api, "POST", f"{P}/sweeps", '{"config": ' + config % INT32_MAX + "}")
    assert r.status_code == 201 and r.json()["run_cap"] == INT32_MAX, r.content


@sweep_values
def test_sweep_parameter_bounds_never_answer_500(member_api, project, value):
    for parameter in (
        f'{{"min": 0, "max": {value}}}',
        f'{{"values": [1, {value}]}}',
        f'{{"value": {value}}}',
        f'{{"distribution": "q_uniform", "min": 0, "max": {value}, "q": 1}}',
    ):
        config = f'{{"method": "random", "parameters": {{"x": {parameter}}}}}'
        r = send(member_api, "POST", f"{P}/sweeps", f'{{"config": {config}}}')
        assert r.status_code in (201, 400), (parameter, r.content)
        if r.status_code == 400:
            assert r.json()["error"]["detail"]["field"].startswith("config"), r.content
            continue
        nxt = post_json(member_api, f"{P}/sweeps/{r.json()['id']}/next", {})
        assert nxt.status_code == 200, (parameter, nxt.content)
    et = f'"early_terminate": {{"type": "hyperband", "min_iter": {value}}}'
    config = (
        '{"method": "random", "metric": {"name": "loss", "goal": "minimize"}, '
        f'"parameters": {{"x": {{"values": [1, 2]}}}}, {et}}}'
    )
    r = send(member_api, "POST", f"{P}/sweeps", f'{{"config": {config}}}')
    assert r.status_code in (201, 400), r.content


# --------------------------------------------------------------------------- registry


@sweep_values
def test_artifact_file_sizes_fit_bigint(member_api, project, value):
    manifest = f'[{{"path": "a.txt", "sha256": "{"0" * 64}", "size": {value}}}]'
    body = f'{{"type": "dataset", "files": {manifest}}}'
    r = send(member_api, "POST", f"{P}/artifacts/data/versions", body)
    if 0 <= value <= INT64_MAX:  # a valid manifest whose blob was never uploaded
        assert r.status_code == 409 and r.json()["error"]["code"] == "missing_blobs", r.content
    else:
        assert r.status_code == 400, r.content
        assert r.json()["error"]["detail"]["field"].startswith("files"), r.content
