"""Service accounts: non-human members whose team-restricted keys act with the role the
admin chose; managed by admins only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


def _bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _create(admin_user, team, role="member", name="trainer") -> dict:
    response = _session(admin_user).post(
        f"/api/v1/teams/{team.slug}/service-accounts", {"name": name, "role": role}
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_the_first_key_once(admin_user, team):
    body = _create(admin_user, team)
    assert body["role"] == "member" and body["api_key"]["team"] == team.slug
    secret = body["api_key"]["secret"]
    listed = _session(admin_user).get(f"/api/v1/teams/{team.slug}/service-accounts").json()
    assert [(a["name"], a["role"]) for a in listed["results"]] == [("trainer", "member")]
    keys = (
        _session(admin_user)
        .get(f"/api/v1/teams/{team.slug}/service-accounts/{body['id']}/keys")
        .json()
    )
    assert [k["prefix"] for k in keys["results"]] == [secret[:12]]
    assert secret not in str(listed) + str(keys)


def test_key_acts_as_a_non_human_member_with_the_chosen_role(admin_user, team, project):
    member = _bearer(_create(admin_user, team, role="member")["api_key"]["secret"])
    viewer = _bearer(_create(admin_user, team, role="viewer", name="dash")["api_key"]["secret"])
    me = member.get("/api/v1/viewer").json()
    assert me["is_service_account"] and [t["slug"] for t in me["teams"]] == [team.slug]
    assert me["default_team"] == team.slug
    projects = f"/api/v1/teams/{team.slug}/projects"
    assert member.post(projects, {"name": "from-ci"}).status_code == 201
    assert member.delete(f"{projects}/{project.name}").status_code == 403  # admins only
    assert viewer.get(projects).status_code == 200
    assert viewer.post(projects, {"name": "nope"}).status_code == 403
    members = _session(admin_user).get(f"/api/v1/teams/{team.slug}/members").json()["results"]
    flagged = {m["name"]: m["is_service_account"] for m in members}
    assert flagged["trainer"] and flagged["dash"] and not flagged[admin_user.display_name]


def test_role_change_applies_to_its_keys(admin_user, team):
    body = _create(admin_user, team, role="viewer")
    client = _bearer(body["api_key"]["secret"])
    projects = f"/api/v1/teams/{team.slug}/projects"
    assert client.post(projects, {"name": "a"}).status_code == 403
    response = _session(admin_user).patch(
        f"/api/v1/teams/{team.slug}/members/{body['user_id']}", {"role": "member"}
    )
    assert response.status_code == 200
    assert client.post(projects, {"name": "a"}).status_code == 201


def test_service_account_reaches_no_other_team(admin_user, team, other_team, other_admin):
    client = _bearer(_create(admin_user, team, role="admin")["api_key"]["secret"])
    assert client.get(f"/api/v1/teams/{other_team.slug}").status_code == 404
    # It is a member of exactly one team, and cannot make itself another.
    response = client.post("/api/v1/teams", {"slug": "sa-made"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "service_account"


def test_more_keys_and_revocation(admin_user, team):
    body = _create(admin_user, team)
    base = f"/api/v1/teams/{team.slug}/service-accounts/{body['id']}/keys"
    second = _session(admin_user).post(base, {"name": "second"}).json()
    assert second["team"] == team.slug and second["secret"]
    assert _bearer(second["secret"]).get("/api/v1/viewer").status_code == 200
    assert _session(admin_user).delete(f"{base}/{second['id']}").status_code == 204
    assert _bearer(second["secret"]).get("/api/v1/viewer").status_code == 401
    assert _bearer(body["api_key"]["secret"]).get("/api/v1/viewer").status_code == 200
    # A key id of another account under this account's URL is not found.
    other = _create(admin_user, team, name="other")
    other_key = other["api_key"]["id"]
    assert _session(admin_user).delete(f"{base}/{other_key}").status_code == 404


def test_deleting_the_account_kills_its_keys(admin_user, team):
    body = _create(admin_user, team)
    secret = body["api_key"]["secret"]
    url = f"/api/v1/teams/{team.slug}/service-accounts/{body['id']}"
    assert _session(admin_user).delete(url).status_code == 204
    assert _bearer(secret).get("/api/v1/viewer").status_code == 401
    assert not ApiKey.objects.filter(prefix=secret[:12]).exists()
    assert _session(admin_user).delete(url).status_code == 404


def test_service_account_cannot_leave_its_team(admin_user, team):
    client = _bearer(_create(admin_user, team)["api_key"]["secret"])
    assert client.post(f"/api/v1/teams/{team.slug}/leave").status_code == 409


def test_personal_team_has_no_service_accounts(admin_user):
    from apps.teams.models import Membership

    personal = Membership.objects.of_user(admin_user).get(team__is_personal=True).team
    response = _session(admin_user).post(
        f"/api/v1/teams/{personal.slug}/service-accounts", {"name": "x"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize("name", [123, 1.5, True, ["ci"], {"n": "ci"}])
def test_service_account_name_must_be_a_string(admin_user, team, name):
    """DRF would store 123 as "123": a wrong type is the client's bug, refused naming it."""
    response = _session(admin_user).post(
        f"/api/v1/teams/{team.slug}/service-accounts", {"name": name}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["detail"]
    listed = _session(admin_user).get(f"/api/v1/teams/{team.slug}/service-accounts").json()
    assert listed["results"] == []
