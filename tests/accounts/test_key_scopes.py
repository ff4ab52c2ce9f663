"""Scoped API keys (apps.core.access.open_scope is the one place they are enforced):
a read-only key is refused every write, a project-limited key is a stranger outside its
projects, an expired key is refused at authentication. Driven from the policy table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.accounts.models import ApiKey
from apps.core import policy
from apps.teams import roles
from tests.core import test_route_matrix as matrix
from tests.core.test_route_matrix import SCOPED, _call, _methods, _url
from tests.factories import make_service_account

API_SCOPED = [route for route in SCOPED if route.is_api]

world = matrix.world  # the access matrix's team A / team B fixture


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _status(client, method: str, url: str) -> int:
    with transaction.atomic():
        status = _call(client, method, url, True).status_code
        transaction.set_rollback(True)
    return status


def _writes():
    for route in API_SCOPED:
        for method in _methods(route):
            permission = policy.ROUTES[route.name].permission_for(method)[1]
            if permission is not None and permission not in roles.READ:
                yield route, method


def test_read_only_key_gets_403_on_every_write_route(world):
    _, secret = account_services.api_key_create(user=world.admin, name="ro", read_only=True)
    _, sa_secret = make_service_account(world.team, world.admin, name="ro-ci", role="admin")
    sa_key = ApiKey.objects.get(user__service_account__name="ro-ci")
    _, sa_ro_secret = account_services.api_key_create(
        user=sa_key.user, name="ro", team=world.team, created_by=world.admin, read_only=True
    )
    failures, checked = [], 0
    for route, method in _writes():
        url = _url(route, world)
        for who, key in (("personal", secret), ("service account", sa_ro_secret)):
            checked += 1
            status = _status(_bearer(key), method, url)
            if status != 403:
                failures.append(f"{method} {url} ({who}): {status}")
    assert checked > 20
    assert not failures, "read-only key served a write:\n" + "\n".join(failures)
    # Reads still work, and the same account's full key writes.
    reads = _bearer(secret).get(f"/api/v1/teams/{world.team.slug}/projects")
    assert reads.status_code == 200
    created = _bearer(sa_secret).post(
        f"/api/v1/teams/{world.team.slug}/projects", {"name": "fresh"}, format="json"
    )
    assert created.status_code == 201


def test_read_only_key_cannot_write_user_routes_or_mint_a_writable_key(world):
    _, secret = account_services.api_key_create(user=world.admin, name="ro", read_only=True)
    client = _bearer(secret)
    assert client.post("/api/v1/teams", {"slug": "new-team"}, format="json").status_code == 403
    assert client.post("/api/v1/keys", {"name": "wider"}, format="json").status_code == 403
    assert client.get("/api/v1/keys").status_code == 200


def test_project_limited_key_gets_404_on_other_projects_routes(world):
    _, secret = account_services.api_key_create(
        user=world.admin, name="only-bert", team=world.team, projects=["bert"]
    )
    client = _bearer(secret)
    failures = []
    for route in API_SCOPED:
        url = _url(route, world)  # team A's project "resnet" or a team-wide route
        for method in _methods(route):
            status = _status(client, method, url)
            if status != 404:
                failures.append(f"{method} {url}: {status}")
    assert not failures, "project-limited key reached another project:\n" + "\n".join(failures)
    # Its own project: created on first use and then served.
    runs = f"/api/v1/teams/{world.team.slug}/projects/bert/runs"
    assert client.post(runs, {}, format="json").status_code == 201
    assert client.get(runs).status_code == 200
    assert client.get(f"/api/v1/teams/{world.team.slug}/projects/bert").status_code == 200


def test_project_limits_need_a_team_and_valid_names(world):
    client = APIClient()
    client.force_login(world.admin)
    no_team = client.post("/api/v1/keys", {"name": "k", "projects": ["bert"]}, format="json")
    assert no_team.status_code == 400 and no_team.json()["error"]["detail"]["field"] == "projects"
    bad = client.post(
        "/api/v1/keys",
        {"name": "k", "team": world.team.slug, "projects": ["../x"]},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "projects"
    body = client.post(
        "/api/v1/keys",
        {"name": "k", "team": world.team.slug, "projects": ["bert"], "read_only": True},
        format="json",
    ).json()
    assert (body["projects"], body["read_only"], body["team"]) == (["bert"], True, world.team.slug)


def test_expired_key_gets_401(world):
    expires = timezone.now() + timedelta(days=1)
    api_key, secret = account_services.api_key_create(
        user=world.admin, name="short", expires_at=expires
    )
    client = _bearer(secret)
    assert client.get("/api/v1/viewer").status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/viewer")
    assert response.status_code == 401
    assert client.get(f"/api/v1/teams/{world.team.slug}/projects").status_code == 401


def test_expiry_must_be_in_the_future(world):
    client = APIClient()
    client.force_login(world.admin)
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = client.post("/api/v1/keys", {"name": "k", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["field"] == "expires_at"


def test_a_scoped_key_mints_only_narrower_keys(world):
    expires = timezone.now() + timedelta(days=2)
    _, secret = account_services.api_key_create(
        user=world.admin, name="s", team=world.team, projects=["bert"], expires_at=expires
    )
    body = (
        _bearer(secret)
        .post("/api/v1/keys", {"name": "child", "projects": ["bert", "other"]}, format="json")
        .json()
    )
    assert body["projects"] == ["bert"] and body["team"] == world.team.slug
    assert body["expires_at"] is not None


@pytest.mark.parametrize("scope", ["read_only", "projects"])
def test_service_account_keys_take_the_same_scopes(world, scope):
    account, _ = make_service_account(world.team, world.admin, name="scoped", role="member")
    client = APIClient()
    client.force_login(world.admin)
    data = (
        {"name": "k", "read_only": True}
        if scope == "read_only"
        else {"name": "k", "projects": ["bert"]}
    )
    created = client.post(
        f"/api/v1/teams/{world.team.slug}/service-accounts/{account.pk}/keys", data, format="json"
    )
    assert created.status_code == 201
    key = _bearer(created.json()["secret"])
    resnet = f"/api/v1/teams/{world.team.slug}/projects/{world.project.name}/runs"
    if scope == "read_only":
        assert key.get(resnet).status_code == 200
        assert key.post(resnet, {}, format="json").status_code == 403
    else:
        assert key.get(resnet).status_code == 404


def test_service_account_page_makes_a_scoped_first_key(world):
    from django.test import Client

    web = Client()
    web.force_login(world.admin)
    response = web.post(
        f"/{world.team.slug}/settings/service-accounts",
        {
            "name": "nightly",
            "role": "member",
            "read_only": "on",
            "projects": "bert, resnet",
            "expires_in_days": "30",
        },
    )
    assert response.status_code == 200  # the page, showing the new key's secret once
    key = ApiKey.objects.get(user__service_account__name="nightly")
    assert key.read_only and key.projects == ["bert", "resnet"] and key.expires_at is not None
    page = web.get(f"/{world.team.slug}/settings/service-accounts").text
    assert "read-only · bert, resnet · expires" in page
    bad = web.post(
        f"/{world.team.slug}/settings/service-accounts",
        {"name": "bad", "role": "member", "expires_in_days": "3"},
    )
    assert bad.status_code == 400 and not ApiKey.objects.filter(name="bad key").exists()
