"""OIDC single sign-on against a real OpenID provider process (allauth.idp.oidc)."""

from __future__ import annotations

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from apps.accounts.models import User
from apps.sso import secretbox
from apps.sso.models import TeamSSOConfig
from apps.teams.models import AuditEvent, Membership
from apps.teams.selectors import personal_team_of
from tests.factories import UserFactory
from tests.sso import flows

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def oidc(settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    return flows.configure_oidc(team, admin_user, idp_normal)


def _member(team, email):
    return Membership.objects.for_team(team).filter(user__email=email).first()


def test_sign_in_creates_user_with_jit_membership(oidc, idp_normal, team):
    idp_normal.user("bob@a.example")
    client = Client()
    authorize_url = flows.start(client, team.slug)
    params = flows.query(authorize_url)
    # PKCE S256 and the team's own callback in the authorization request.
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["redirect_uri"] == flows.callback_uri(team.slug)
    r = flows.callback(client, flows.authorize(idp_normal.browser("bob@a.example"), authorize_url))
    assert r.status_code == 302, r.content[:800]
    user = User.objects.get(email="bob@a.example")
    assert flows.signed_in_user_id(client) == str(user.pk)
    assert _member(team, "bob@a.example").role == "member"
    assert personal_team_of(user) is not None
    account = SocialAccount.objects.get(user=user)
    assert account.provider == oidc.provider_id
    assert AuditEvent.objects.filter(team=team, action="sso.signed_in", actor=user).exists()
    # A second sign-in finds the same account (by the IdP's subject).
    again = Client()
    flows.sign_in(again, idp_normal, idp_normal.browser("bob@a.example"))
    assert flows.signed_in_user_id(again) == str(user.pk)
    assert User.objects.filter(email="bob@a.example").count() == 1


def test_client_secret_stored_encrypted(oidc):
    raw = TeamSSOConfig.objects.for_team(oidc.team).get().client_secret_encrypted
    assert "rp-secret-123" not in raw
    assert secretbox.unseal(raw) == "rp-secret-123"


def test_group_mapping_sets_roles(settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    flows.configure_oidc(
        team,
        admin_user,
        idp_normal,
        group_roles={"ml-admins": "admin", "readers": "viewer"},
        jit_role="viewer",
    )
    idp_normal.user("ada@a.example", groups=["readers", "ml-admins"])
    idp_normal.user("rex@a.example", groups=["readers"])
    idp_normal.user("nog@a.example", groups=["unmapped"])
    for email in ("ada@a.example", "rex@a.example", "nog@a.example"):
        client = Client()
        flows.sign_in(client, idp_normal, idp_normal.browser(email))
        assert flows.signed_in_user_id(client), email
    assert _member(team, "ada@a.example").role == "admin"  # the most privileged mapped
    assert _member(team, "rex@a.example").role == "viewer"
    assert _member(team, "nog@a.example").role == "viewer"  # jit_role
    # The IdP moves rex to ml-admins: the next sign-in changes the role (audited).
    idp_normal.user("rex@a.example", groups=["ml-admins"])
    flows.sign_in(Client(), idp_normal, idp_normal.browser("rex@a.example"))
    assert _member(team, "rex@a.example").role == "admin"
    assert AuditEvent.objects.filter(
        team=team, action="member.role_changed", target="rex@a.example"
    ).exists()


def test_jit_off_and_no_group_mapped_gives_no_membership(settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    flows.configure_oidc(team, admin_user, idp_normal, jit_role="")
    idp_normal.user("solo@a.example")
    client = Client()
    flows.sign_in(client, idp_normal, idp_normal.browser("solo@a.example"))
    assert flows.signed_in_user_id(client)
    assert _member(team, "solo@a.example") is None


def test_existing_password_account_is_linked_on_verified_email(oidc, idp_normal, team):
    local = UserFactory(email="carol@a.example")
    idp_normal.user("carol@a.example")
    client = Client()
    flows.sign_in(client, idp_normal, idp_normal.browser("carol@a.example"))
    assert flows.signed_in_user_id(client) == str(local.pk)
    assert SocialAccount.objects.filter(user=local).count() == 1


@pytest.mark.parametrize("mode", ["unverified_email", "no_email_verified"])
def test_unverified_email_neither_signs_in_nor_links(oidc, idp_normal, team, mode):
    local = UserFactory(email="dave@a.example")
    idp_normal.user("dave@a.example")
    idp_normal.set_mode(mode)
    client = Client()
    r = flows.sign_in(client, idp_normal, idp_normal.browser("dave@a.example"))
    assert r.status_code == 403
    assert flows.signed_in_user_id(client) is None
    assert not SocialAccount.objects.filter(user=local).exists()
    idp_normal.user("new-unverified@a.example")
    r = flows.sign_in(Client(), idp_normal, idp_normal.browser("new-unverified@a.example"))
    assert r.status_code == 403
    assert not User.objects.filter(email="new-unverified@a.example").exists()
    assert AuditEvent.objects.filter(team=team, action="sso.refused").count() == 2


def test_email_outside_verified_domains_is_refused(oidc, idp_normal, team):
    outsider = UserFactory(email="eve@b.example")
    idp_normal.user("eve@b.example")
    idp_normal.user("mallory@b.example")
    for email in ("eve@b.example", "mallory@b.example"):
        client = Client()
        r = flows.sign_in(client, idp_normal, idp_normal.browser(email))
        assert r.status_code == 403
        assert flows.signed_in_user_id(client) is None
    assert not SocialAccount.objects.filter(user=outsider).exists()
    assert not User.objects.filter(email="mallory@b.example").exists()


def test_code_replay_is_rejected(oidc, idp_normal):
    idp_normal.user("fay@a.example")
    browser = idp_normal.browser("fay@a.example")
    first = Client()
    location = flows.authorize(browser, flows.start(first, "team-a"))
    flows.callback(first, location)
    assert flows.signed_in_user_id(first)
    # The same code and state again: in the same session (state consumed) and in a new
    # session that started its own login (state unknown there).
    first.logout()
    flows.callback(first, location)
    assert flows.signed_in_user_id(first) is None
    second = Client()
    flows.start(second, "team-a")
    flows.callback(second, location)
    assert flows.signed_in_user_id(second) is None


def test_forged_state_is_rejected(oidc, idp_normal):
    idp_normal.user("gus@a.example")
    client = Client()
    location = flows.authorize(idp_normal.browser("gus@a.example"), flows.start(client, "team-a"))
    forged = location.replace(f"state={flows.query(location)['state']}", "state=forged")
    flows.callback(client, forged)
    assert flows.signed_in_user_id(client) is None


def test_unregistered_redirect_uri_is_refused_by_the_idp(oidc, idp_normal):
    idp_normal.user("hal@a.example")
    url = flows.start(Client(), "team-a")
    evil = url.replace(
        requests.utils.quote(flows.callback_uri("team-a"), safe=""),
        requests.utils.quote("http://evil.example/cb", safe=""),
    )
    assert evil != url
    r = idp_normal.browser("hal@a.example").get(evil, allow_redirects=False, timeout=20)
    assert not r.headers.get("Location", "").startswith("http://evil.example")


@pytest.mark.parametrize("verifier", [None, "wrong-verifier-" + "x" * 40])
def test_code_needs_the_pkce_verifier(oidc, idp_normal, verifier):
    idp_normal.user("ivy@a.example")
    location = flows.authorize(idp_normal.browser("ivy@a.example"), flows.start(Client(), "team-a"))
    data = {
        "grant_type": "authorization_code",
        "code": flows.query(location)["code"],
        "redirect_uri": flows.callback_uri("team-a"),
    }
    if verifier:
        data["code_verifier"] = verifier
    r = requests.post(
        idp_normal.discovery()["token_endpoint"],
        data=data,
        auth=(oidc.client_id, "rp-secret-123"),
        timeout=20,
    )
    assert r.status_code == 400, r.text
    assert "access_token" not in r.text


@pytest.mark.parametrize("mode", ["wrong_iss", "wrong_aud", "expired", "alg_none", "unknown_key"])
def test_bad_id_tokens_are_rejected(oidc, idp_normal, mode):
    idp_normal.user("jon@a.example")
    browser = idp_normal.browser("jon@a.example")
    idp_normal.set_mode(mode)
    client = Client()
    r = flows.sign_in(client, idp_normal, browser)
    assert r.status_code < 500
    assert flows.signed_in_user_id(client) is None
    assert not User.objects.filter(email="jon@a.example").exists()


def test_discovery_issuer_must_match(settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    config = flows.configure_oidc(team, admin_user, idp_normal)
    TeamSSOConfig.objects.for_team(team).filter(pk=config.pk).update(
        issuer=idp_normal.discovery_url  # its document names the bare URL as issuer
    )
    r = Client().post("/accounts/sso/team-a/login/")
    assert r.status_code == 502
    assert b"unexpectedly" in r.content
