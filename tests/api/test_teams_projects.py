"""Team and project endpoints: create, list, update, delete, with pagination."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.projects.models import Project
from apps.teams.models import Membership, Team
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_viewer_describes_the_caller(admin_api, admin_user, team):
    body = admin_api.get("/api/v1/viewer").json()
    assert body["email"] == admin_user.email and not body["is_service_account"]
    roles = {t["slug"]: (t["role"], t["is_personal"]) for t in body["teams"]}
    assert roles["team-a"] == ("admin", False)
    personal = [slug for slug, (_, is_personal) in roles.items() if is_personal]
    assert body["default_team"] == personal[0]


def test_create_team_makes_the_creator_admin(member_user):
    client = _session(member_user)
    response = client.post("/api/v1/teams", {"slug": "vision", "name": "Vision"})
    assert response.status_code == 201
    assert response.json()["role"] == "admin" and response.json()["name"] == "Vision"
    team = Team.objects.get(slug="vision")
    assert Membership.objects.for_team(team).get(user=member_user).role == "admin"
    assert client.post("/api/v1/teams", {"slug": "vision"}).status_code == 409
    slugs = [t["slug"] for t in client.get("/api/v1/teams").json()["results"]]
    assert "vision" in slugs and "team-a" in slugs


def test_rename_and_delete_team(admin_user, team, project):
    client = _session(admin_user)
    url = f"/api/v1/teams/{team.slug}"
    response = client.patch(url, {"name": "Team Alpha"})
    assert response.status_code == 200 and response.json()["name"] == "Team Alpha"
    assert client.patch(url, {"name": ""}).status_code == 400
    assert client.delete(url).status_code == 204
    assert not Team.objects.filter(slug="team-a").exists()
    assert client.get(url).status_code == 404


def test_personal_team_cannot_be_deleted(admin_user):
    personal = Membership.objects.of_user(admin_user).get(team__is_personal=True).team
    response = _session(admin_user).delete(f"/api/v1/teams/{personal.slug}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "personal_team"


def test_project_crud(member_user, admin_user, team):
    client = _session(member_user)
    base = f"/api/v1/teams/{team.slug}/projects"
    created = client.post(base, {"name": "bert", "description": "language model"})
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "name": "bert",
        "team": "team-a",
        "description": "language model",
        "visibility": "team",
        "created_at": None,
        "updated_at": None,
    }
    assert client.post(base, {"name": "bert"}).status_code == 409
    renamed = client.patch(f"{base}/bert", {"name": "bert-large", "description": ""})
    assert renamed.status_code == 200 and renamed.json()["name"] == "bert-large"
    assert client.get(f"{base}/bert").status_code == 404
    assert client.delete(f"{base}/bert-large").status_code == 403  # admins delete
    assert _session(admin_user).delete(f"{base}/bert-large").status_code == 204
    assert not Project.objects.for_team(team).filter(name="bert-large").exists()


def test_rename_onto_an_existing_project_is_409(admin_user, team, project):
    make_project(team, "other", actor=admin_user)
    response = _session(admin_user).patch(
        f"/api/v1/teams/{team.slug}/projects/other", {"name": project.name}
    )
    assert response.status_code == 409


def test_project_list_pages_without_repeats(admin_user, team):
    for n in range(7):
        make_project(team, f"p{n}", actor=admin_user)
    client = _session(admin_user)
    names, url = [], f"/api/v1/teams/{team.slug}/projects?limit=3"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 3
        names += [p["name"] for p in page["results"]]
        url = page["next"]
    assert sorted(names) == sorted(f"p{n}" for n in range(7))


def test_same_project_name_in_two_teams(admin_user, team, other_team, other_admin, project):
    make_project(other_team, project.name, actor=other_admin)
    mine = _session(admin_user).get(f"/api/v1/teams/{team.slug}/projects/{project.name}")
    theirs = _session(other_admin).get(f"/api/v1/teams/{other_team.slug}/projects/{project.name}")
    assert mine.json()["team"] == "team-a" and theirs.json()["team"] == "team-b"


def test_a_team_restricted_key_cannot_create_teams(member_user, team):
    from tests.conftest import client_for

    restricted = client_for(member_user, team)
    response = restricted.post("/api/v1/teams", {"slug": "escape"}, format="json")
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "key_team_restricted" and "restricted to one team" in error["message"]
    assert not Team.objects.filter(slug="escape").exists()
    # An unrestricted personal key and a session still can.
    response = client_for(member_user).post("/api/v1/teams", {"slug": "vision"}, format="json")
    assert response.status_code == 201, response.content
    assert _session(member_user).post("/api/v1/teams", {"slug": "audio"}).status_code == 201


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/teams", {"slug": 42}, "slug"),
        ("/api/v1/teams", {"slug": "ok-team", "name": 7}, "name"),
        ("/api/v1/teams/team-a/projects", {"name": 99}, "name"),
        ("/api/v1/teams/team-a/projects", {"name": "p", "description": False}, "description"),
        ("/api/v1/keys", {"name": 5}, "name"),
    ],
)
def test_string_fields_refuse_other_types(admin_api, team, url, body, field):
    response = admin_api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"], response.content
