"""The routes the media panels draw from, over HTTP: one key across runs at (or nearest
before) a step (the image grid), the keys of several runs (the workspace's Media
section), a histogram key re-binned over steps (the heatmap) and the team's custom chart
presets (the chart editor)."""

from __future__ import annotations

import orjson
import pytest

from tests.media.test_media_api import image_item, png_bytes, put_file, register
from tests.runs.conftest import P, make_run, post_json, run_url

TEAM = "/api/v1/teams/team-a"


def log_image(client, uid: str, key: str, step: int, index: int = 0) -> None:
    data = png_bytes(4 + step, 3)
    path = f"media/images/{key}_{step}_{index}.png"
    put_file(client, uid, path, data)
    item = {**image_item(key, path, data, step=step), "index": index}
    assert register(client, uid, item)["accepted"] == 1


def test_one_key_across_runs_at_or_nearest_before_a_step(admin_api, team, project, admin_user):
    a = make_run(team, project, admin_user, "runa")
    b = make_run(team, project, admin_user, "runb")
    for step in (0, 5, 10):
        log_image(admin_api, a.uid, "samples", step)
    log_image(admin_api, b.uid, "samples", 3)
    log_image(admin_api, b.uid, "samples", 3, index=1)

    def at(step=None):
        query = f"?key=samples&runs=runa,runb,nosuch{'' if step is None else f'&step={step}'}"
        r = admin_api.get(f"{P}/media{query}")
        assert r.status_code == 200, r.content
        return r.json()

    body = at(7)
    assert body["steps"] == [0, 3, 5, 10]
    shown = {c["run"]: (c["step"], [i["index"] for i in c["items"]]) for c in body["runs"]}
    assert shown == {"runa": (5, [0]), "runb": (3, [0, 1])}
    assert body["runs"][0]["items"][0]["file_url"].endswith("/file")
    assert "/runs/runa/media/" in body["runs"][0]["items"][0]["file_url"]
    # Before any step of run b it has nothing; without a step, each run's last.
    assert {c["run"]: c["step"] for c in at(1)["runs"]} == {"runa": 0, "runb": None}
    assert {c["run"]: c["step"] for c in at()["runs"]} == {"runa": 10, "runb": 3}

    keys = admin_api.get(f"{P}/media/keys?runs=runa,runb").json()["keys"]
    assert keys == [
        {"key": "samples", "type": "image", "runs": 2, "count": 5, "min_step": 0, "max_step": 10}
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?key=samples", "runs"),
        ("?key=samples&runs=" + ",".join(f"r{i}" for i in range(51)), "runs"),
        ("?runs=runa", "key"),
        ("?runs=runa&key=samples&step=x", "step"),
    ],
)
def test_across_runs_bad_input_names_the_field(admin_api, project, query, field):
    r = admin_api.get(f"{P}/media{query}")
    assert r.status_code == 400
    assert r.json()["error"]["detail"]["field"] == field


def test_histogram_heatmap_rebins_every_step_and_keeps_totals(admin_api, run):
    items = [
        {"key": "w", "step": 0, "_type": "histogram", "bins": [0, 1, 2], "values": [4, 6]},
        {"key": "w", "step": 1, "_type": "histogram", "bins": [1, 3, 5], "values": [2, 8]},
        {"key": "w", "step": 2, "_type": "histogram", "bins": [2, 2], "values": [5]},
    ]
    assert register(admin_api, run.uid, *items)["accepted"] == 3
    r = admin_api.get(run_url(run.uid, "/media/histogram?key=w&bins=5"))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["steps"] == [0, 1, 2] and body["total_steps"] == 3
    assert body["edges"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert body["counts"][0] == [4, 6, 0, 0, 0]
    assert body["counts"][1] == [0, 1, 1, 4, 4]
    assert sum(body["counts"][2]) == 5 and body["counts"][2][2] == 5
    # At most max_steps steps, spread over the run (first and last kept).
    sampled = admin_api.get(run_url(run.uid, "/media/histogram?key=w&bins=4&max_steps=2")).json()
    assert sampled["steps"] == [0, 2] and sampled["total_steps"] == 3
    bad = admin_api.get(run_url(run.uid, "/media/histogram?key=w&bins=1"))
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "bins"
    empty = admin_api.get(run_url(run.uid, "/media/histogram?key=none")).json()
    assert empty["steps"] == [] and empty["counts"] == []


SPEC = {
    "data": {"name": "table"},
    "mark": "bar",
    "encoding": {"x": {"field": "label"}, "y": {"field": "value", "type": "quantitative"}},
}


def test_chart_presets_are_the_teams(admin_api, member_api, viewer_api):
    r = post_json(member_api, f"{TEAM}/chart-presets", {"name": "Bars", "spec": SPEC})
    assert r.status_code == 201, r.content
    preset = r.json()
    assert preset["name"] == "Bars" and preset["spec"] == SPEC
    assert preset["created_by"].startswith("member")
    # The whole team sees it; a viewer cannot save one.
    listed = viewer_api.get(f"{TEAM}/chart-presets").json()["presets"]
    assert [p["name"] for p in listed] == ["Bars"]
    denied = post_json(viewer_api, f"{TEAM}/chart-presets", {"name": "V", "spec": SPEC})
    assert denied.status_code == 403
    # Names are unique in the team.
    again = post_json(admin_api, f"{TEAM}/chart-presets", {"name": "Bars", "spec": SPEC})
    assert again.status_code == 409 and again.json()["error"]["detail"]["field"] == "name"
    url = f"{TEAM}/chart-presets/{preset['id']}"
    changed = admin_api.generic(
        "PATCH",
        url,
        orjson.dumps({"name": "Bars v2", "spec": {**SPEC, "mark": "line"}}),
        "application/json",
    )
    assert changed.status_code == 200 and changed.json()["spec"]["mark"] == "line"
    assert admin_api.get(url).json()["name"] == "Bars v2"
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spec": SPEC}, "name"),
        ({"name": "", "spec": SPEC}, "name"),
        ({"name": "x" * 129, "spec": SPEC}, "name"),
        ({"name": "x"}, "spec"),
        ({"name": "x", "spec": {"title": "no mark"}}, "spec"),
        ({"name": "x", "spec": [1]}, "spec"),
        ({"name": "x", "spec": SPEC, "owner": 1}, "owner"),
    ],
)
def test_chart_preset_bad_input_names_the_field(admin_api, body, field):
    r = post_json(admin_api, f"{TEAM}/chart-presets", body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == field
