"""Ingest in the binary batch format (application/x-gradline-batch): the same storage,
exactly-once semantics and per-record rejections as the JSON format, checked
record-for-record against it."""

from __future__ import annotations

import gzip
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.runs.ingest import MAX_STEP, json_safe
from apps.runs.models import MetricKey
from tests.runs.conftest import ingest, make_run, run_url
from tests.runs.helpers import (
    assert_rollups_match_points,
    binary_batch,
    point_count,
    same_float,
    stored_points,
)

T0 = 1_700_000_000.0
BATCH = "application/x-gradline-batch"


def post_binary(client, uid: str, data: bytes, **extra):
    return client.generic("POST", run_url(uid, "/ingest"), data=data, content_type=BATCH, **extra)


def test_binary_batch_stores_every_part(member_api, run):
    points = [["loss", s, s * 0.5, T0 + s] for s in range(50)]
    points += [["acc", s, 0.1, T0 + s] for s in range(0, 50, 5)]
    system = [["system/cpu", i, 12.5 + i, T0 + i] for i in range(3)]
    body = binary_batch(
        points,
        system,
        console=[["stdout", T0, "epoch 1"]],
        console_offset=0,
        summary={"best_acc": 0.9},
        config={"batch_size": 32},
        heartbeat=True,
    )
    r = post_binary(member_api, run.uid, body)
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"] == {"accepted": 63, "duplicates": 0, "conflicts": 0}
    assert out["console"] == {"accepted": 1, "duplicates": 0}
    assert out["rejected"] == 0 and out["errors"] == []
    stored = stored_points(run)
    assert len(stored) == 63
    assert stored[("loss", 49)] == (24.5, T0 + 49) and stored[("system/cpu", 2)] == (14.5, T0 + 2)
    run.refresh_from_db()
    assert run.summary == {"loss": 24.5, "acc": 0.1, "best_acc": 0.9}
    assert run.config == {"batch_size": 32}
    assert_rollups_match_points(run)


def test_binary_retries_and_json_resends_are_duplicates_and_conflicts_reported(member_api, run):
    points = [["loss", s, float(s), T0] for s in range(1000)]
    first = post_binary(member_api, run.uid, binary_batch(points)).json()
    assert (first["accepted"], first["duplicates"]) == (1000, 0)
    again = post_binary(member_api, run.uid, binary_batch(points)).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 1000, 0)
    as_json = ingest(member_api, run.uid, {"points": points[:10]}).json()
    assert (as_json["accepted"], as_json["duplicates"]) == (0, 10)
    changed = [["loss", 7, -1.0, T0], ["loss", 1000, 5.0, T0], ["loss", 3, 3.0, T0]]
    out = post_binary(member_api, run.uid, binary_batch(changed)).json()
    assert (out["accepted"], out["duplicates"], out["conflicts"]) == (1, 1, 1)
    assert out["errors"] == [{"index": 0, "part": "points", "reason": "conflict"}]
    assert point_count(run) == 1001
    assert stored_points(run)[("loss", 7)][0] == 7.0  # never overwritten
    assert MetricKey.objects.for_team(run.team).get(run=run, name="loss").count == 1001
    assert_rollups_match_points(run)


def test_binary_nonfinite_values_round_trip(member_api, run):
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    body = binary_batch([["x", i, v, T0] for i, v in enumerate(values)])
    assert post_binary(member_api, run.uid, body).json()["accepted"] == len(values)
    stored = stored_points(run)
    for i, v in enumerate(values):
        assert same_float(stored[("x", i)][0], v)
    rows = member_api.get(run_url(run.uid, "/scan?keys=x")).json()["rows"]
    assert [r["x"] for r in rows][:3] == ["NaN", "Infinity", "-Infinity"]
    # Re-sent NaN is a duplicate, not a conflict.
    again = post_binary(member_api, run.uid, body).json()
    assert (again["duplicates"], again["conflicts"]) == (len(values), 0)


def test_binary_bad_records_rejected_one_by_one(member_api, run):
    keys = ["ok", "_step", "system/cpu", "bad\x01key", "", 5, "system/mem"]
    points = [
        ["ok", 0, 1.0, T0],  # 0 stored
        [1, 1, 1.0, T0],  # reserved key
        [2, 2, 1.0, T0],  # system key among points
        [3, 3, 1.0, T0],  # control character
        [4, 4, 1.0, T0],  # empty key
        [5, 5, 1.0, T0],  # not a string
        [99, 6, 1.0, T0],  # index out of range
        ["ok", -1, 1.0, T0],  # negative step
        ["ok", MAX_STEP + 1, 1.0, T0],  # step too large
        ["ok", 9, 1.0, math.nan],  # wall time NaN
        ["ok", 10, 1.0, -1.0],  # negative wall time
        ["ok", 11, 1.0, math.inf],
        [1, -5, 1.0, math.nan],  # several problems: the key is reported (JSON's order)
        ["ok", 12, 2.0, T0],  # stored
    ]
    system = [[6, 0, 50.0, T0], [0, 1, 1.0, T0], [2, -1, 1.0, T0]]
    r = post_binary(member_api, run.uid, binary_batch(points, system, keys=keys))
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"]["accepted"] == 3 and out["rejected"] == 14
    reasons = {(e["part"], e["index"]): e["reason"] for e in out["errors"]}
    assert sorted(reasons) == sorted(
        [("points", i) for i in range(1, 13)] + [("system", 1), ("system", 2)]
    )
    assert reasons[("points", 1)] == "key: '_step' is reserved"
    assert reasons[("points", 2)].startswith("key: the 'system/' prefix is reserved")
    assert reasons[("points", 5)] == "key: must be a string"
    assert reasons[("points", 6)].startswith("key: index out of range")
    assert reasons[("points", 7)].startswith("step:")
    assert reasons[("points", 9)].startswith("wall_time:")
    assert reasons[("points", 12)] == "key: '_step' is reserved"
    assert reasons[("system", 1)].startswith("key: system metrics must start with")
    assert reasons[("system", 2)].startswith("step:")
    assert set(stored_points(run)) == {("ok", 0), ("ok", 12), ("system/mem", 0)}


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda b: b"XXXX" + b[4:], 400, "invalid_batch"),
        (lambda b: b"GLB2" + b[4:], 415, "invalid_batch"),
        (lambda b: b[:-1], 400, "invalid_batch"),
        (lambda b: b + b"\0" * 28, 400, "invalid_batch"),
        (lambda b: b[:5], 400, "invalid_batch"),
        (lambda b: b[:8] + b"x" + b[9:], 400, "invalid_batch"),  # header not JSON
        (lambda b: b[:4] + (2**31).to_bytes(4, "little") + b[8:], 400, "invalid_batch"),
    ],
)
def test_binary_structural_damage_refuses_the_request(member_api, run, mutate, status, code):
    body = mutate(binary_batch([["a", 0, 1.0, T0], ["a", 1, 2.0, T0]]))
    r = post_binary(member_api, run.uid, body)
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] == code
    assert point_count(run) == 0


@pytest.mark.parametrize(
    "header",
    [
        {"keys": "a", "n_points": 0, "n_system": 0},
        {"keys": [], "n_points": -1, "n_system": 0},
        {"keys": [], "n_points": 0},
        {"keys": [], "n_points": 0, "n_system": 0, "points": [["a", 0, 1.0, T0]]},
        [1, 2],
    ],
)
def test_binary_bad_headers_are_400(member_api, run, header):
    raw = orjson.dumps(header)
    body = b"GLB1" + len(raw).to_bytes(4, "little") + raw
    r = post_binary(member_api, run.uid, body)
    assert r.status_code == 400, r.content


def test_binary_limits_and_gzip(member_api, run, settings):
    body = binary_batch([["a", s, 1.0, T0] for s in range(100)])
    r = post_binary(member_api, run.uid, gzip.compress(body), HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 200 and r.json()["accepted"] == 100
    # Counts are checked before any array is read: 100,001 records are refused whole.
    header = orjson.dumps({"keys": ["a"], "n_points": 60_001, "n_system": 40_000})
    big = b"GLB1" + len(header).to_bytes(4, "little") + header + b"\0" * (100_001 * 28)
    r = post_binary(member_api, run.uid, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_points"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    bomb = gzip.compress(binary_batch([["a", s, 0.0, T0] for s in range(10_000)]))
    assert len(bomb) < 64 * 1024
    r = post_binary(member_api, run.uid, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 413
    assert point_count(run) == 100


# -- the two formats agree, record for record ------------------------------------

KEYS = ["loss", "acc", "_step", "system/cpu", "system/gpu", "bad\x7f"]
record = st.tuples(
    st.sampled_from(KEYS),
    st.one_of(st.integers(0, 40), st.sampled_from([-1, MAX_STEP, MAX_STEP + 1])),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, 2.0])),
    st.one_of(st.just(T0), st.sampled_from([-1.0, math.nan, math.inf, 0.0])),
)


def _as_json(records):
    return [[k, s, json_safe(v), w if math.isfinite(w) else json_safe(w)] for k, s, v, w in records]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(
        st.tuples(st.lists(record, max_size=30), st.lists(record, max_size=8)),
        min_size=1,
        max_size=3,
    )
)
def test_binary_and_json_answer_and_store_the_same(member_api, team, project, member_user, batches):
    """Random batches (valid and invalid records, repeats, conflicts, NaN/Inf) sent to one
    run as JSON and to another as binary: same answers, same stored points."""
    import secrets

    suffix = secrets.token_hex(4)
    as_json = make_run(team, project, member_user, uid=f"j-{suffix}")
    as_binary = make_run(team, project, member_user, uid=f"b-{suffix}")
    for points, system in batches:
        body = {"points": _as_json(points), "system": _as_json(system)}
        j = ingest(member_api, as_json.uid, body)
        b = post_binary(member_api, as_binary.uid, binary_batch(points, system, keys=KEYS))
        assert j.status_code == b.status_code == 200, (j.content, b.content)
        jo, bo = j.json(), b.json()
        key = lambda e: (e["part"], e["index"], e["reason"])  # noqa: E731
        assert sorted(jo.pop("errors"), key=key) == sorted(bo.pop("errors"), key=key)
        assert jo == bo
    js, bs = stored_points(as_json), stored_points(as_binary)
    assert js.keys() == bs.keys()
    for k in js:
        assert same_float(js[k][0], bs[k][0]) and js[k][1] == bs[k][1]
    assert_rollups_match_points(as_binary)
