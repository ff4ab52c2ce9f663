"""History reads: chart buckets (exact min/max vs brute force, property-based), x axes,
scan_history paging, CSV and Parquet exports equal to what was ingested."""

from __future__ import annotations

import csv
import io
import itertools
import math
import random

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.runs import rollups, services
from apps.runs.ingest import json_safe
from apps.runs.selectors import history
from tests.runs.conftest import P, ingest, make_run, run_url
from tests.runs.helpers import assert_rollups_match_points, same_float

T0 = 1_700_000_000.0
_uids = itertools.count()


def wire(value: float):
    return value if math.isfinite(value) else json_safe(value)


def back(value):
    return float(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- rollups


@settings(max_examples=500, deadline=None)
@given(
    lo=st.integers(0, 2**22),
    width=st.integers(1, 2**20),
    top=st.sampled_from([0, *rollups.LEVELS]),
)
def test_decompose_tiles_the_range_exactly(lo, width, top):
    hi = lo + width
    pieces = rollups.decompose(lo, hi, top)
    covered = sorted((a, b) for _, a, b in pieces)
    assert covered[0][0] == lo and covered[-1][1] == hi
    assert all(b1 == a2 for (_, b1), (a2, _) in itertools.pairwise(covered))
    for level, a, b in pieces:
        assert level <= top
        assert a % (1 << level) == 0 and b % (1 << level) == 0
    # Each edge adds at most one range per finer level.
    assert sum(1 for level, _, _ in pieces if level == top) <= 1


@settings(max_examples=500, deadline=None)
@given(lo=st.integers(0, 2**22), width=st.integers(0, 2**22), buckets=st.integers(1, 5000))
def test_grouped_shift_keeps_between_a_quarter_and_all_of_the_buckets(lo, width, buckets):
    hi = lo + width
    plain = rollups.bucket_shift(lo, hi, buckets)
    shift = rollups.grouped_shift(lo, hi, buckets)
    count = (hi >> shift) - (lo >> shift) + 1
    assert count <= buckets
    if shift != plain:  # widened: onto a stored level, with at least buckets / 4 left
        assert shift in rollups.LEVELS and shift > plain
        assert count >= buckets / 4
        assert rollups.source_level(shift) == shift


def _brute_force(points: dict[int, float], lo: int, hi: int, width: int):
    groups: dict[int, list[tuple[int, float]]] = {}
    for step in sorted(points):
        if lo <= step <= hi:
            groups.setdefault(step // width, []).append((step, points[step]))
    out = []
    for _, members in sorted(groups.items()):
        finite = [v for _, v in members if not math.isnan(v)]
        out.append(
            {
                "step_start": members[0][0],
                "step_end": members[-1][0],
                "count": len(members),
                "min": min(finite) if finite else None,
                "max": max(finite) if finite else None,
                "first": members[0][1],
                "last": members[-1][1],
                "sum": sum(finite) if finite else None,
                "n": len(finite),
            }
        )
    return out


values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    series=st.dictionaries(
        st.one_of(st.integers(0, 300), st.integers(0, 2**18)), values, min_size=1, max_size=300
    ),
    batches=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    buckets=st.integers(1, 64),
    bounds=st.tuples(st.one_of(st.none(), st.integers(0, 2**18)), st.integers(0, 2**18)),
    clip_hi=st.booleans(),
)
def test_chart_buckets_keep_exact_extremes(
    team, project, member_user, series, batches, seed, buckets, bounds, clip_hi
):
    """Whatever the series, batching, arrival order, range and bucket count: every bucket's
    count, min, max, first and last equal a brute-force computation over the raw points."""
    run = make_run(team, project, member_user, uid=f"prop{next(_uids)}")
    records = [["m", step, wire(v), T0 + step] for step, v in series.items()]
    random.Random(seed).shuffle(records)
    size = math.ceil(len(records) / batches)
    for i in range(0, len(records), size):
        out = services.run_ingest(run=run, body={"points": records[i : i + size]})
        assert out.rejected == 0
    lo_req, hi_req = bounds
    hi_req = hi_req if clip_hi else None
    chart = history.chart(team, run, keys=["m"], min_step=lo_req, max_step=hi_req, buckets=buckets)
    lo = min(series) if lo_req is None else lo_req
    hi = max(series) if hi_req is None else hi_req
    data = chart["series"]["m"]
    if hi < lo or not any(lo <= s <= hi for s in series):
        assert data["count"] == []
        return
    width = chart["bucket_width"]
    assert width == 1 << rollups.bucket_shift(lo, hi, buckets)
    assert len(data["count"]) <= buckets
    expected = _brute_force(series, lo, hi, width)
    assert len(data["count"]) == len(expected)
    for i, want in enumerate(expected):
        assert data["step_start"][i] == want["step_start"]
        assert data["step_end"][i] == want["step_end"]
        assert data["count"][i] == want["count"]
        assert back(data["min"][i]) == want["min"], (i, data["min"][i], want)
        assert back(data["max"][i]) == want["max"], (i, data["max"][i], want)
        assert same_float(back(data["first"][i]), want["first"])
        assert same_float(back(data["last"][i]), want["last"])
        mean = back(data["mean"][i])
        if want["n"] == 0:
            assert mean is None
        elif math.isfinite(want["sum"]):
            assert math.isclose(mean, want["sum"] / want["n"], rel_tol=1e-9, abs_tol=1e-6)
    assert_rollups_match_points(run)


def test_chart_over_a_long_series_reads_rollups(member_api, team, project, member_user):
    """200,000 points, 1,000 buckets: whole buckets come from a rollup level, and a spike
    inside a bucket survives as that bucket's max."""
    run = make_run(team, project, member_user, uid="long")
    n = 200_000
    for start in range(0, n, 50_000):
        points = [["loss", s, 1.0 / (1 + s), T0 + s] for s in range(start, start + 50_000)]
        ingest(member_api, run.uid, {"points": points})
    ingest(member_api, run.uid, {"points": [["loss", n + 5, 0.0, T0]]})  # one more
    spike = 123_457
    body = member_api.get(run_url(run.uid, "/history?keys=loss&buckets=1000")).json()
    data = body["series"]["loss"]
    assert body["bucket_width"] == 256 and len(data["count"]) <= 1000
    assert sum(data["count"]) == n + 1
    i = next(i for i, (a, b) in enumerate(zip(data["step_start"], data["step_end"], strict=True))
             if a <= spike <= b)  # fmt: skip
    assert data["max"][i] == 1.0 / (1 + data["step_start"][i])
    # A clipped range: edges refined, counts exact.
    body = member_api.get(
        run_url(run.uid, "/history?keys=loss&buckets=10&min_step=1000&max_step=2500")
    ).json()
    data = body["series"]["loss"]
    assert sum(data["count"]) == 1501
    assert data["step_start"][0] == 1000 and data["step_end"][-1] == 2500
    assert data["max"][0] == 1.0 / 1001 and data["min"][-1] == 1.0 / 2501


def test_x_axes(member_api, team, project, member_user):
    run = make_run(team, project, member_user, uid="xaxes")
    start = run.created_at.timestamp()
    points = [["loss", s, float(s), start + 10 + s] for s in range(32)]
    points += [["epoch", s, float(s // 8), start + 10 + s] for s in range(0, 32, 8)]
    ingest(member_api, run.uid, {"points": points})

    def chart(x):
        url = run_url(run.uid, f"/history?keys=loss&buckets=4&x_axis={x}")
        return member_api.get(url).json()["series"]["loss"]

    assert chart("_step")["x_start"] == [0, 8, 16, 24]
    assert chart("_timestamp")["x_end"] == [start + 17, start + 25, start + 33, start + 41]
    runtime = chart("_runtime")
    assert [round(x, 6) for x in runtime["x_start"]] == [10.0, 18.0, 26.0, 34.0]
    assert chart("epoch")["x_start"] == [0.0, 1.0, 2.0, 3.0]
    r = member_api.get(run_url(run.uid, "/history?keys=loss&x_axis=nope"))
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "x_axis"
    assert member_api.get(run_url(run.uid, "/history")).status_code == 400
    missing = member_api.get(run_url(run.uid, "/history?keys=loss,ghost")).json()["series"]
    assert missing["ghost"]["count"] == []
    # A range at the very top of bigint (past any stored step) is empty, not an error.
    top = 2**63 - 1
    for path in (run_url(run.uid, "/history?"), f"{P}/history/grouped?group_by=group&"):
        r = member_api.get(f"{path}keys=loss&min_step={top - 100}&max_step={top}")
        assert r.status_code == 200, r.content


def test_project_history_of_several_runs(member_api, team, project, member_user):
    for uid in ("a1", "a2"):
        make_run(team, project, member_user, uid=uid)
        ingest(member_api, uid, {"points": [["loss", s, 1.0, T0] for s in range(10)]})
    body = member_api.get(f"{P}/history?runs=a1,a2,zz&keys=loss&buckets=2").json()
    assert sorted(c["run"] for c in body["runs"]) == ["a1", "a2"]
    assert all(sum(c["series"]["loss"]["count"]) == 10 for c in body["runs"])


def _chart_world(team, project, member_user, count: int) -> list[str]:
    """`count` runs whose `loss` series differ in start, length, density and bucket width
    (some with NaN/±Inf, some long enough for rollups, one without `loss`), each with a
    sparse `epoch` key to chart against."""
    rng = random.Random(11)
    uids = []
    for i in range(count):
        uid = f"many{i:03d}"
        run = make_run(team, project, member_user, uid=uid)
        uids.append(uid)
        first = rng.choice([0, 0, rng.randint(1, 5000)])
        length = rng.choice([1, 7, 300, 5000, 40_000])
        steps = sorted(rng.sample(range(first, first + length), k=min(length, 400)))
        records = []
        for s in steps:
            value = (
                rng.choice([math.nan, math.inf, -math.inf])
                if rng.random() < 0.02
                else (rng.uniform(-3, 3))
            )
            records.append(["loss" if i % 17 else "other", s, wire(value), T0 + s])
            if s % 50 == 0 or s == steps[0]:
                records.append(["epoch", s, float(s // 1000), T0 + s])
        assert services.run_ingest(run=run, body={"points": records}).rejected == 0
    return uids


@pytest.mark.parametrize("x_axis", ["_step", "_runtime", "epoch"])
def test_project_history_of_100_runs_equals_100_single_reads(
    member_api, team, project, member_user, django_assert_max_num_queries, x_axis
):
    """The multi-run chart reads every run in one statement: each run's series (its own
    range and bucket width) equals what the run's own history route answers, with or
    without a requested range, and the request costs the same number of queries for
    100 runs as for 2."""
    uids = _chart_world(team, project, member_user, 100)
    for extra in ("", "&min_step=100&max_step=3000"):
        query = f"keys=loss,missing&buckets=64&x_axis={x_axis}{extra}"
        with django_assert_max_num_queries(1000) as captured:
            small = member_api.get(f"{P}/history?runs={','.join(uids[:2])}&{query}")
        assert small.status_code == 200
        queries_for_two = len(captured)
        with django_assert_max_num_queries(queries_for_two):
            many = member_api.get(f"{P}/history?runs={','.join(uids)}&{query}")
        assert many.status_code == 200, many.content
        charts = {chart["run"]: chart for chart in many.json()["runs"]}
        assert sorted(charts) == uids
        widths = set()
        for uid in uids:
            single = member_api.get(run_url(uid, f"/history?{query}"))
            assert single.status_code == 200
            assert charts[uid] == single.json(), uid
            widths.add(charts[uid]["bucket_width"])
        if not extra:  # without a requested range, each run's own range sets its width
            assert len(widths) > 3


# --------------------------------------------------------------------------- scans


def test_scan_history_pages_rows_by_step(member_api, run):
    points = [["loss", s, s / 10, T0 + s] for s in range(0, 50)]
    points += [["acc", s, s / 100, T0 + s + 0.5] for s in range(0, 50, 3)]
    ingest(member_api, run.uid, {"points": points, "system": [["system/cpu", 0, 1.0, T0]]})
    rows, cursor = [], None
    while True:
        url = run_url(run.uid, "/scan?page_size=7")
        body = member_api.get(url + (f"&cursor={cursor}" if cursor else "")).json()
        assert len(body["rows"]) <= 7
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [r["_step"] for r in rows] == list(range(50))
    assert rows[3] == {
        "_step": 3,
        "_timestamp": T0 + 3.5,
        "_runtime": rows[3]["_runtime"],
        "loss": 0.3,
        "acc": 0.03,
    }
    assert "system/cpu" not in rows[0] and "acc" not in rows[1]
    url = run_url(run.uid, "/scan?keys=loss,acc&require_all=1&min_step=10&max_step=30")
    body = member_api.get(url).json()
    assert [r["_step"] for r in body["rows"]] == [12, 15, 18, 21, 24, 27, 30]
    assert member_api.get(run_url(run.uid, "/scan?page_size=x")).status_code == 400


# --------------------------------------------------------------------------- exports

VALUES = [0.1, 1 / 3, 1e-310, -2.5e300, math.nan, math.inf, -math.inf, 42.0]


@pytest.fixture
def exported_run(member_api, run):
    points = [["loss", s, wire(v), T0 + s / 7] for s, v in enumerate(VALUES)]
    points += [["acc", s, s * 0.5, T0 + s] for s in range(0, 120_000, 1)]
    for part in (points[:60_000], points[60_000:]):
        body = {"points": part, "system": [["system/gpu", 0, 7.5, T0]]}
        assert ingest(member_api, run.uid, body).json()["rejected"] == 0
    return run


def _ingested():
    expected = {("loss", s): (v, T0 + s / 7) for s, v in enumerate(VALUES)}
    expected.update({("acc", s): (s * 0.5, T0 + s) for s in range(120_000)})
    return expected


def _same(got: dict, expected: dict) -> bool:
    return got.keys() == expected.keys() and all(
        same_float(got[k][0], expected[k][0]) and got[k][1] == expected[k][1] for k in got
    )


def test_csv_export_equals_ingested(member_api, exported_run):
    r = member_api.get(run_url(exported_run.uid, "/export.csv"))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert r.streaming
    text = b"".join(r.streaming_content).decode()
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == ["key", "step", "value", "wall_time"]
    got = {(k, int(s)): (float(v), float(w)) for k, s, v, w in reader}
    assert _same(got, _ingested())
    r = member_api.get(run_url(exported_run.uid, "/export.csv?keys=system/gpu"))
    assert b"".join(r.streaming_content).decode().splitlines()[1] == "system/gpu,0,7.5,1700000000.0"


def test_parquet_export_equals_ingested(member_api, exported_run):
    r = member_api.get(run_url(exported_run.uid, "/export.parquet"))
    assert r.status_code == 200
    parquet = pq.ParquetFile(io.BytesIO(b"".join(r.streaming_content)))
    assert parquet.num_row_groups >= 3  # written (and streamed) chunk by chunk
    table = parquet.read()
    cols = table.to_pydict()
    rows = zip(cols["key"], cols["step"], cols["value"], cols["wall_time"], strict=True)
    got = {(k, s): (v, w) for k, s, v, w in rows}
    assert _same(got, _ingested())
