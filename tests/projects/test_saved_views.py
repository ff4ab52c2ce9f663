"""Saved workspace views over the API: create, list, get, rename, update the spec, set
the default (one per project), delete; viewers read, members write; bad input is a 400
naming the field; another team's view is 404."""

from __future__ import annotations

import orjson
import pytest

P = "/api/v1/teams/team-a/projects/resnet"
SPEC = {
    "panels": [{"type": "line", "keys": ["loss"], "smoothing": {"kind": "ema", "weight": 0.6}}],
    "table": {"columns": ["name", "config.lr", "summary.loss"], "pinned": ["name"],
              "widths": {"name": 180}},
    "filters": {"$and": [{"state": "finished"}]},
    "sort": "-summary.loss",
    "group_by": "config.optimizer",
    "x_axis": "_step",
}  # fmt: skip


def send(client, method, url, body):
    raw = body if isinstance(body, bytes | str) else orjson.dumps(body)
    return client.generic(method, url, raw, content_type="application/json")


@pytest.fixture
def views(project):
    return f"{P}/views"


def test_view_lifecycle(member_api, viewer_api, views, member_user):
    created = send(member_api, "POST", views, {"name": "Loss curves", "spec": SPEC})
    assert created.status_code == 201, created.content
    view = created.json()
    assert view["spec"] == SPEC and view["is_default"] is False
    assert view["created_by"] == member_user.email
    url = f"{views}/{view['id']}"
    assert viewer_api.get(url).json()["spec"] == SPEC

    other = send(member_api, "POST", views, {"name": "Compact", "is_default": True}).json()
    assert other["is_default"] is True and other["spec"] == {}
    listed = viewer_api.get(views).json()["views"]
    assert [v["name"] for v in listed] == ["Compact", "Loss curves"]  # default first

    # Setting another default unsets the previous one.
    patched = send(member_api, "PATCH", url, {"is_default": True, "name": "Loss"}).json()
    assert patched["is_default"] is True and patched["name"] == "Loss"
    listed = {v["name"]: v["is_default"] for v in viewer_api.get(views).json()["views"]}
    assert listed == {"Loss": True, "Compact": False}

    new_spec = {**SPEC, "x_axis": "epoch"}
    updated = send(member_api, "PATCH", url, {"spec": new_spec}).json()
    assert updated["spec"] == new_spec and updated["name"] == "Loss"
    assert member_api.get(url).json()["spec"]["x_axis"] == "epoch"

    assert member_api.delete(url).status_code == 204
    assert member_api.get(url).status_code == 404
    assert [v["name"] for v in viewer_api.get(views).json()["views"]] == ["Compact"]


def test_viewers_cannot_write(viewer_api, member_api, views):
    assert send(viewer_api, "POST", views, {"name": "x"}).status_code == 403
    view = send(member_api, "POST", views, {"name": "x"}).json()
    url = f"{views}/{view['id']}"
    assert send(viewer_api, "PATCH", url, {"name": "y"}).status_code == 403
    assert viewer_api.delete(url).status_code == 403
    assert viewer_api.get(url).status_code == 200


def test_duplicate_name_is_409(member_api, views):
    assert send(member_api, "POST", views, {"name": "A"}).status_code == 201
    b = send(member_api, "POST", views, {"name": "B"}).json()
    again = send(member_api, "POST", views, {"name": "A"})
    assert again.status_code == 409 and again.json()["error"]["detail"]["field"] == "name"
    rename = send(member_api, "PATCH", f"{views}/{b['id']}", {"name": "A"})
    assert rename.status_code == 409


def _deep(levels: int):
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"spec": {}}, "name", 400),
        ({"name": ""}, "name", 400),
        ({"name": "x" * 129}, "name", 400),
        ({"name": 5}, "name", 400),
        ({"name": "a\u0000b"}, "name", 400),
        ({"name": "v", "spec": []}, "spec", 400),
        ({"name": "v", "spec": "layout"}, "spec", 400),
        ({"name": "v", "spec": _deep(40)}, "spec", 400),
        ({"name": "v", "spec": {"k": "x\u0000"}}, "spec", 400),
        ({"name": "v", "spec": {"big": "x" * 300_000}}, "spec", 413),
        ({"name": "v", "is_default": "yes"}, "is_default", 400),
        ({"name": "v", "owner": 1}, "owner", 400),
    ],
)
def test_bad_input_names_the_field(member_api, views, body, field, status):
    response = send(member_api, "POST", views, body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["detail"]["field"] == field
    assert member_api.get(views).json()["views"] == []


def test_bad_patch_changes_nothing(member_api, views):
    view = send(member_api, "POST", views, {"name": "keep", "spec": SPEC}).json()
    url = f"{views}/{view['id']}"
    bad = send(member_api, "PATCH", url, {"name": "new", "spec": _deep(40)})
    assert bad.status_code == 400
    assert member_api.get(url).json()["name"] == "keep"
    assert send(member_api, "PATCH", url, b"[1]").status_code == 400


def test_other_teams_views_are_404(member_api, api_for, other_admin, other_team, views):
    from tests.factories import make_project

    view = send(member_api, "POST", views, {"name": "mine"}).json()
    outsider = api_for(other_admin)
    assert outsider.get(f"{views}/{view['id']}").status_code == 404
    assert outsider.get(views).status_code == 404
    make_project(other_team, "resnet", actor=other_admin)
    own = "/api/v1/teams/team-b/projects/resnet/views"
    assert outsider.get(f"{own}/{view['id']}").status_code == 404  # team A's id in B's URL
    assert send(outsider, "PATCH", f"{own}/{view['id']}", {"name": "x"}).status_code == 404
    assert outsider.delete(f"{own}/{view['id']}").status_code == 404
    assert member_api.get(f"{views}/{view['id']}").json()["name"] == "mine"
