"""Invitations: created by admins, mailed with an accept link, accepted through the API
or the web page by the invited email only, once, before they expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.teams.models import AuditEvent, Invitation, Membership
from tests.factories import UserFactory, make_invitation

pytestmark = pytest.mark.django_db


def _session(user, api=True):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def _invite(admin_user, team, email="invitee@example.com", role="member") -> dict:
    response = _session(admin_user).post(
        f"/api/v1/teams/{team.slug}/invitations", {"email": email, "role": role}
    )
    assert response.status_code == 201, response.content
    return response.json()


def _token(accept_url: str) -> str:
    return accept_url.rsplit("/", 1)[-1]


def test_invitation_is_mailed_with_its_accept_link(admin_user, team, settings):
    body = _invite(admin_user, team, email="Invitee@Example.com")
    assert body["email"] == "invitee@example.com" and body["role"] == "member"
    assert body["invited_by"] == admin_user.email
    assert body["accept_url"].startswith(settings.PUBLIC_BASE_URL + "/invitations/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["invitee@example.com"]
    assert body["accept_url"] in message.body and team.name in message.subject
    listed = _session(admin_user).get(f"/api/v1/teams/{team.slug}/invitations").json()
    assert [i["id"] for i in listed["results"]] == [body["id"]]
    assert "accept_url" not in listed["results"][0]


def test_accept_through_the_api(admin_user, team):
    body = _invite(admin_user, team, role="viewer")
    invitee = UserFactory(email="invitee@example.com")
    response = APIClient()
    response.force_login(invitee)
    accepted = response.post("/api/v1/invitations/accept", {"token": _token(body["accept_url"])})
    assert accepted.status_code == 200
    assert accepted.json() | {"created_at": None} == {
        "slug": team.slug,
        "name": team.name,
        "is_personal": False,
        "role": "viewer",
        "require_mfa": False,
        "created_at": None,
    }
    assert Membership.objects.for_team(team).get(user=invitee).role == "viewer"
    assert _session(admin_user).get(f"/api/v1/teams/{team.slug}/invitations").json() == {
        "results": [],
        "next": None,
    }


def test_accept_through_the_web_page(admin_user, team):
    body = _invite(admin_user, team)
    invitee = UserFactory(email="invitee@example.com")
    path = body["accept_url"].removeprefix("http://127.0.0.1:8000")
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client = _session(invitee, api=False)
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == f"/{team.slug}/"
    assert Membership.objects.for_team(team).get(user=invitee).role == "member"


def test_wrong_email_gets_404_and_the_invitation_stays_open(admin_user, team):
    body = _invite(admin_user, team)
    stranger = UserFactory(email="stranger@example.com")
    response = _session(stranger).post(
        "/api/v1/invitations/accept", {"token": _token(body["accept_url"])}
    )
    assert response.status_code == 404
    assert not Membership.objects.for_team(team).filter(user=stranger).exists()
    assert Invitation.objects.for_team(team).get().accepted_at is None


def test_used_invitation_is_404(admin_user, team):
    body = _invite(admin_user, team)
    invitee = UserFactory(email="invitee@example.com")
    client = _session(invitee)
    token = _token(body["accept_url"])
    assert client.post("/api/v1/invitations/accept", {"token": token}).status_code == 200
    assert client.post("/api/v1/invitations/accept", {"token": token}).status_code == 404
    web = _session(invitee, api=False).post(f"/invitations/{token}")
    assert web.status_code == 404


def test_expired_invitation_is_404(admin_user, team):
    invitation, token = make_invitation(team, admin_user, email="invitee@example.com")
    Invitation.objects.for_team(team).filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    invitee = UserFactory(email="invitee@example.com")
    response = _session(invitee).post("/api/v1/invitations/accept", {"token": token})
    assert response.status_code == 404
    assert not Membership.objects.for_team(team).filter(user=invitee).exists()


def test_revoked_invitation_is_404(admin_user, team):
    invitation, token = make_invitation(team, admin_user, email="invitee@example.com")
    url = f"/api/v1/teams/{team.slug}/invitations/{invitation.pk}"
    assert _session(admin_user).delete(url).status_code == 204
    assert _session(admin_user).delete(url).status_code == 404
    invitee = UserFactory(email="invitee@example.com")
    assert _session(invitee).post("/api/v1/invitations/accept", {"token": token}).status_code == 404


def test_unknown_token_is_404(member_user):
    response = _session(member_user).post("/api/v1/invitations/accept", {"token": "nope"})
    assert response.status_code == 404


def test_inviting_a_member_or_into_a_personal_team_is_409(admin_user, team, member_user):
    response = _session(admin_user).post(
        f"/api/v1/teams/{team.slug}/invitations", {"email": member_user.email.upper()}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"
    personal = Membership.objects.of_user(admin_user).get(team__is_personal=True).team
    response = _session(admin_user).post(
        f"/api/v1/teams/{personal.slug}/invitations", {"email": "x@example.com"}
    )
    assert response.status_code == 409


def test_accepting_while_already_a_member_keeps_the_role(admin_user, team, viewer_user):
    invitation, token = make_invitation(team, admin_user, email="late@example.com", role="admin")
    # The invitee's email changed hands: an existing member with that email accepts.
    viewer_user.email = "late@example.com"
    viewer_user.save(update_fields=["email"])
    response = _session(viewer_user).post("/api/v1/invitations/accept", {"token": token})
    assert response.status_code == 200 and response.json()["role"] == "viewer"
    events = AuditEvent.objects.filter(team=team, detail__invitation_id=invitation.pk)
    assert [e.action for e in events] == ["invitation.accepted"]


def test_an_invitation_can_grant_a_custom_role(admin_user, team):
    """The invite forms offer the team's custom roles: the invitee joins with that role's
    permissions; a pending invitation keeps the role from being deleted; an unknown role
    is a 400 naming the field."""
    from apps.teams import services as team_services
    from apps.teams.roles import membership_permissions, permissions_for

    role = team_services.custom_role_create(
        team=team,
        name="labeler",
        base_role="viewer",
        added=["runs:write_own"],
        removed=[],
        actor=admin_user,
    )
    body = _invite(admin_user, team, role="labeler")
    assert body["role"] == "labeler"
    listed = _session(admin_user).get(f"/api/v1/teams/{team.slug}/invitations").json()
    assert [i["role"] for i in listed["results"]] == ["labeler"]
    refused = _session(admin_user).delete(f"/api/v1/teams/{team.slug}/roles/{role.pk}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "role_in_use"

    invitee = UserFactory(email="invitee@example.com")
    client = APIClient()
    client.force_login(invitee)
    accepted = client.post("/api/v1/invitations/accept", {"token": _token(body["accept_url"])})
    assert accepted.status_code == 200 and accepted.json()["role"] == "labeler"
    membership = Membership.objects.for_team(team).get(user=invitee)
    assert (membership.role, membership.custom_role_id) == ("viewer", role.pk)
    granted = membership_permissions(membership)
    assert "runs:write_own" in granted and "runs:write_own" not in permissions_for("viewer")

    bad = _session(admin_user).post(
        f"/api/v1/teams/{team.slug}/invitations", {"email": "x@example.com", "role": "nope"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "role"


def test_the_web_form_invites_with_a_custom_role(admin_user, team):
    from apps.teams import services as team_services

    team_services.custom_role_create(
        team=team, name="labeler", base_role="viewer", added=[], removed=[], actor=admin_user
    )
    web = _session(admin_user, api=False)
    page = web.get(f"/{team.slug}/settings/invitations").content.decode()
    assert '<option value="labeler">' in page
    sent = web.post(
        f"/{team.slug}/settings/invitations", {"email": "lab@example.com", "role": "labeler"}
    )
    assert sent.status_code in (200, 302), sent.content[:500]
    assert Invitation.objects.for_team(team).get(email="lab@example.com").role_name == "labeler"
    page = web.get(f"/{team.slug}/settings/invitations").content.decode()
    assert '<tr data-invitation="lab@example.com">' in page and ">labeler</span>" in page
