"""Require SSO: members of the team open it only after signing in through its IdP; an
admin's break-glass is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.sso import services
from apps.teams.models import AuditEvent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.sso import flows


@pytest.fixture
def required(settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    flows.configure_oidc(team, admin_user, idp_normal)
    return services.sso_config_save(team=team, data={"require_sso": True}, actor=admin_user)


def _password_session(email: str) -> Client:
    client = Client()
    r = client.post(
        "/accounts/login/", {"login": email, "password": "correct-horse-battery-staple"}
    )
    assert r.status_code == 302, r.content[:300]
    return client


def test_password_session_is_sent_to_sso(db, required, member_user):
    web = _password_session(member_user.email)
    r = web.get("/team-a/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/sso/team-a/login/?next=")
    r = web.get("/api/v1/teams/team-a/members")
    assert r.status_code == 403 and r.json()["error"]["code"] == "sso_required"
    # The sign-in page itself, and the user's other teams, stay reachable.
    assert web.get("/accounts/sso/team-a/login/").status_code == 200
    assert web.get("/teams/").status_code == 200


def test_signing_in_through_the_idp_opens_the_team(db, required, idp_normal):
    idp_normal.user("kim@a.example")
    web = Client()
    r = flows.sign_in(web, idp_normal, idp_normal.browser("kim@a.example"), next_url="/team-a/")
    assert r.status_code == 302 and r["Location"] == "/team-a/"
    assert web.get("/team-a/").status_code == 200
    assert web.get("/api/v1/teams/team-a/members").status_code == 200


def test_api_keys_are_not_refused(db, required, member_user):
    assert client_for(member_user).get("/api/v1/teams/team-a/members").status_code == 200


def test_non_members_still_get_404(db, required, other_admin):
    web = _password_session(other_admin.email)
    assert web.get("/team-a/").status_code == 404
    assert web.get("/api/v1/teams/team-a/members").status_code == 404
    assert web.post("/accounts/sso/team-a/break-glass/", {"reason": "x"}).status_code == 404


def test_admin_break_glass_is_audited(db, required, admin_user, team):
    web = _password_session(admin_user.email)
    assert web.get("/team-a/").status_code == 302
    page = web.get("/accounts/sso/team-a/login/")
    assert b"Break-glass" in page.content
    assert web.post("/accounts/sso/team-a/break-glass/", {"reason": ""}).status_code == 400
    r = web.post("/accounts/sso/team-a/break-glass/", {"reason": "IdP outage", "next": "/team-a/"})
    assert r.status_code == 302 and r["Location"] == "/team-a/"
    assert web.get("/team-a/").status_code == 200
    event = AuditEvent.objects.get(team=team, action="sso.break_glass")
    assert event.actor == admin_user and event.detail == {"reason": "IdP outage"}
    # The mark is this session's: a new password session must break glass again.
    assert _password_session(admin_user.email).get("/team-a/").status_code == 302


def test_members_have_no_break_glass(db, required, member_user):
    web = _password_session(member_user.email)
    assert b"Break-glass" not in web.get("/accounts/sso/team-a/login/").content
    assert web.post("/accounts/sso/team-a/break-glass/", {"reason": "please"}).status_code == 403


def test_break_glass_without_require_sso_is_409(db, settings, team, admin_user, idp_normal):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    flows.configure_oidc(team, admin_user, idp_normal)
    web = _password_session(admin_user.email)
    assert web.post("/accounts/sso/team-a/break-glass/", {"reason": "x"}).status_code == 409


def test_sso_pages_404_for_a_team_without_sso(db, team, other_team):
    assert Client().get("/accounts/sso/team-a/login/").status_code == 404
    assert Client().post("/accounts/sso/team-a/login/").status_code == 404
    assert Client().get("/accounts/sso/team-a/oidc/callback/?code=x&state=y").status_code == 404
    assert Client().get("/accounts/sso/no-such-team/login/").status_code == 404


def test_a_session_of_another_teams_idp_does_not_count(
    db, settings, required, idp_normal, other_team, other_admin
):
    """Signing in through team B's IdP does not satisfy team A's require-SSO."""
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    flows.configure_oidc(other_team, other_admin, idp_normal, domain="b.example")
    user = UserFactory(email="lee@b.example")
    from apps.teams import services as team_services

    team_services.membership_add(team=required.team, user=user, role="member")
    idp_normal.user("lee@b.example")
    web = Client()
    flows.sign_in(web, idp_normal, idp_normal.browser("lee@b.example"), team_slug="team-b")
    assert flows.signed_in_user_id(web) == str(user.pk)
    assert web.get("/team-b/").status_code == 200
    assert web.get("/team-a/").status_code == 302


def _socket_answer(web: Client, path: str = "/ws/teams/team-a/projects/resnet/events"):
    """(accepted, close code) of a WebSocket opened on the real ASGI app with `web`'s
    session cookie, as that browser would open it."""
    from asgiref.sync import async_to_sync

    from tests.realtime.test_project_events import Socket

    async def connect():
        socket = Socket(path, session=web.cookies["sessionid"].value)
        answer = await socket.connect()
        if answer[0]:
            await socket.close()
        return answer

    return async_to_sync(connect)()


@pytest.mark.django_db(transaction=True)
def test_live_event_sockets_follow_the_policy(
    required, project, member_user, admin_user, idp_normal
):
    """A WebSocket on the team's routes is a page of the team: a password session of a
    member is refused (4403, before anything is looked up or joined), an IdP session is
    admitted, an admin's password session once it broke glass; a stranger still gets 4404."""
    member = _password_session(member_user.email)
    assert _socket_answer(member) == (False, 4403)
    comments = "/ws/teams/team-a/projects/resnet/runs/nosuchrun/comments"
    assert _socket_answer(member, comments) == (False, 4403)
    # The user's own notifications are no team route: unaffected.
    assert _socket_answer(member, "/ws/notifications") == (True, None)

    admin = _password_session(admin_user.email)
    assert _socket_answer(admin) == (False, 4403)
    r = admin.post("/accounts/sso/team-a/break-glass/", {"reason": "IdP outage"})
    assert r.status_code == 302
    assert _socket_answer(admin) == (True, None)

    idp_normal.user("kim@a.example")
    sso = Client()
    flows.sign_in(sso, idp_normal, idp_normal.browser("kim@a.example"))
    assert _socket_answer(sso) == (True, None)

    stranger = UserFactory(email="sam@elsewhere.example")
    assert _socket_answer(_password_session(stranger.email)) == (False, 4404)
