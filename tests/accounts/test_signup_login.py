"""Sign-up through allauth's real view creates a personal team; logins are audited."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.accounts.models import User
from apps.teams.models import AuditEvent, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _signup(client, email: str):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_signup_creates_a_personal_team_with_the_user_as_admin(client):
    response = _signup(client, "Ada.Lovelace@Example.com")
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(email="ada.lovelace@example.com")
    memberships = list(Membership.objects.of_user(user))
    assert len(memberships) == 1
    personal = memberships[0]
    assert personal.team.is_personal and personal.role == "admin"
    assert personal.team.slug == "ada-lovelace"
    # Signed in right away (verification is optional locally) and lands on the team.
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == f"/{personal.team.slug}/"
    assert any("ada.lovelace@example.com" in m.to for m in mail.outbox)  # verification mail


def test_signup_slug_collision_gets_a_free_slug(client, team):
    # "team-a" is taken by the fixture team; a user called team-a@… gets another slug.
    _signup(client, "team-a@example.com")
    user = User.objects.get(email="team-a@example.com")
    slug = Membership.objects.of_user(user).get().team.slug
    assert slug.startswith("team-a-") and slug != "team-a"


def test_reserved_local_part_does_not_become_a_route_slug(client):
    _signup(client, "api@example.com")
    slug = Membership.objects.of_user(User.objects.get(email="api@example.com")).get().team.slug
    assert slug == "api-team"


def test_duplicate_signup_is_refused(client):
    _signup(client, "dup@example.com")
    client.logout()
    response = _signup(client, "DUP@example.com")
    assert response.status_code == 200  # form re-rendered with the error
    assert User.objects.filter(email="dup@example.com").count() == 1


def test_login_success_and_failure_are_audited_once_each(client):
    user = UserFactory(email="login@example.com")
    before = AuditEvent.objects.count()
    bad = client.post("/accounts/login/", {"login": "login@example.com", "password": "wrong"})
    assert bad.status_code == 200
    failed = AuditEvent.objects.filter(action="login.failed")
    assert failed.count() == 1
    assert failed.get().target == "login@example.com" and failed.get().ip == "127.0.0.1"
    good = client.post("/accounts/login/", {"login": "login@example.com", "password": PASSWORD})
    assert good.status_code == 302
    succeeded = AuditEvent.objects.filter(action="login.succeeded")
    assert succeeded.count() == 1 and succeeded.get().actor == user
    assert AuditEvent.objects.count() == before + 2


def test_failed_login_for_unknown_email_is_audited_without_a_team(client):
    client.post("/accounts/login/", {"login": "ghost@example.com", "password": "x"})
    event = AuditEvent.objects.get(action="login.failed")
    assert event.team is None and event.target == "ghost@example.com"


def test_logout_needs_post(client):
    UserFactory(email="out@example.com")
    client.post("/accounts/login/", {"login": "out@example.com", "password": PASSWORD})
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/teams/").status_code == 302  # signed out: sent to sign in


@pytest.mark.parametrize(
    ("email", "slug"),
    [
        ("under_score@example.com", "under-score"),
        ("plus+tag@example.com", "plus-tag"),
        ("Ünïcödé@example.com", "unicode"),
        ("---@example.com", "user"),
        ("x" * 80 + "@example.com", "x" * 50),
    ],
)
def test_personal_slugs_are_valid_team_slugs(email, slug):
    from apps.teams.services import SLUG_RE

    user = UserFactory(email=email)
    team = Membership.objects.of_user(user).get().team
    assert team.slug == slug and SLUG_RE.match(team.slug)
