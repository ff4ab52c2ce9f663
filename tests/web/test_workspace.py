"""The project workspace page (/<team>/<project>/), server side: the first-run empty
state until the project has a run, then the workspace with its page data (API and
WebSocket paths, the caller's rights that decide which controls show); another team's
project is 404; a public project's workspace is readable by outsiders, without write
controls; a signed-in browser can save a view through the API (session + CSRF)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.runs import services as run_services
from tests.factories import make_project
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

PAGE = "/team-a/resnet/"


def _log_run(team, project, user, run_id="r1"):
    run_services.run_create_or_resume(
        team=team, project=project, project_name=project.name, actor=user, data={"id": run_id}
    )


def _page_data(response) -> dict:
    """The json_script the workspace's modules read (no inline script: type JSON)."""
    html = response.content.decode()
    found = re.search(
        r'<script id="workspace-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "no workspace-data json_script in the page"
    return json.loads(found.group(1))


@pytest.fixture
def with_run(team, project, member_user):
    _log_run(team, project, member_user)
    return project


def test_project_without_runs_teaches_the_first_run(project, member_user):
    response = login(member_user).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Log your first run" in html
    # The snippet is filled in with this team and project, and links to the API keys.
    assert 'entity="team-a", project="resnet"' in html
    assert f'href="{reverse("web:api-keys", kwargs={"team": "team-a"})}"' in html
    assert 'id="workspace-data"' not in html


def test_project_with_runs_shows_the_workspace(with_run, member_user):
    response = login(member_user).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Log your first run" not in html
    assert 'data-testid="workspace"' in html and 'id="runs-table"' in html
    assert 'src="/static/js/workspace.js"' in html and 'type="module"' in html
    data = _page_data(response)
    assert data["team"] == "team-a" and data["project"] == "resnet"
    assert data["api_base"] == "/api/v1/teams/team-a/projects/resnet"
    assert data["ws_path"] == "/ws/teams/team-a/projects/resnet/events"
    assert data["run_url"] == "/team-a/resnet/runs/"
    assert data["user"] == "member@a.example"
    assert data["csrf"]
    # A member tags (its own) runs, deletes its own, and saves views for the team.
    assert data["can_write"] is True
    assert data["can_delete"] is True
    assert data["can_save_views"] is True


def test_the_workspace_api_paths_answer(with_run, member_user):
    """What the page data points at exists and answers the signed-in browser."""
    client = login(member_user)
    data = _page_data(client.get(PAGE))
    runs = client.get(f"{data['api_base']}/runs", {"page_size": 10, "with_total": 1})
    assert runs.status_code == 200 and runs.json()["total"] == 1
    assert client.get(f"{data['api_base']}/views").status_code == 200
    assert client.get(f"{data['run_url']}r1").status_code == 200


def test_viewer_sees_the_workspace_without_write_controls(with_run, viewer_user):
    response = login(viewer_user).get(PAGE)
    assert response.status_code == 200
    data = _page_data(response)
    assert data["can_write"] is False
    assert data["can_delete"] is False
    assert data["can_save_views"] is False


def test_admin_may_delete_any_run(with_run, admin_user):
    data = _page_data(login(admin_user).get(PAGE))
    assert data["can_write"] is True and data["can_delete"] is True


def test_another_teams_project_is_404(with_run, other_team, other_admin):
    client = login(other_admin)
    assert client.get(PAGE).status_code == 404
    # Its own team has no such project either.
    assert client.get("/team-b/resnet/").status_code == 404


def test_public_project_workspace_is_readable_by_outsiders(team, admin_user, other_admin):
    project = make_project(team, "pub", actor=admin_user, visibility="public")
    _log_run(team, project, admin_user)
    response = login(other_admin).get("/team-a/pub/")
    assert response.status_code == 200
    data = _page_data(response)
    assert data["project"] == "pub"
    assert data["can_write"] is False
    assert data["can_delete"] is False
    assert data["can_save_views"] is False
    # The runs it lists are readable too, and saving a view is refused.
    client = login(other_admin)
    assert client.get(f"{data['api_base']}/runs").status_code == 200
    refused = client.post(
        f"{data['api_base']}/views",
        json.dumps({"name": "mine", "spec": {}}),
        content_type="application/json",
    )
    assert refused.status_code in (403, 404)


def test_team_project_is_hidden_from_outsiders_even_with_runs(with_run, other_admin):
    assert login(other_admin).get(PAGE).status_code == 404


def test_browser_saves_a_view_with_session_and_csrf(with_run, member_user):
    """The page's own write path: session cookie + X-CSRFToken from the page data. (A
    POST through session authentication once answered 500: DRF's CSRF check had
    consumed the body before the view read it.)"""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_user)
    data = _page_data(client.get(PAGE))
    url = f"{data['api_base']}/views"
    body = json.dumps({"name": "by optimizer", "spec": {"groupBy": "config.optimizer"}})
    without_token = client.post(url, body, content_type="application/json")
    assert without_token.status_code == 403
    assert without_token.json()["error"]["code"]
    created = client.post(
        url, body, content_type="application/json", headers={"X-CSRFToken": data["csrf"]}
    )
    assert created.status_code == 201, created.content
    assert created.json()["spec"] == {"groupBy": "config.optimizer"}
    listed = client.get(url).json()["views"]
    assert [v["name"] for v in listed] == ["by optimizer"]
    # Bad bodies stay 4xx on this path too.
    for bad in ("[1, 2]", "{not json", '{"name": ""}'):
        answer = client.post(
            url, bad, content_type="application/json", headers={"X-CSRFToken": data["csrf"]}
        )
        assert answer.status_code == 400, (bad, answer.status_code, answer.content)
        assert answer.json()["error"]["code"]


def test_workspace_page_has_no_inline_script_or_style(with_run, member_user):
    response = login(member_user).get(PAGE)
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None
    assert "script-src" in response.headers.get("Content-Security-Policy", "")
