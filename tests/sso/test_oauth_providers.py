"""Instance-wide sign-in providers: a generic OpenID Connect issuer (allauth's IdP in a
second process) enabled by configuration, and account linking that never links on an
unverified email — neither the provider's nor the local account's."""

from __future__ import annotations

import uuid

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from apps.accounts.models import User
from apps.teams.selectors import personal_team_of
from tests.factories import UserFactory
from tests.sso import flows

CALLBACK = "http://testserver/accounts/oidc/oidc/login/callback/"


@pytest.fixture
def instance_oidc(db, settings, idp_normal):
    client_id = f"inst-{uuid.uuid4().hex[:8]}"
    idp_normal.client(client_id, "inst-secret", [CALLBACK])
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": "Corporate SSO",
                    "client_id": client_id,
                    "secret": "inst-secret",
                    "settings": {"server_url": idp_normal.url},
                }
            ],
        }
    }
    return idp_normal


def sign_in(client, idp, email):
    r = client.post("/accounts/oidc/oidc/login/")
    assert r.status_code == 302 and r["Location"].startswith(idp.url), r.status_code
    assert flows.query(r["Location"])["code_challenge_method"] == "S256"
    return flows.callback(client, flows.authorize(idp.browser(email), r["Location"]))


def test_login_page_offers_the_configured_provider(instance_oidc):
    assert b"Corporate SSO" in Client().get("/accounts/login/").content


def test_not_configured_is_404(db):
    assert Client().post("/accounts/oidc/oidc/login/").status_code == 404
    assert Client().post("/accounts/oidc/gl-team-1/login/").status_code == 404


def test_new_user_signs_up_with_a_personal_team(instance_oidc):
    instance_oidc.user("nia@elsewhere.example")
    client = Client()
    sign_in(client, instance_oidc, "nia@elsewhere.example")
    user = User.objects.get(email="nia@elsewhere.example")
    assert flows.signed_in_user_id(client) == str(user.pk)
    assert personal_team_of(user) is not None


def test_verified_on_both_sides_links(instance_oidc):
    local = UserFactory(email="oli@elsewhere.example")
    flows.verify_email(local)
    instance_oidc.user("oli@elsewhere.example")
    client = Client()
    sign_in(client, instance_oidc, "oli@elsewhere.example")
    assert flows.signed_in_user_id(client) == str(local.pk)
    assert SocialAccount.objects.filter(user=local).exists()


@pytest.mark.parametrize("mode", ["unverified_email", "no_email_verified"])
def test_provider_not_vouching_never_links(instance_oidc, mode):
    local = UserFactory(email="pam@elsewhere.example")
    flows.verify_email(local)
    instance_oidc.user("pam@elsewhere.example")
    instance_oidc.set_mode(mode)
    client = Client()
    sign_in(client, instance_oidc, "pam@elsewhere.example")
    assert flows.signed_in_user_id(client) != str(local.pk)
    assert not SocialAccount.objects.filter(user=local).exists()
    assert User.objects.filter(email__iexact="pam@elsewhere.example").count() == 1


def test_unverified_local_account_is_not_joined(instance_oidc):
    """Someone registered the address first without confirming it: the real owner's
    provider sign-in must not land in that account."""
    squatter = UserFactory(email="quinn@elsewhere.example")
    EmailAddress.objects.filter(user=squatter).update(verified=False)
    instance_oidc.user("quinn@elsewhere.example")
    client = Client()
    sign_in(client, instance_oidc, "quinn@elsewhere.example")
    assert flows.signed_in_user_id(client) != str(squatter.pk)
    assert not SocialAccount.objects.filter(user=squatter).exists()


# --- GitHub (its OAuth endpoints served by tests/sso/fake_oauth.py) ----------------------


@pytest.fixture
def github(db, settings, monkeypatch):
    from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter

    from tests.sso.fake_oauth import FakeGitHub

    fake = FakeGitHub().start()
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    settings.SOCIALACCOUNT_QUERY_EMAIL = True
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {"APPS": [{"client_id": "gh-client", "secret": "gh-secret"}],
                   "OAUTH_PKCE_ENABLED": True}
    }  # fmt: skip
    # allauth reads GITHUB_URL when it imports the adapter; point its URLs at the fake.
    for name, path in (
        ("access_token_url", "/login/oauth/access_token"),
        ("authorize_url", "/login/oauth/authorize"),
        ("profile_url", "/api/v3/user"),
        ("emails_url", "/api/v3/user/emails"),
    ):
        monkeypatch.setattr(GitHubOAuth2Adapter, name, fake.url + path)
    yield fake
    fake.stop()


def oauth_sign_in(client, fake, provider: str = "github"):
    """Start at our login URL, let the fake provider authorize, follow its redirect back."""
    import requests

    r = client.post(f"/accounts/{provider}/login/")
    assert r.status_code == 302 and r["Location"].startswith(fake.url), r.status_code
    assert flows.query(r["Location"])["code_challenge_method"] == "S256"
    back = requests.get(r["Location"], allow_redirects=False, timeout=10).headers["Location"]
    return flows.callback(client, back)


def test_github_links_only_a_verified_email(github):
    local = UserFactory(email="ray@gh.example")
    flows.verify_email(local)
    github.emails = [{"email": "ray@gh.example", "primary": True, "verified": False}]
    client = Client()
    oauth_sign_in(client, github)
    assert flows.signed_in_user_id(client) != str(local.pk)
    assert not SocialAccount.objects.filter(user=local).exists()

    github.emails = [{"email": "ray@gh.example", "primary": True, "verified": True}]
    client = Client()
    oauth_sign_in(client, github)
    assert flows.signed_in_user_id(client) == str(local.pk)
    assert SocialAccount.objects.get(user=local).provider == "github"


def test_github_new_user(github):
    github.profile = {**github.profile, "id": 77, "login": "sam"}
    github.emails = [{"email": "sam@gh.example", "primary": True, "verified": True}]
    client = Client()
    oauth_sign_in(client, github)
    user = User.objects.get(email="sam@gh.example")
    assert flows.signed_in_user_id(client) == str(user.pk)
    assert personal_team_of(user) is not None


# --- GitLab (self-hosted at the fake's URL: the OAUTH_GITLAB_URL setting's path) --------


@pytest.fixture
def gitlab(db, settings):
    from tests.sso.fake_oauth import FakeGitLab

    fake = FakeGitLab().start()
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    app = {"client_id": "gl-client", "secret": "gl-secret", "settings": {"gitlab_url": fake.url}}
    settings.SOCIALACCOUNT_PROVIDERS = {"gitlab": {"APPS": [app], "OAUTH_PKCE_ENABLED": True}}
    yield fake
    fake.stop()


def test_gitlab_new_user_signs_up(gitlab):
    gitlab.profile = {**gitlab.profile, "email": "kai@gl.example"}
    client = Client()
    oauth_sign_in(client, gitlab, "gitlab")
    user = User.objects.get(email="kai@gl.example")
    assert flows.signed_in_user_id(client) == str(user.pk)
    assert SocialAccount.objects.get(user=user).provider == "gitlab"
    assert personal_team_of(user) is not None


def test_gitlab_never_links_an_existing_account(gitlab):
    """GitLab's user API does not say that its email was confirmed: an existing account
    with that (verified) address is never signed in to nor linked."""
    local = UserFactory(email="ray@gl.example")
    flows.verify_email(local)
    gitlab.profile = {**gitlab.profile, "email": "ray@gl.example"}
    client = Client()
    oauth_sign_in(client, gitlab, "gitlab")
    assert flows.signed_in_user_id(client) != str(local.pk)
    assert not SocialAccount.objects.filter(user=local).exists()


# --- Google (its authorize and token endpoints, the ID token in the token answer) -------


@pytest.fixture
def google(db, settings, monkeypatch):
    from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter

    from tests.sso.fake_oauth import FakeGoogle

    fake = FakeGoogle("gg-client").start()
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    app = {"client_id": "gg-client", "secret": "gg-secret"}
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": [app], "OAUTH_PKCE_ENABLED": True}}
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", fake.url + fake.authorize_path)
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", fake.url + fake.token_path)
    yield fake
    fake.stop()


def test_google_links_only_a_verified_email(google):
    local = UserFactory(email="ada@gg.example")
    flows.verify_email(local)
    google.claims |= {"email": "ada@gg.example", "email_verified": False}
    client = Client()
    oauth_sign_in(client, google, "google")
    assert flows.signed_in_user_id(client) != str(local.pk)
    assert not SocialAccount.objects.filter(user=local).exists()

    google.claims |= {"email_verified": True}
    client = Client()
    oauth_sign_in(client, google, "google")
    assert flows.signed_in_user_id(client) == str(local.pk)
    assert SocialAccount.objects.get(user=local).provider == "google"


def test_google_new_user_signs_up(google):
    google.claims |= {"sub": "42", "email": "lin@gg.example", "email_verified": True}
    client = Client()
    oauth_sign_in(client, google, "google")
    user = User.objects.get(email="lin@gg.example")
    assert flows.signed_in_user_id(client) == str(user.pk)
    assert personal_team_of(user) is not None
