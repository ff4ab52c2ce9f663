"""API keys: shown once, stored as prefix + digest, Bearer and Basic, revocation,
team restriction, and no way for a key to mint a wider one."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from apps.accounts import keys
from apps.accounts.models import ApiKey
from tests.factories import make_key, make_service_account

pytestmark = pytest.mark.django_db


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _basic(secret: str) -> APIClient:
    client = APIClient()
    token = base64.b64encode(f"api:{secret}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


def _session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_key_format_and_checksum():
    secret = keys.generate_key()
    assert secret.startswith("gl-") and len(secret) == 43
    assert keys.is_well_formed(secret)
    body = secret[3:]
    assert body.isalnum()
    typo = secret[:10] + ("A" if secret[10] != "A" else "B") + secret[11:]
    assert not keys.is_well_formed(typo)


def test_create_shows_the_secret_once_and_lists_only_the_prefix(admin_user, team):
    client = _session(admin_user)
    created = client.post("/api/v1/keys", {"name": "laptop"})
    assert created.status_code == 201
    body = created.json()
    secret = body["secret"]
    assert keys.is_well_formed(secret) and secret.startswith(body["prefix"])
    assert body["team"] is None and body["last_used_at"] is None
    listed = client.get("/api/v1/keys").json()
    assert listed["next"] is None
    laptop = next(k for k in listed["results"] if k["name"] == "laptop")
    assert "secret" not in laptop and laptop["prefix"] == body["prefix"]
    assert secret not in str(listed)
    row = ApiKey.objects.get(pk=body["id"])
    assert row.digest != secret and secret not in (row.digest, row.prefix)
    assert row.digest == keys.digest(secret)


@pytest.mark.parametrize("auth", [_bearer, _basic], ids=["bearer", "basic"])
def test_key_authenticates_as_its_user(auth, admin_user, team):
    secret = make_key(admin_user)
    response = auth(secret).get("/api/v1/viewer")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == admin_user.email
    assert {t["slug"] for t in body["teams"]} >= {"team-a"}
    assert body["api_key"]["prefix"] == secret[:12]
    assert ApiKey.objects.get(prefix=secret[:12]).last_used_at is not None


def test_revoked_key_answers_401_on_the_next_request(admin_user, team):
    secret = make_key(admin_user)
    client = _bearer(secret)
    key_id = client.get("/api/v1/viewer").json()["api_key"]["id"]
    assert client.delete(f"/api/v1/keys/{key_id}").status_code == 204
    after = client.get("/api/v1/viewer")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "not_authenticated"
    assert _basic(secret).get(f"/api/v1/teams/{team.slug}").status_code == 401
    # Revoked keys are gone from the list; revoking twice is a 404.
    assert key_id not in [
        k["id"] for k in _session(admin_user).get("/api/v1/keys").json()["results"]
    ]
    assert _session(admin_user).delete(f"/api/v1/keys/{key_id}").status_code == 404


def test_another_users_key_cannot_be_revoked(admin_user, member_user, team):
    secret = make_key(admin_user)
    key_id = _bearer(secret).get("/api/v1/viewer").json()["api_key"]["id"]
    assert _session(member_user).delete(f"/api/v1/keys/{key_id}").status_code == 404
    assert _bearer(secret).get("/api/v1/viewer").status_code == 200


def test_inactive_user_key_is_refused(admin_user, team):
    secret = make_key(admin_user)
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    assert _bearer(secret).get("/api/v1/viewer").status_code == 401


def test_team_restricted_key_reaches_only_its_team(admin_user, team, other_team, other_admin):
    from apps.teams import services as team_services

    third = team_services.team_create(creator=admin_user, slug="team-c")
    secret = make_key(admin_user, team=team)
    client = _bearer(secret)
    assert client.get(f"/api/v1/teams/{team.slug}").status_code == 200
    assert client.get(f"/api/v1/teams/{third.slug}").status_code == 404
    assert [t["slug"] for t in client.get("/api/v1/viewer").json()["teams"]] == ["team-a"]


def test_restricted_key_cannot_mint_a_wider_key(admin_user, team):
    from apps.teams import services as team_services

    team_services.team_create(creator=admin_user, slug="team-c")
    client = _bearer(make_key(admin_user, team=team))
    minted = client.post("/api/v1/keys", {"name": "wider"})
    assert minted.status_code == 201 and minted.json()["team"] == "team-a"
    assert client.post("/api/v1/keys", {"name": "other", "team": "team-c"}).status_code == 404
    new = _bearer(minted.json()["secret"])
    assert new.get("/api/v1/teams/team-c").status_code == 404
    # It sees and revokes only keys of its own team.
    personal = make_key(admin_user)
    personal_id = _bearer(personal).get("/api/v1/viewer").json()["api_key"]["id"]
    assert personal_id not in [k["id"] for k in client.get("/api/v1/keys").json()["results"]]
    assert client.delete(f"/api/v1/keys/{personal_id}").status_code == 404


def test_key_for_a_team_the_user_is_not_in_is_refused(admin_user, team, other_team):
    response = _session(admin_user).post("/api/v1/keys", {"name": "x", "team": other_team.slug})
    assert response.status_code == 404
    assert response.json()["error"]["detail"] == {"field": "team"}


def test_service_account_cannot_make_its_own_keys(admin_user, team):
    _, secret = make_service_account(team, admin_user)
    response = _bearer(secret).post("/api/v1/keys", {"name": "escape"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "service_account"


def test_key_list_is_paginated(admin_user, team):
    for _ in range(5):
        make_key(admin_user)
    client = _session(admin_user)
    first = client.get("/api/v1/keys?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    seen = [k["id"] for k in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [k["id"] for k in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == ApiKey.objects.filter(user=admin_user).count()
