"""The team require-MFA policy (apps.teams.mfa): members without a second factor are sent
to enrolment (web), refused with 403 `mfa_required` (API sessions), cannot create keys or
accept invitations; API keys made before keep working. Switching it is audited."""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from rest_framework.test import APIClient

from apps.teams import services as team_services
from apps.teams.models import AuditEvent, Membership
from tests.factories import UserFactory, make_key


def _with_totp(user):
    TOTP.activate(user, generate_totp_secret())
    return user


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _require(team, admin):
    _with_totp(admin)
    team_services.team_set_require_mfa(team=team, require_mfa=True, actor=admin)


def test_member_without_mfa_is_sent_to_enrolment(team, admin_user, member_user, project):
    key = make_key(member_user)  # made before the policy
    _require(team, admin_user)
    web = Client()
    web.force_login(member_user)
    page = web.get(f"/{team.slug}/", follow=False)
    assert page.status_code == 302 and page["Location"] == "/accounts/2fa/"
    enrol = web.get("/accounts/2fa/")
    assert enrol.status_code == 200 and "requires two-factor authentication" in enrol.text
    api = _api(member_user).get(f"/api/v1/teams/{team.slug}/projects")
    assert api.status_code == 403 and api.json()["error"]["code"] == "mfa_required"
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get(f"/api/v1/teams/{team.slug}/projects").status_code == 200
    # Other teams of the member are not affected.
    personal = web.get("/teams/")
    assert personal.status_code == 200


def test_member_with_mfa_is_served(team, admin_user, member_user, project):
    _require(team, admin_user)
    _with_totp(member_user)
    assert _api(member_user).get(f"/api/v1/teams/{team.slug}/projects").status_code == 200
    web = Client()
    web.force_login(member_user)
    assert web.get(f"/{team.slug}/settings/members").status_code == 200


def test_key_creation_needs_mfa(team, admin_user, member_user):
    _require(team, admin_user)
    client = _api(member_user)
    restricted = client.post("/api/v1/keys", {"name": "k", "team": team.slug}, format="json")
    assert restricted.status_code == 403 and restricted.json()["error"]["code"] == "mfa_required"
    # An unrestricted key would reach the team too.
    anywhere = client.post("/api/v1/keys", {"name": "k"}, format="json")
    assert anywhere.status_code == 403
    _with_totp(member_user)
    assert client.post("/api/v1/keys", {"name": "k"}, format="json").status_code == 201


def test_invitation_accept_needs_mfa(team, admin_user):
    _require(team, admin_user)
    _, token = team_services.invitation_create(
        team=team, email="new@a.example", role="member", actor=admin_user
    )
    invitee = UserFactory(email="new@a.example")
    refused = _api(invitee).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "mfa_required"
    _with_totp(invitee)
    accepted = _api(invitee).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert accepted.status_code == 200


def test_admin_sets_the_policy_in_settings_and_it_is_audited(team, admin_user, member_user):
    web = Client()
    web.force_login(admin_user)
    url = f"/{team.slug}/settings/policy"
    refused = web.post(url, {"require_mfa": "on"})
    assert refused.status_code == 403  # enrol yourself first
    team.refresh_from_db()
    assert team.require_mfa is False
    _with_totp(admin_user)
    assert web.post(url, {"require_mfa": "on"}).status_code == 302
    team.refresh_from_db()
    assert team.require_mfa is True
    event = AuditEvent.objects.filter(team=team, action="team.policy_changed").get()
    assert event.actor == admin_user and event.detail == {"require_mfa": True}
    # Members may not change it.
    member = Client()
    member.force_login(_with_totp(member_user))
    assert member.post(url, {}).status_code == 403
    # Through the API too.
    off = _api(admin_user).patch(
        f"/api/v1/teams/{team.slug}", {"require_mfa": False}, format="json"
    )
    assert off.status_code == 200 and off.json()["require_mfa"] is False


def test_invitation_page_sends_a_member_without_mfa_to_enrolment(team, admin_user):
    _require(team, admin_user)
    _, token = team_services.invitation_create(
        team=team, email="web@a.example", role="member", actor=admin_user
    )
    invitee = UserFactory(email="web@a.example")
    web = Client()
    web.force_login(invitee)
    response = web.post(f"/invitations/{token}")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert "requires two-factor" in web.get("/accounts/2fa/").text
    assert not Membership.objects.for_team(team).filter(user=invitee).exists()
