"""The audit log: exactly one append-only row per security action, readable by the
team's admins only."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db.models import Max
from rest_framework.test import APIClient

from apps.teams.models import AuditEvent
from apps.teams.selectors import personal_team_of
from tests.factories import UserFactory, make_key

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


@contextmanager
def one_row(action: str, team=None):
    """Asserts the block adds exactly one audit row, of `action` (in `team` if given)."""
    last = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
    yield
    rows = list(AuditEvent.objects.filter(id__gt=last))
    assert [r.action for r in rows] == [action], [r.action for r in rows]
    if team is not None:
        assert rows[0].team_id == team.pk


def test_one_row_per_security_action(client, admin_user, team, member_user, project):
    admin = _session(admin_user)
    base = f"/api/v1/teams/{team.slug}"
    personal = personal_team_of(admin_user)

    with one_row("login.failed", personal):
        client.post("/accounts/login/", {"login": admin_user.email, "password": "bad"})
    with one_row("login.succeeded", personal):
        client.post("/accounts/login/", {"login": admin_user.email, "password": PASSWORD})
    with one_row("api_key.created", personal):
        key = admin.post("/api/v1/keys", {"name": "k"}).json()
    with one_row("api_key.revoked", personal):
        admin.delete(f"/api/v1/keys/{key['id']}")
    with one_row("api_key.created", team):
        admin.post("/api/v1/keys", {"name": "team key", "team": team.slug})
    with one_row("member.role_changed", team):
        admin.patch(f"{base}/members/{member_user.pk}", {"role": "viewer"})
    with one_row("invitation.created", team):
        invitation = admin.post(f"{base}/invitations", {"email": "new@example.com"}).json()
    with one_row("invitation.revoked", team):
        admin.delete(f"{base}/invitations/{invitation['id']}")
    invitation = admin.post(f"{base}/invitations", {"email": "new@example.com"}).json()
    newcomer = UserFactory(email="new@example.com")
    with one_row("member.added", team):
        _session(newcomer).post(
            "/api/v1/invitations/accept", {"token": invitation["accept_url"].rsplit("/", 1)[1]}
        )
    with one_row("member.removed", team):
        admin.delete(f"{base}/members/{newcomer.pk}")
    with one_row("member.removed", team):
        _session(member_user).post(f"{base}/leave")
    with one_row("project.visibility_changed", team):
        admin.patch(f"{base}/projects/{project.name}", {"visibility": "public"})
    account = admin.post(f"{base}/service-accounts", {"name": "ci"}).json()
    with one_row("api_key.created", team):
        admin.post(f"{base}/service-accounts/{account['id']}/keys", {"name": "second"})
    with one_row("service_account.deleted", team):
        admin.delete(f"{base}/service-accounts/{account['id']}")


def test_no_row_when_nothing_changes(admin_user, team, member_user, project):
    admin = _session(admin_user)
    base = f"/api/v1/teams/{team.slug}"
    last = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
    admin.patch(f"{base}/members/{member_user.pk}", {"role": "member"})  # same role
    admin.patch(f"{base}/projects/{project.name}", {"visibility": "team"})  # same visibility
    admin.patch(f"{base}/members/{admin_user.pk}", {"role": "viewer"})  # refused: last admin
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_service_account_creation_records_the_account_and_its_key(admin_user, team):
    with_key = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
    _session(admin_user).post(f"/api/v1/teams/{team.slug}/service-accounts", {"name": "ci"})
    actions = sorted(e.action for e in AuditEvent.objects.filter(id__gt=with_key))
    assert actions == ["api_key.created", "service_account.created"]


def test_audit_is_readable_by_admins_only(admin_user, team, member_user, viewer_user):
    url = f"/api/v1/teams/{team.slug}/audit"
    body = _session(admin_user).get(url).json()
    assert {e["action"] for e in body["results"]} >= {"member.added"}
    for user in (member_user, viewer_user):
        assert _session(user).get(url).status_code == 403
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(user)}")
        assert client.get(url).status_code == 403


def test_audit_shows_only_the_teams_own_events(admin_user, team, other_team, other_admin):
    _session(other_admin).post(f"/api/v1/teams/{other_team.slug}/invitations", {"email": "x@b.io"})
    events = _session(admin_user).get(f"/api/v1/teams/{team.slug}/audit").json()["results"]
    assert "x@b.io" not in [e["target"] for e in events]


def test_audit_pages_with_before(admin_user, team):
    client = _session(admin_user)
    for n in range(5):
        client.post(f"/api/v1/teams/{team.slug}/invitations", {"email": f"p{n}@example.com"})
    url = f"/api/v1/teams/{team.slug}/audit?limit=2"
    seen, page = [], client.get(url).json()
    while True:
        seen += [e["id"] for e in page["results"]]
        if page["next_before"] is None:
            break
        page = client.get(f"{url}&before={page['next_before']}").json()
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert len(seen) == AuditEvent.objects.filter(team=team).count()
