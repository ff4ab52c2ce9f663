"""Project visibility: restricted, team, public (read-only to anyone), open (any signed-in
user may log runs), over HTTP. Every project route under each visibility is in
test_route_matrix.py (test_project_visibility_for_outsiders); here, what the data shows."""

from __future__ import annotations

import re

import pytest

from apps.teams.models import AuditEvent
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def _detail(project) -> str:
    return f"/api/v1/teams/{project.team.slug}/projects/{project.name}"


@pytest.fixture
def public_project(team, admin_user):
    return make_project(team, "pub", actor=admin_user, visibility="public")


@pytest.fixture
def open_project(team, admin_user):
    return make_project(team, "community", actor=admin_user, visibility="open")


def _runs(project) -> str:
    return f"{_detail(project)}/runs"


def test_public_project_is_readable_by_anyone(public_project, anon_api, api_for, other_admin):
    assert anon_api.get(_detail(public_project)).status_code == 200
    outsider = api_for(other_admin)
    body = outsider.get(_detail(public_project)).json()
    assert body["name"] == "pub" and body["visibility"] == "public"


def test_public_project_is_read_only_to_outsiders(public_project, anon_api, api_for, other_admin):
    for method in ("patch", "delete"):
        anon = getattr(anon_api, method)(_detail(public_project), {"description": "x"})
        assert anon.status_code == 401
        outsider = getattr(api_for(other_admin), method)(
            _detail(public_project), {"description": "x"}, format="json"
        )
        # Visible to them, so a missing permission is 403 (not 404).
        assert outsider.status_code == 403, outsider.content


def test_public_project_page_renders_for_anonymous(public_project, client):
    response = client.get(f"/{public_project.team.slug}/{public_project.name}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"<h1[^>]*>\s*pub\b", html), html[:500]
    assert "/settings" not in html.split("<main>")[1]  # no settings for a visitor


def test_project_list_of_a_team_is_not_public(public_project, anon_api, api_for, other_admin):
    url = f"/api/v1/teams/{public_project.team.slug}/projects"
    assert anon_api.get(url).status_code == 401
    assert api_for(other_admin).get(url).status_code == 404


def test_open_project_takes_runs_from_any_signed_in_user(
    open_project, api_for, other_admin, viewer_user
):
    outsider = api_for(other_admin)
    created = outsider.post(_runs(open_project), {"id": "outsider-run"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["id"] == "outsider-run"
    # ... but may not change the project, which stays the team's.
    refused = outsider.patch(_detail(open_project), {"description": "mine now"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    # A viewer of the team may do what any signed-in outsider may.
    viewer = api_for(viewer_user).post(_runs(open_project), {"id": "viewer-run"}, format="json")
    assert viewer.status_code == 201, viewer.content
    listed = api_for(other_admin).get(_runs(open_project)).json()["results"]
    assert sorted(run["id"] for run in listed) == ["outsider-run", "viewer-run"]


def test_open_project_refuses_anonymous_writes(open_project, anon_api):
    response = anon_api.post(_runs(open_project), {"id": "anon-run"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    body = anon_api.get(_detail(open_project)).json()
    assert (body["name"], body["visibility"]) == ("community", "open")
    assert anon_api.get(_runs(open_project)).json()["results"] == []


def test_open_project_settings_stay_with_the_team(open_project, api_for, other_admin):
    response = api_for(other_admin).patch(
        _detail(open_project), {"description": "mine now"}, format="json"
    )
    assert response.status_code == 403
    open_project.refresh_from_db()
    assert open_project.description != "mine now"


def test_public_project_does_not_take_runs_from_outsiders(public_project, api_for, other_admin):
    response = api_for(other_admin).post(_runs(public_project), {"id": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert api_for(other_admin).get(_runs(public_project)).json()["results"] == []


def test_team_project_is_hidden_from_outsiders(project, anon_api, api_for, other_admin):
    assert anon_api.get(_detail(project)).status_code == 401
    assert api_for(other_admin).get(_detail(project)).status_code == 404


def test_restricted_project_is_seen_by_admins_and_its_creator_only(
    team, admin_user, member_user, viewer_user, api_for
):
    from apps.teams import services as team_services
    from tests.factories import UserFactory

    other_member = UserFactory(email="member2@a.example")
    team_services.membership_add(team=team, user=other_member, role="member")
    secret = make_project(team, "secret", actor=member_user, visibility="restricted")
    assert api_for(member_user).get(_detail(secret)).status_code == 200
    assert api_for(admin_user).get(_detail(secret)).status_code == 200
    assert api_for(other_member).get(_detail(secret)).status_code == 404
    assert api_for(viewer_user).get(_detail(secret)).status_code == 404
    listed = api_for(other_member).get(f"/api/v1/teams/{team.slug}/projects").json()
    assert "secret" not in [p["name"] for p in listed["results"]]


def test_only_admins_expose_a_project(project, member_user, admin_user, api_for, team):
    for visibility in ("public", "open"):
        response = api_for(member_user).patch(
            _detail(project), {"visibility": visibility}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["error"]["detail"] == {"field": "visibility"}
    created = api_for(member_user).post(
        f"/api/v1/teams/{team.slug}/projects", {"name": "leak", "visibility": "public"}
    )
    assert created.status_code == 403
    # Narrowing is a member's call; it is audited like any visibility change.
    response = api_for(member_user).patch(
        _detail(project), {"visibility": "restricted"}, format="json"
    )
    assert response.status_code == 200
    response = api_for(admin_user).patch(_detail(project), {"visibility": "public"}, format="json")
    assert response.status_code == 200 and response.json()["visibility"] == "public"
    changes = AuditEvent.objects.filter(team=team, action="project.visibility_changed")
    assert [(e.detail["from"], e.detail["to"]) for e in changes.order_by("id")] == [
        ("team", "restricted"),
        ("restricted", "public"),
    ]


def test_missing_project_is_404_for_members(team, api_for, member_user):
    response = api_for(member_user).get(f"/api/v1/teams/{team.slug}/projects/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_key_restricted_to_another_team_only_reads_an_open_project(
    open_project, api_for, other_admin, other_team
):
    """Open projects take runs from signed-in people, not from another team's
    team-restricted keys (a service account of team B stays within team B)."""
    restricted = api_for(other_admin, other_team)
    runs = f"{_detail(open_project)}/runs"
    assert restricted.get(_detail(open_project)).status_code == 200
    assert restricted.post(runs, {"name": "x"}, format="json").status_code == 403
    unrestricted = api_for(other_admin)
    assert unrestricted.post(runs, {"name": "x"}, format="json").status_code == 201
