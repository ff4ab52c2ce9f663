"""Grouped chart series over the HTTP API: per group and aligned bucket, the mean, std,
min and max of the runs' bucket means, the exact point extremes and the run count, equal
to a brute-force computation over the raw points; run selection by ids and by filters;
x axes; bad input."""

from __future__ import annotations

import math
import random
import statistics
from urllib.parse import quote

import orjson
import pytest

from apps.runs import rollups
from tests.runs.conftest import P, ingest, make_run

T0 = 1_700_000_000.0
GROUPED = f"{P}/history/grouped"


def _log(client, uid: str, points: list[list]) -> None:
    for i in range(0, len(points), 500):
        response = ingest(client, uid, {"points": points[i : i + 500]})
        assert response.status_code == 200 and response.json()["rejected"] == 0


def _brute_force(runs: dict[str, dict[int, float]], lo: int, hi: int, width: int) -> dict:
    """bucket -> expected aggregates over the given runs' points in [lo, hi]."""
    per_bucket: dict[int, dict] = {}
    for points in runs.values():
        by_bucket: dict[int, list[tuple[int, float]]] = {}
        for step in sorted(points):
            if lo <= step <= hi:
                by_bucket.setdefault(step // width, []).append((step, points[step]))
        for bucket, members in by_bucket.items():
            agg = per_bucket.setdefault(
                bucket, {"means": [], "values": [], "count": 0, "steps": []}
            )
            finite = [v for _, v in members if not math.isnan(v)]
            if finite:
                agg["means"].append(sum(finite) / len(finite))
            agg["values"] += finite
            agg["count"] += len(members)
            agg["steps"] += [s for s, _ in members]
    return dict(sorted(per_bucket.items()))


@pytest.fixture
def grouped_world(team, project, member_user, member_api):
    """Six runs in two optimizer groups plus one without the field, with random series
    of different lengths (some NaN), steps up to 5,000 so several rollup levels serve."""
    rng = random.Random(7)
    series: dict[str, dict[int, float]] = {}
    groups = {"adam": [], "sgd": [], None: []}
    for i in range(7):
        optimizer = ["adam", "sgd"][i % 2] if i < 6 else None
        config = {"lr": 0.1 * (i + 1)} | ({"optimizer": optimizer} if optimizer else {})
        uid = f"g{i}"
        make_run(team, project, member_user, uid=uid, config=config)
        length = rng.randint(500, 5000)
        steps = sorted(rng.sample(range(length), k=min(length, 800)))
        points = {s: (math.nan if rng.random() < 0.02 else rng.uniform(-5, 5)) for s in steps}
        series[uid] = points
        groups[optimizer].append(uid)
        records = [
            ["loss", s, v if math.isfinite(v) else "NaN", T0 + i + s] for s, v in points.items()
        ]
        records += [["epoch", s, float(s // 100), T0 + i + s] for s in steps]
        _log(member_api, uid, records)
    return series, groups


def _get(client, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"{GROUPED}?{query}")


@pytest.mark.parametrize("buckets", [1, 7, 64, 300, 5000])
def test_grouped_buckets_equal_brute_force(member_api, grouped_world, buckets):
    series, groups = grouped_world
    response = _get(member_api, keys="loss", group_by="config.optimizer", buckets=buckets)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["group_by"] == "config.optimizer" and body["truncated"] is False
    assert body["runs_matched"] == 7
    assert [g["value"] for g in body["groups"]] == ["adam", "sgd", None]
    lo = min(min(p) for p in series.values())
    hi = max(max(p) for p in series.values())
    width = body["bucket_width"]
    assert width == 1 << rollups.grouped_shift(lo, hi, buckets)
    for group in body["groups"]:
        assert sorted(group["run_ids"]) == sorted(groups[group["value"]])
        data = group["series"]["loss"]
        expected = _brute_force({u: series[u] for u in group["run_ids"]}, lo, hi, width)
        assert len(data["count"]) == len(expected) <= buckets
        for i, want in enumerate(expected.values()):
            means = want["means"]
            assert data["count"][i] == want["count"]
            assert data["runs"][i] == len(means)
            assert data["step_start"][i] == min(want["steps"])
            assert data["step_end"][i] == max(want["steps"])
            assert data["x_start"][i] == min(want["steps"])
            if not means:  # only NaN in this bucket, in every run
                assert data["min"][i] is data["max"][i] is data["mean"][i] is None
                continue
            assert data["min"][i] == min(want["values"])  # exact, not sampled
            assert data["max"][i] == max(want["values"])
            assert math.isclose(data["mean"][i], statistics.fmean(means), abs_tol=1e-9)
            assert math.isclose(data["std"][i], statistics.pstdev(means), abs_tol=1e-9)
            assert math.isclose(data["mean_min"][i], min(means), abs_tol=1e-12)
            assert math.isclose(data["mean_max"][i], max(means), abs_tol=1e-12)


def test_grouped_selection_by_ids_and_filters(member_api, grouped_world):
    by_ids = _get(member_api, keys="loss", group_by="config.optimizer", runs="g0,g1,g2").json()
    assert {g["value"]: sorted(g["run_ids"]) for g in by_ids["groups"]} == {
        "adam": ["g0", "g2"],
        "sgd": ["g1"],
    }
    filters = orjson.dumps({"config.lr": {"$gte": 0.35}}).decode()
    by_filter = _get(member_api, keys="loss", group_by="config.optimizer", filters=filters).json()
    assert by_filter["runs_matched"] == 4  # g3..g6: lr 0.4 .. 0.7
    assert sorted(u for g in by_filter["groups"] for u in g["run_ids"]) == ["g3", "g4", "g5", "g6"]
    by_job = _get(member_api, keys="loss", group_by="job_type").json()
    assert [(g["value"], len(g["run_ids"])) for g in by_job["groups"]] == [(None, 7)]


def test_grouped_x_axes(member_api, grouped_world):
    series, _ = grouped_world
    body = _get(
        member_api, keys="loss", group_by="config.optimizer", buckets=10, x_axis="epoch"
    ).json()
    width = body["bucket_width"]
    for group in body["groups"]:
        data = group["series"]["loss"]
        for i, (start, end) in enumerate(zip(data["step_start"], data["step_end"], strict=True)):
            # epoch = step // 100 at the same step: its first/last value in the bucket,
            # widened over the group's runs.
            steps = [s for u in group["run_ids"] for s in series[u] if s // width == start // width]
            assert (data["x_start"][i], data["x_end"][i]) == (min(steps) // 100, max(steps) // 100)
            assert start == min(steps) and end == max(steps)
    runtime = _get(member_api, keys="loss", group_by="config.optimizer", x_axis="_runtime")
    assert runtime.status_code == 200
    data = runtime.json()["groups"][0]["series"]["loss"]
    assert all(xs <= xe for xs, xe in zip(data["x_start"], data["x_end"], strict=True))


def test_grouped_step_range_and_empty(member_api, grouped_world):
    body = _get(
        member_api, keys="loss", group_by="config.optimizer", min_step=100, max_step=199, buckets=4
    ).json()
    # 4 buckets of 32 steps, widened to the stored level 64: 3 buckets (>= a quarter of 4)
    assert body["bucket_width"] == 64 == 1 << rollups.grouped_shift(100, 199, 4)
    for group in body["groups"]:
        data = group["series"]["loss"]
        assert all(100 <= s <= 199 for s in data["step_start"] + data["step_end"])
    empty = _get(member_api, keys="nope", group_by="group").json()
    assert empty["bucket_width"] is None
    assert empty["groups"][0]["series"]["nope"]["mean"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "config.optimizer"}, "keys"),
        ({"keys": "loss"}, "group_by"),
        ({"keys": "loss", "group_by": "summary.loss"}, "group_by"),
        ({"keys": "loss", "group_by": "config."}, "group_by"),
        ({"keys": "loss", "group_by": "group", "filters": "{"}, "filters"),
        ({"keys": "loss", "group_by": "group", "filters": '{"config.lr": {"$lt": []}}'}, "filters"),
        ({"keys": "loss", "group_by": "group", "buckets": "0"}, "buckets"),
        ({"keys": "loss", "group_by": "group", "x_axis": "nope"}, "x_axis"),
        (
            {"keys": "loss", "group_by": "group", "runs": ",".join(f"r{i}" for i in range(1001))},
            "runs",
        ),
    ],
)
def test_grouped_bad_input_names_the_field(member_api, grouped_world, params, field):
    response = _get(member_api, **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["detail"]["field"] == field


def test_grouped_other_team_is_404(api_for, other_admin, grouped_world):
    response = _get(api_for(other_admin), keys="loss", group_by="group")
    assert response.status_code == 404


def test_viewer_reads_grouped(viewer_api, grouped_world):
    assert _get(viewer_api, keys="loss", group_by="group").status_code == 200
