"""Role changes, leaving and removal; the last admin can neither leave nor be demoted."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.teams import services as team_services
from apps.teams.models import Membership
from tests.factories import UserFactory, make_service_account

pytestmark = pytest.mark.django_db


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


def _member_url(team, user) -> str:
    return f"/api/v1/teams/{team.slug}/members/{user.pk}"


def _role(team, user) -> str | None:
    membership = Membership.objects.for_team(team).filter(user=user).first()
    return membership.role if membership else None


def test_members_are_listed_with_roles(admin_user, team, member_user, viewer_user):
    body = _session(viewer_user).get(f"/api/v1/teams/{team.slug}/members").json()
    assert [(m["email"], m["role"]) for m in body["results"]] == [
        (admin_user.email, "admin"),
        (member_user.email, "member"),
        (viewer_user.email, "viewer"),
    ]
    assert body["next"] is None


def test_admin_changes_roles(admin_user, team, member_user):
    client = _session(admin_user)
    response = client.patch(_member_url(team, member_user), {"role": "viewer"})
    assert response.status_code == 200 and response.json()["role"] == "viewer"
    assert _role(team, member_user) == "viewer"
    assert client.patch(_member_url(team, member_user), {"role": "admin"}).status_code == 200
    assert _role(team, member_user) == "admin"


def test_unknown_role_is_400(admin_user, team, member_user):
    response = _session(admin_user).patch(_member_url(team, member_user), {"role": "owner"})
    # Custom role names are valid too, so the service names the field (not the serializer).
    assert response.status_code == 400 and response.json()["error"]["detail"]["field"] == "role"


def test_last_admin_cannot_be_demoted(admin_user, team):
    response = _session(admin_user).patch(_member_url(team, admin_user), {"role": "member"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"
    assert _role(team, admin_user) == "admin"


def test_last_admin_cannot_leave_or_be_removed(admin_user, team):
    client = _session(admin_user)
    assert client.post(f"/api/v1/teams/{team.slug}/leave").status_code == 409
    assert client.delete(_member_url(team, admin_user)).status_code == 409
    assert _role(team, admin_user) == "admin"


def test_with_a_second_admin_the_first_may_step_down(admin_user, team, member_user):
    client = _session(admin_user)
    client.patch(_member_url(team, member_user), {"role": "admin"})
    assert client.patch(_member_url(team, admin_user), {"role": "member"}).status_code == 200
    # Now member_user is the last admin.
    second = _session(member_user)
    assert second.patch(_member_url(team, member_user), {"role": "viewer"}).status_code == 409
    assert second.post(f"/api/v1/teams/{team.slug}/leave").status_code == 409


def test_members_leave_and_admins_remove(admin_user, team, member_user, viewer_user):
    assert _session(member_user).post(f"/api/v1/teams/{team.slug}/leave").status_code == 204
    assert _role(team, member_user) is None
    assert _session(admin_user).delete(_member_url(team, viewer_user)).status_code == 204
    assert _role(team, viewer_user) is None
    assert _session(admin_user).delete(_member_url(team, viewer_user)).status_code == 404


def test_personal_team_owner_cannot_leave(admin_user):
    personal = Membership.objects.of_user(admin_user).get(team__is_personal=True).team
    response = _session(admin_user).post(f"/api/v1/teams/{personal.slug}/leave")
    assert response.status_code == 409


def test_service_account_membership_is_removed_by_deleting_the_account(admin_user, team):
    account, _ = make_service_account(team, admin_user)
    response = _session(admin_user).delete(_member_url(team, account.user))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "service_account"


@pytest.mark.django_db(transaction=True)
def test_concurrent_demotions_keep_one_admin():
    """Both admins demote themselves at once; the lock on the admin rows serializes the
    last-admin checks, so exactly one succeeds."""
    import threading

    from django.db import connections

    first = UserFactory(email="one@example.com")
    second = UserFactory(email="two@example.com")
    team = team_services.team_create(creator=first, slug="duo")
    team_services.membership_add(team=team, user=second, role="admin")
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(user):
        try:
            barrier.wait(timeout=10)
            team_services.membership_set_role(team=team, user_id=user.pk, role="member", actor=user)
            outcomes.append("ok")
        except Exception as exc:  # the refused one raises Conflict
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=(u,)) for u in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["Conflict", "ok"]
    assert Membership.objects.for_team(team).filter(role="admin").count() == 1
