"""Sensitive team forms (role changes, key creation, team policy) need a recent sign-in:
allauth's reauthentication flow, with the POST replayed afterwards through the policy
table again (apps.teams.web_views.sensitive)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from apps.accounts.models import ApiKey
from apps.teams import services as team_services
from apps.teams.models import AuditEvent, Membership

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _reauthentication_on(settings):
    settings.REAUTHENTICATE_SENSITIVE_ACTIONS = True


def _stale_session(user) -> Client:
    """Signed in, but with no recorded authentication time (as after a long while)."""
    client = Client()
    client.force_login(user)
    return client


def _role_url(team, user) -> str:
    return f"/{team.slug}/settings/members/{user.pk}/role"


def test_after_reauthenticating_further_changes_go_through_directly(team, admin_user, member_user):
    client = _stale_session(admin_user)
    asked = client.post(_role_url(team, member_user), {"role": "viewer"})
    client.post(asked["Location"], {"password": PASSWORD})
    # Within ACCOUNT_REAUTHENTICATION_TIMEOUT the next sensitive form is not asked again.
    response = client.post(_role_url(team, member_user), {"role": "member"})
    assert response.status_code == 302 and "/reauthenticate/" not in response["Location"]
    assert Membership.objects.for_team(team).get(user=member_user).role == "member"


def test_a_stale_session_reauthenticates_and_the_change_is_replayed(team, admin_user, member_user):
    client = _stale_session(admin_user)
    url = _role_url(team, member_user)
    asked = client.post(url, {"role": "viewer"})
    assert asked.status_code == 302
    assert asked["Location"] == f"/accounts/reauthenticate/?next={quote(url, safe='')}"
    assert Membership.objects.for_team(team).get(user=member_user).role == "member"

    wrong = client.post(asked["Location"], {"password": "not-the-password"})
    assert wrong.status_code == 200  # the form again, nothing changed
    assert Membership.objects.for_team(team).get(user=member_user).role == "member"

    done = client.post(asked["Location"], {"password": PASSWORD})
    assert done.status_code == 302
    assert Membership.objects.for_team(team).get(user=member_user).role == "viewer"
    event = AuditEvent.objects.filter(team=team, action="member.role_changed").latest("id")
    assert event.actor == admin_user and event.detail == {"from": "member", "to": "viewer"}


def test_the_replayed_post_obeys_the_policy_table_again(team, admin_user, member_user):
    # Another admin demotes this one while its request waits for reauthentication.
    team_services.membership_set_role(
        team=team, user_id=member_user.pk, role="admin", actor=admin_user
    )
    client = _stale_session(admin_user)
    asked = client.post(_role_url(team, member_user), {"role": "viewer"})
    team_services.membership_set_role(
        team=team, user_id=admin_user.pk, role="viewer", actor=member_user
    )
    replayed = client.post(asked["Location"], {"password": PASSWORD})
    assert replayed.status_code == 403
    assert Membership.objects.for_team(team).get(user=member_user).role == "admin"


def test_key_creation_and_team_policy_ask_too(team, admin_user):
    client = _stale_session(admin_user)
    keys = client.post(f"/{team.slug}/settings/api-keys", {"name": "laptop"})
    assert keys.status_code == 302 and keys["Location"].startswith("/accounts/reauthenticate/")
    assert not ApiKey.objects.filter(user=admin_user, name="laptop").exists()
    policy = client.post(f"/{team.slug}/settings/policy", {"require_mfa": "on"})
    assert policy["Location"].startswith("/accounts/reauthenticate/")
    # Reading the pages does not ask.
    assert client.get(f"/{team.slug}/settings/api-keys").status_code == 200
    assert client.get(f"/{team.slug}/settings/roles").status_code == 200


def test_members_without_the_permission_get_403_not_a_reauthentication(team, member_user):
    client = _stale_session(member_user)
    assert client.post(_role_url(team, member_user), {"role": "admin"}).status_code == 403
