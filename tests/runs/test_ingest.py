"""Ingest: exactly-once storage, conflicts, non-finite values, per-record rejection, limits."""

from __future__ import annotations

import gzip
import math
import threading

import orjson
import pytest
from django.db import connection

from apps.runs.models import MetricKey, Run
from tests.runs.conftest import ingest, make_run, run_url
from tests.runs.helpers import (
    assert_rollups_match_points,
    point_count,
    same_float,
    stored_points,
)

T0 = 1_700_000_000.0


def pts(key: str, steps, value=lambda s: s * 0.5, t0: float = T0):
    return [[key, s, value(s), t0 + s] for s in steps]


def test_batch_stores_points_system_console_summary(member_api, run):
    body = {
        "points": pts("loss", range(50)) + pts("acc", range(0, 50, 5)),
        "system": [["system/cpu", i, 12.5 + i, T0 + i] for i in range(3)],
        "console": [["stdout", T0, "epoch 1"], ["stderr", T0 + 1, "warning"]],
        "summary": {"best_acc": 0.9},
        "config": {"batch_size": 32},
        "heartbeat": True,
    }
    r = ingest(member_api, run.uid, body)
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["metrics"] == {"accepted": 63, "duplicates": 0, "conflicts": 0}
    assert out["console"] == {"accepted": 2, "duplicates": 0}
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (65, 0, 0)
    assert point_count(run) == 63
    run.refresh_from_db()
    assert run.summary == {"loss": 24.5, "acc": 22.5, "best_acc": 0.9}
    assert run.config == {"batch_size": 32}
    stats = MetricKey.objects.for_team(run.team).get(run=run, name="loss")
    assert (stats.count, stats.min, stats.max, stats.max_step) == (50, 0.0, 24.5, 49)
    assert math.isclose(stats.sum / stats.count, 12.25)
    assert_rollups_match_points(run)
    metrics = member_api.get(run_url(run.uid)).json()["metrics"]
    assert metrics["loss"] == {
        "count": 50,
        "nan_count": 0,
        "min": 0.0,
        "max": 24.5,
        "mean": 12.25,
        "last": 24.5,
        "last_step": 49,
    }
    assert metrics["system/cpu"]["last"] == 14.5


def test_retried_batch_is_stored_exactly_once(member_api, run):
    body = {"points": pts("loss", range(1000)) + pts("lr", range(0, 1000, 10))}
    first = ingest(member_api, run.uid, body).json()
    assert (first["accepted"], first["duplicates"]) == (1100, 0)
    for _ in range(2):
        again = ingest(member_api, run.uid, body).json()
        assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 1100, 0)
    assert point_count(run) == 1100
    stats = MetricKey.objects.for_team(run.team).get(run=run, name="loss")
    assert stats.count == 1000  # summaries count each point once too
    assert_rollups_match_points(run)


def test_resent_batch_after_lost_response(member_api, run):
    """The client never saw the answer to batch A, so it sends A again merged with B (and
    in another order): A's points are duplicates, B's are stored, nothing twice."""
    a = pts("loss", range(0, 300))
    b = pts("loss", range(300, 500)) + pts("val", range(0, 500, 50))
    assert ingest(member_api, run.uid, {"points": a}).json()["accepted"] == 300
    out = ingest(member_api, run.uid, {"points": list(reversed(b + a))}).json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (210, 300, 0)
    stored = stored_points(run)
    assert len(stored) == 510
    assert stored[("loss", 299)] == (149.5, T0 + 299)
    assert MetricKey.objects.for_team(run.team).get(run=run, name="loss").count == 500
    assert_rollups_match_points(run)


def test_out_of_order_and_backfilled_steps(member_api, run):
    """Steps below a key's high-water mark take the staging path and still land once."""
    ingest(member_api, run.uid, {"points": pts("loss", range(100, 200))})
    out = ingest(member_api, run.uid, {"points": pts("loss", range(150, 50, -1))}).json()
    assert (out["accepted"], out["duplicates"]) == (49, 51)
    assert sorted(s for _, s in stored_points(run)) == list(range(51, 200))
    stats = MetricKey.objects.for_team(run.team).get(run=run, name="loss")
    assert (stats.count, stats.min_step, stats.max_step, stats.last) == (149, 51, 199, 99.5)
    assert_rollups_match_points(run)


def test_conflicting_value_is_rejected_not_overwritten(member_api, run):
    ingest(member_api, run.uid, {"points": [["loss", 1, 0.5, T0], ["loss", 2, 0.25, T0]]})
    body = {
        "points": [
            ["loss", 1, 0.5, T0],  # same value: duplicate
            ["loss", 2, 0.3, T0],  # different value: conflict
            ["loss", 3, 0.1, T0],  # new
            ["loss", 3, 0.2, T0],  # same batch, same step, other value: conflict
            ["loss", 3, 0.1, T0 + 5],  # same value (wall time differs): duplicate
        ]
    }
    out = ingest(member_api, run.uid, body).json()
    assert (out["accepted"], out["duplicates"], out["rejected"], out["conflicts"]) == (1, 2, 2, 2)
    assert sorted((e["index"], e["reason"]) for e in out["errors"]) == [
        (1, "conflict"),
        (3, "conflict"),
    ]
    assert all(e["part"] == "points" for e in out["errors"])
    stored = stored_points(run)
    assert stored[("loss", 2)][0] == 0.25 and stored[("loss", 3)][0] == 0.1
    assert_rollups_match_points(run)


def test_nan_and_infinity_round_trip(member_api, run):
    values = [1.0, "NaN", "Infinity", "-Infinity", -0.5]
    body = {"points": [["x", i, v, T0 + i] for i, v in enumerate(values)]}
    assert ingest(member_api, run.uid, body).json()["accepted"] == 5
    stored = stored_points(run)
    assert math.isnan(stored[("x", 1)][0])
    assert stored[("x", 2)][0] == math.inf and stored[("x", 3)][0] == -math.inf
    with connection.cursor() as cur:  # real IEEE values in a float8 column
        cur.execute("SELECT count(*) FROM runs_point WHERE run_id = %s AND value = 'NaN'", [run.pk])
        assert cur.fetchone()[0] == 1
    # Re-sending NaN is a duplicate (NaN equals NaN here), not a conflict.
    again = ingest(member_api, run.uid, body).json()
    assert (again["duplicates"], again["conflicts"]) == (5, 0)
    rows = member_api.get(run_url(run.uid, "/scan?keys=x")).json()["rows"]
    assert [row["x"] for row in rows] == values
    chart = member_api.get(run_url(run.uid, "/history?keys=x&buckets=1")).json()
    series = chart["series"]["x"]
    assert series["min"] == ["-Infinity"] and series["max"] == ["Infinity"]
    assert series["first"] == [1.0] and series["last"] == [-0.5] and series["count"] == [5]
    run.refresh_from_db()
    assert run.summary["x"] == -0.5
    ingest(member_api, run.uid, {"points": [["x", 9, "NaN", T0]]})
    run.refresh_from_db()
    assert run.summary["x"] == "NaN"  # JSON has no NaN: the wire contract's string


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (["loss", 1, 0.5], "record:"),
        ("loss", "record:"),
        ([1, 1, 0.5, T0], "key:"),
        (["", 1, 0.5, T0], "key:"),
        (["_step", 1, 0.5, T0], "key:"),
        (["a\x00b", 1, 0.5, T0], "key:"),
        (["system/cpu", 1, 0.5, T0], "key:"),
        (["k" * 300, 1, 0.5, T0], "key:"),
        (["loss", -1, 0.5, T0], "step:"),
        (["loss", 1.5, 0.5, T0], "step:"),
        (["loss", "3", 0.5, T0], "step:"),
        (["loss", True, 0.5, T0], "step:"),
        (["loss", 2**60, 0.5, T0], "step:"),
        (["loss", 1, "nan", T0], "value:"),
        (["loss", 1, None, T0], "value:"),
        (["loss", 1, True, T0], "value:"),
        (["loss", 1, [1], T0], "value:"),
        (["loss", 1, {"a": 1}, T0], "value:"),
        (["loss", 1, 0.5, "NaN"], "wall_time:"),
        (["loss", 1, 0.5, -5], "wall_time:"),
        (["loss", 1, 0.5, None], "wall_time:"),
    ],
)
def test_bad_record_is_rejected_with_reason_and_good_ones_stored(member_api, run, record, reason):
    good = pts("loss", range(10, 15))
    body = {"points": [*good[:2], record, *good[2:]]}
    r = ingest(member_api, run.uid, body)
    assert r.status_code == 200
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (5, 1)
    [error] = out["errors"]
    assert error["index"] == 2 and error["part"] == "points"
    assert error["reason"].startswith(reason), error
    assert point_count(run) == 5


def test_bad_parts_are_reported_and_the_rest_stored(member_api, run):
    body = {
        "points": pts("loss", range(3)),
        "system": [["cpu", 0, 1.0, T0], ["system/gpu", 0, 50.0, T0]],
        "console": [["stdout", T0, "ok"], ["stdlog", T0, "x"], ["stderr", T0, 5]],
        "summary": ["not", "an", "object"],
    }
    out = ingest(member_api, run.uid, body).json()
    assert out["metrics"]["accepted"] == 4 and out["console"]["accepted"] == 1
    reasons = {(e["part"], e["index"]): e["reason"] for e in out["errors"]}
    assert reasons[("system", 0)].startswith("key:")
    assert reasons[("console", 1)].startswith("stream:")
    assert reasons[("console", 2)].startswith("line:")
    assert reasons[("summary", None)].startswith("summary:")
    assert out["rejected"] == 4


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_malformed_body_is_400(member_api, run, body):
    r = member_api.generic(
        "POST", run_url(run.uid, "/ingest"), data=body, content_type="application/json"
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"


def test_oversized_body_is_413(member_api, run, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = {"points": pts("loss", range(3000))}  # ~100 KB of JSON
    r = ingest(member_api, run.uid, body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert point_count(run) == 0


def test_default_limit_is_16_mib(member_api, run):
    padding = "x" * (16 * 1024 * 1024)
    r = ingest(member_api, run.uid, {"points": [], "pad": padding})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_gzip_body_and_gzip_bomb(member_api, run, settings):
    raw = orjson.dumps({"points": pts("loss", range(100))})
    r = member_api.generic(
        "POST",
        run_url(run.uid, "/ingest"),
        data=gzip.compress(raw),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert r.status_code == 200 and r.json()["accepted"] == 100
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    bomb = gzip.compress(b'{"pad": "' + b"0" * (1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    r = member_api.generic(
        "POST",
        run_url(run.uid, "/ingest"),
        data=bomb,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert r.status_code == 413


def test_too_many_points_is_413(member_api, run):
    body = {"points": [["a", 0, 1.0, T0]] * 60_001, "system": [["system/c", 0, 1.0, T0]] * 40_000}
    r = ingest(member_api, run.uid, body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_many_points"


def test_a_full_batch_of_100k_points_is_accepted(member_api, run):
    body = {"points": [[f"k{i % 10}", i // 10, float(i), T0 + i] for i in range(100_000)]}
    out = ingest(member_api, run.uid, body).json()
    assert out["accepted"] == 100_000
    assert MetricKey.objects.for_team(run.team).filter(run=run).count() == 10
    assert_rollups_match_points(run)


def test_console_lines_are_exactly_once_with_offsets(member_api, run):
    lines = [["stdout", T0 + i, f"line {i}"] for i in range(5)]
    out = ingest(member_api, run.uid, {"console": lines[:3], "console_offset": 0}).json()
    assert out["console"] == {"accepted": 3, "duplicates": 0}
    # Retry of lines 2..4 after a lost response: line 2 is not stored twice.
    out = ingest(member_api, run.uid, {"console": lines[2:], "console_offset": 2}).json()
    assert out["console"] == {"accepted": 2, "duplicates": 1}
    # Without an offset, lines are appended after the last one.
    ingest(member_api, run.uid, {"console": [["stderr", T0 + 9, "tail"]]})
    page = member_api.get(run_url(run.uid, "/console?offset=0&limit=4")).json()
    assert [line["text"] for line in page["lines"]] == ["line 0", "line 1", "line 2", "line 3"]
    assert page["next_offset"] == 4
    rest = member_api.get(run_url(run.uid, "/console?offset=4")).json()
    assert [(line["line"], line["stream"], line["text"]) for line in rest["lines"]] == [
        (4, "stdout", "line 4"),
        (5, "stderr", "tail"),
    ]
    assert rest["lines"][1]["time"] == T0 + 9


def test_user_summary_overrides_logged_value(member_api, run):
    ingest(member_api, run.uid, {"points": pts("loss", range(3)), "summary": {"loss": 0.01}})
    ingest(member_api, run.uid, {"points": pts("loss", range(3, 6))})
    run.refresh_from_db()
    assert run.summary["loss"] == 0.01
    r = member_api.patch(run_url(run.uid), {"summary": {"loss": None}}, format="json")
    assert r.status_code == 200
    assert r.json()["summary"]["loss"] == 2.5  # back to the logged last value


def test_ingest_into_unknown_run_is_404(member_api, project):
    assert ingest(member_api, "nope", {"points": pts("a", range(2))}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writers_on_one_run(team, project, member_user, api_for):
    """Two writers send overlapping batches to one run at once, several rounds: every
    point is stored once, and accepted + duplicates add up exactly."""
    run = make_run(team, project, member_user, uid="shared")
    clients = [api_for(member_user), api_for(member_user)]
    shared = [pts("loss", range(r * 400, r * 400 + 400)) for r in range(5)]
    own = [[pts(f"w{w}", range(r * 100, r * 100 + 100)) for r in range(5)] for w in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[dict]] = [[], []]
    errors: list[BaseException] = []

    def writer(w: int):
        try:
            for r in range(5):
                batch = shared[r] + own[w][r]
                if w:
                    batch = list(reversed(batch))
                barrier.wait(timeout=30)
                response = ingest(clients[w], run.uid, {"points": batch})
                assert response.status_code == 200, response.content
                results[w].append(response.json())
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    accepted = sum(out["accepted"] for rs in results for out in rs)
    duplicates = sum(out["duplicates"] for rs in results for out in rs)
    assert accepted == 2000 + 1000
    assert duplicates == 2000
    assert all(out["rejected"] == 0 for rs in results for out in rs)
    assert point_count(run) == 3000
    run = Run.objects.for_team(team).get(pk=run.pk)
    counts = dict(MetricKey.objects.for_team(team).filter(run=run).values_list("name", "count"))
    assert counts == {"loss": 2000, "w0": 500, "w1": 500}
    assert_rollups_match_points(run)


def test_stored_values_keep_full_precision(member_api, run):
    values = [0.1 + 0.2, 1e-300, 1.7976931348623157e308, -2.2250738585072014e-308, 123456789]
    body = {"points": [["v", i, v, T0 + 0.123456] for i, v in enumerate(values)]}
    ingest(member_api, run.uid, body)
    stored = stored_points(run)
    for i, v in enumerate(values):
        assert same_float(stored[("v", i)][0], float(v))
        assert stored[("v", i)][1] == T0 + 0.123456


def test_staged_batches_of_two_runs_in_one_transaction(team, project, member_user):
    """The staging table is per session: batches sharing an outer transaction must not see
    each other's staged rows."""
    from django.db import transaction

    from apps.runs import services

    a = make_run(team, project, member_user, uid="a")
    b = make_run(team, project, member_user, uid="b")
    with transaction.atomic():
        for run in (a, b):
            services.run_ingest(run=run, body={"points": pts("loss", range(10, 20))})
            services.run_ingest(run=run, body={"points": pts("loss", range(0, 12))})
    assert point_count(a) == point_count(b) == 20
    assert_rollups_match_points(a)
    assert_rollups_match_points(b)


@pytest.mark.parametrize("heartbeat", [None, 1, 0, "true", "yes", [True], {"on": True}])
def test_non_boolean_heartbeat_is_a_400_and_stores_nothing(member_api, run, heartbeat):
    body = {"points": pts("loss", range(3)), "heartbeat": heartbeat}
    r = ingest(member_api, run.uid, body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"] == {"field": "heartbeat"}
    assert point_count(run) == 0
    for ok in (True, False):
        r = ingest(member_api, run.uid, {"points": pts("loss", range(3)), "heartbeat": ok})
        assert r.status_code == 200, r.content
    assert point_count(run) == 3
