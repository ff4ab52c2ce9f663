"""Every SCIM route (the `scim:` namespace, classified public in apps/core/policy.py because
the team's SCIM token is the credential): the cross-team rule the route matrix applies to
team routes, written for token-only routes, and the no-500 sweep with the team's own token.
Also the token's settings page and API."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from apps.scim import services as scim_services
from apps.scim.models import ScimToken
from apps.sso.models import VerifiedDomain
from apps.teams.models import AuditEvent
from tests.core.routes import http_routes
from tests.core.test_no_server_errors import BODIES, QUERIES, SAFE, UNSAFE
from tests.factories import make_key

SCIM_ROUTES = sorted((r for r in http_routes() if (r.name or "").startswith("scim:")), key=str)


@pytest.fixture
def scim(team, admin_user, other_team, other_admin):
    VerifiedDomain.objects.for_team(team).create(
        team=team, domain="corp.example", verified_by=admin_user
    )
    _, secret = scim_services.scim_token_create(team=team, name="idp", actor=admin_user)
    _, other_secret = scim_services.scim_token_create(team=other_team, name="b", actor=other_admin)
    token = ScimToken.objects.for_team(team).get()
    user = scim_services.scim_user_create(
        team=team, token=token, data={"userName": "ada@corp.example"}
    )
    return {"secret": secret, "other_secret": other_secret, "user": user, "team": team}


def _kwargs(route, scim, team_slug=None) -> dict:
    values = {
        "team_slug": team_slug or scim["team"].slug,
        "user_id": str(scim["user"].pk),
        "group_id": "admin",
        "name": "User",
        "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User",
    }
    return {k: values[k] for k in route.kwargs}


def test_every_scim_route_is_classified_and_covered():
    assert len(SCIM_ROUTES) == 10
    assert all(r.kwargs[0] == "team_slug" for r in SCIM_ROUTES)


@pytest.mark.parametrize("route", SCIM_ROUTES, ids=lambda r: r.name)
def test_other_team_token_no_token_and_other_credentials_are_refused(route, scim, admin_user):
    url = reverse(route.name, kwargs=_kwargs(route, scim))
    client = Client()
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"]:
        other = client.generic(
            method, url, "{}", "application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {scim['other_secret']}",
        )  # fmt: skip
        assert other.status_code == 404, (method, other.content)
        assert client.generic(method, url, "{}", "application/scim+json").status_code == 401
        key = client.generic(
            method, url, "{}", "application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {make_key(admin_user)}",
        )  # fmt: skip
        assert key.status_code == 401
    session = Client()
    session.force_login(admin_user)
    assert session.get(url).status_code == 401
    assert session.post(url, "{}", "application/scim+json").status_code == 401
    # The team's own token is served on reads (no 401/404) where the route has a GET.
    own = client.get(url, HTTP_AUTHORIZATION=f"Bearer {scim['secret']}")
    assert own.status_code in (200, 404 if route.name == "scim:root" else 200)


@pytest.mark.parametrize("route", SCIM_ROUTES, ids=lambda r: r.name)
def test_bad_input_never_answers_500(route, scim):
    url = reverse(route.name, kwargs=_kwargs(route, scim))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {scim['secret']}")
    cases = [(m, q, "") for m in SAFE for q in QUERIES]
    cases += [(m, "", b) for m in UNSAFE for b in BODIES]
    cases += [(m, q, "{}") for m in UNSAFE for q in QUERIES[1:]]
    cases += [("GET", "?filter=" + f, "") for f in ["%00", "(((", 'userName eq "a" or', "x" * 2000]]
    cases += [("PATCH", "", '{"Operations": [{"op": "remove", "path": "members[value eq 1]"}]}')]
    failures = []
    for method, query, body in cases:
        with transaction.atomic():
            response = client.generic(method, url + query, body, "application/scim+json")
            transaction.set_rollback(True)
        if response.status_code >= 500:
            failures.append(f"{method} {url}{query} {body[:60]!r}: {response.status_code}")
        elif response.status_code >= 400:
            assert response["Content-Type"].startswith("application/scim+json"), response
    assert not failures, "\n".join(failures)


def test_settings_page_creates_shows_once_and_revokes(team, admin_user, settings):
    settings.REAUTHENTICATE_SENSITIVE_ACTIONS = False
    client = Client()
    client.force_login(admin_user)
    sso_page = client.get(reverse("web:team-sso", kwargs={"team": team.slug}))
    assert reverse("web:team-scim", kwargs={"team": team.slug}).encode() in sso_page.content
    url = reverse("web:team-scim", kwargs={"team": team.slug})
    page = client.get(url)
    assert page.status_code == 200
    assert b"/scim/v2/teams/team-a/" in page.content
    created = client.post(url, {"name": "okta"})
    assert created.status_code == 200
    token = ScimToken.objects.for_team(team).get()
    secret = created.context["new_secret"]
    assert secret.startswith("glscim-") and secret.encode() in created.content
    assert token.digest != secret and secret not in token.digest
    assert secret.encode() not in client.get(url).content  # shown once
    htmx = client.post(url, {"name": "entra"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and b"<html" not in htmx.content
    assert htmx.context["new_secret"].encode() in htmx.content
    assert b'id="scim-tokens"' in htmx.content
    token = ScimToken.objects.for_team(team).get(name="okta")
    revoke = reverse(
        "web:team-scim-token-revoke", kwargs={"team": team.slug, "scim_token_id": token.pk}
    )
    assert client.post(revoke).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert list(
        ScimToken.objects.for_team(team).filter(revoked_at=None).values_list("name", flat=True)
    ) == ["entra"]
    actions = set(AuditEvent.objects.filter(team=team).values_list("action", flat=True))
    assert {"scim.token_created", "scim.token_revoked"} <= actions


def test_token_api(admin_api, team, api_for, member_user):
    url = reverse("api:scim-token-list", kwargs={"team": team.slug})
    created = admin_api.post(url, {"name": "entra"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("glscim-") and body["base_url"].endswith(
        "/scim/v2/teams/team-a/"
    )
    listed = admin_api.get(url).json()["results"]
    assert [t["prefix"] for t in listed] == [body["prefix"]] and "token" not in listed[0]
    assert admin_api.post(url, {"name": ""}, format="json").status_code == 400
    assert api_for(member_user).post(url, {"name": "x"}, format="json").status_code == 403
    detail = reverse(
        "api:scim-token-detail", kwargs={"team": team.slug, "scim_token_id": body["id"]}
    )
    assert admin_api.delete(detail).status_code == 204
    assert admin_api.delete(detail).status_code == 404
