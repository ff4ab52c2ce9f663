"""Helpers for the SSO tests: a team with OIDC against the test IdP, and the sign-in
round trip (our server -> IdP in a browser session -> our callback)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit

from allauth.account.models import EmailAddress

from apps.sso import services

HOST = "http://testserver"


def callback_uri(team_slug: str) -> str:
    return f"{HOST}/accounts/sso/{team_slug}/oidc/callback/"


def verify_email(user) -> None:
    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def configure_oidc(team, admin, idp, *, domain="a.example", **data):
    """OIDC for `team` against `idp` (a fresh client there), `domain` verified."""
    client_id = f"gl-{uuid.uuid4().hex[:10]}"
    idp.client(client_id, "rp-secret-123", [callback_uri(team.slug)])
    config = services.sso_config_save(
        team=team,
        data={
            "protocol": "oidc",
            "issuer": idp.url,
            "client_id": client_id,
            "client_secret": "rp-secret-123",
            **data,
        },
        actor=admin,
    )
    if domain:
        verify_email(admin)
        services.domain_add(team=team, domain=domain, actor=admin)
    return config


def start(client, team_slug: str, next_url: str | None = None) -> str:
    """POST our sign-in; the authorize URL at the IdP it redirects to."""
    data = {"next": next_url} if next_url else {}
    r = client.post(f"/accounts/sso/{team_slug}/login/", data)
    assert r.status_code == 302, (r.status_code, r.content[:500])
    return r["Location"]


def authorize(browser, authorize_url: str) -> str:
    """The IdP's redirect back (to our callback) for a signed-in browser."""
    r = browser.get(authorize_url, allow_redirects=False, timeout=20)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    return r.headers["Location"]


def callback(client, location: str):
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == HOST, location
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client, idp, browser, team_slug: str = "team-a", next_url: str | None = None):
    return callback(client, authorize(browser, start(client, team_slug, next_url)))


def query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")
