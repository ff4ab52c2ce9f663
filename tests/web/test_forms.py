"""Forms end to end through the Django test client against PostgreSQL: each form's
write happens (checked in the database or through the API), errors from services are
shown with their status, and htmx requests get fragments instead of whole pages."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.accounts.models import ApiKey
from apps.projects.models import Project
from apps.teams import services as team_services
from apps.teams.models import AuditEvent, Invitation, Membership, ServiceAccount, Team
from tests.factories import UserFactory, make_project
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET_RE = re.compile(r'value="(gl-[A-Za-z0-9]+)"')


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _text(response) -> str:
    return response.content.decode()


# --- teams -------------------------------------------------------------------------


def test_create_team(admin_user):
    client = login(admin_user)
    response = client.post(reverse("web:team-list"), {"slug": "acme", "name": "Acme"})
    assert response.status_code == 302
    assert response["Location"] == "/acme/"
    team = Team.objects.get(slug="acme")
    assert Membership.objects.for_team(team).get(user=admin_user).role == "admin"
    assert "Team acme created." in _text(client.get("/acme/"))


@pytest.mark.parametrize(
    "slug,status,message",
    [("teams", 400, "is reserved"), ("Bad Slug", 400, "Team slug must be")],
)
def test_create_team_errors_are_shown(admin_user, slug, status, message):
    response = login(admin_user).post(reverse("web:team-list"), {"slug": slug, "name": "X"})
    assert response.status_code == status
    assert message in _text(response)
    assert 'value="X"' in _text(response)  # the form keeps what was typed


def test_create_team_slug_taken(admin_user, other_team):
    response = login(admin_user).post(reverse("web:team-list"), {"slug": "team-b"})
    assert response.status_code == 409
    assert "is taken" in _text(response)


def test_rename_team(admin_user, team):
    client = login(admin_user)
    url = reverse("web:team-settings", kwargs={"team": "team-a"})
    assert client.post(url, {"name": "Team Alpha"}).status_code == 302
    team.refresh_from_db()
    assert team.name == "Team Alpha"
    assert client.post(url, {"name": "  "}).status_code == 400


def test_member_leaves_team(team, member_user):
    client = login(member_user)
    response = client.post(reverse("web:team-leave", kwargs={"team": "team-a"}))
    assert response.status_code == 302
    assert not Membership.objects.for_team(team).filter(user=member_user).exists()


def test_last_admin_cannot_leave(team, admin_user):
    response = login(admin_user).post(reverse("web:team-leave", kwargs={"team": "team-a"}))
    assert response.status_code == 409
    assert "last admin" in _text(response)
    assert Membership.objects.for_team(team).filter(user=admin_user).exists()


# --- members -----------------------------------------------------------------------


def test_change_role_with_htmx_returns_the_members_fragment(team, admin_user, member_user):
    url = reverse("web:member-role", kwargs={"team": "team-a", "user_id": member_user.pk})
    response = login(admin_user).post(url, {"role": "viewer"}, **HTMX)
    assert response.status_code == 200
    html = _text(response)
    assert "<!doctype html>" not in html
    assert 'id="members"' in html
    assert 'hx-swap-oob="true"' in html and "member@a.example is now viewer." in html
    assert Membership.objects.for_team(team).get(user=member_user).role == "viewer"
    assert AuditEvent.objects.filter(team=team, action="member.role_changed").count() == 1


def test_change_role_without_htmx_redirects(team, admin_user, member_user):
    client = login(admin_user)
    url = reverse("web:member-role", kwargs={"team": "team-a", "user_id": member_user.pk})
    response = client.post(url, {"role": "admin"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:team-members", kwargs={"team": "team-a"})
    assert Membership.objects.for_team(team).get(user=member_user).role == "admin"


def test_demoting_the_last_admin_is_a_friendly_409(team, admin_user):
    client = login(admin_user)
    url = reverse("web:member-role", kwargs={"team": "team-a", "user_id": admin_user.pk})
    response = client.post(url, {"role": "member"}, **HTMX)
    assert response.status_code == 409
    html = _text(response)
    assert 'class="alert error"' in html
    assert "The last admin of a team cannot be demoted." in html
    assert "<!doctype html>" not in html

    page = client.post(url, {"role": "member"})
    assert page.status_code == 409
    assert "The last admin of a team cannot be demoted." in _text(page)
    assert 'id="members"' in _text(page)  # the whole members page, with the error
    assert Membership.objects.for_team(team).get(user=admin_user).role == "admin"


def test_invalid_role_is_400(team, admin_user, member_user):
    url = reverse("web:member-role", kwargs={"team": "team-a", "user_id": member_user.pk})
    response = login(admin_user).post(url, {"role": "owner"}, **HTMX)
    assert response.status_code == 400
    assert "Unknown role" in _text(response)


def test_remove_member(team, admin_user, member_user):
    url = reverse("web:member-remove", kwargs={"team": "team-a", "user_id": member_user.pk})
    response = login(admin_user).post(url, **HTMX)
    assert response.status_code == 200
    assert "member@a.example" not in _text(response).split('id="members"')[1]
    assert not Membership.objects.for_team(team).filter(user=member_user).exists()


def test_member_of_another_team_is_not_found(team, admin_user, other_admin):
    url = reverse("web:member-remove", kwargs={"team": "team-a", "user_id": other_admin.pk})
    response = login(admin_user).post(url, **HTMX)
    assert response.status_code == 404


def test_viewer_write_with_htmx_gets_a_403_fragment(team, viewer_user, member_user):
    url = reverse("web:member-role", kwargs={"team": "team-a", "user_id": member_user.pk})
    response = login(viewer_user).post(url, {"role": "admin"}, **HTMX)
    assert response.status_code == 403
    html = _text(response)
    assert 'class="alert error"' in html and "<!doctype html>" not in html
    assert Membership.objects.for_team(team).get(user=member_user).role == "member"


# --- invitations ---------------------------------------------------------------------


def test_invite_accept_and_revoke(team, admin_user):
    client = login(admin_user)
    url = reverse("web:team-invitations", kwargs={"team": "team-a"})
    response = client.post(url, {"email": "New@Example.com", "role": "viewer"}, **HTMX)
    assert response.status_code == 200
    html = _text(response)
    assert "Invitation sent to new@example.com." in html
    assert 'data-invitation="new@example.com"' in html
    link = re.search(r'value="(http[^"]+/invitations/[^"]+)"', html).group(1)
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body

    invitee = UserFactory(email="new@example.com")
    path = link.split("://", 1)[1].split("/", 1)[1]
    accept = login(invitee)
    assert accept.get("/" + path).status_code == 200
    response = accept.post("/" + path)
    assert response.status_code == 302 and response["Location"] == "/team-a/"
    assert Membership.objects.for_team(team).get(user=invitee).role == "viewer"

    # A second invitation, then revoked: it leaves the pending list.
    invitation, _ = team_services.invitation_create(
        team=team, email="later@example.com", role="member", actor=admin_user
    )
    revoke = reverse(
        "web:invitation-revoke", kwargs={"team": "team-a", "invitation_id": invitation.pk}
    )
    response = client.post(revoke, **HTMX)
    assert response.status_code == 200
    assert "later@example.com" not in _text(response).split("Invitation revoked.")[1]
    assert not Invitation.objects.for_team(team).filter(pk=invitation.pk).exists()


def test_invite_rejects_a_bad_email(team, admin_user):
    url = reverse("web:team-invitations", kwargs={"team": "team-a"})
    response = login(admin_user).post(url, {"email": "not-an-email", "role": "member"})
    assert response.status_code == 400
    assert "Enter a valid email address." in _text(response)
    assert not Invitation.objects.for_team(team).exists()


def test_revoking_another_teams_invitation_is_not_found(team, admin_user, other_team, other_admin):
    invitation, _ = team_services.invitation_create(
        team=other_team, email="x@b.example", role="member", actor=other_admin
    )
    url = reverse(
        "web:invitation-revoke", kwargs={"team": "team-a", "invitation_id": invitation.pk}
    )
    assert login(admin_user).post(url, **HTMX).status_code == 404
    assert Invitation.objects.for_team(other_team).filter(pk=invitation.pk).exists()


def test_wrong_account_cannot_accept(team, admin_user, other_admin):
    _, token = team_services.invitation_create(
        team=team, email="someone@example.com", role="member", actor=admin_user
    )
    response = login(other_admin).post(reverse("web:invitation-accept", kwargs={"token": token}))
    assert response.status_code == 404
    assert not Membership.objects.for_team(team).filter(user=other_admin).exists()


# --- API keys ------------------------------------------------------------------------


def test_api_key_is_shown_once_works_and_revokes(team, member_user):
    client = login(member_user)
    url = reverse("web:api-keys", kwargs={"team": "team-a"})
    response = client.post(url, {"name": "laptop"}, **HTMX)
    assert response.status_code == 200
    secret = SECRET_RE.search(_text(response)).group(1)
    viewer = _api(secret).get("/api/v1/viewer")
    assert viewer.status_code == 200 and viewer.json()["email"] == "member@a.example"

    listing = _text(client.get(url))
    key = ApiKey.objects.get(user=member_user, name="laptop")
    assert secret not in listing  # shown once, never again
    assert f"{key.prefix}…" in listing and "all your teams" in listing

    revoke = reverse("web:api-key-revoke", kwargs={"team": "team-a", "key_id": key.pk})
    assert client.post(revoke, **HTMX).status_code == 200
    assert _api(secret).get("/api/v1/viewer").status_code == 401


def test_api_key_without_htmx_renders_the_secret_page(team, member_user):
    url = reverse("web:api-keys", kwargs={"team": "team-a"})
    response = login(member_user).post(url, {"name": "ci", "restrict": "on"})
    assert response.status_code == 200  # not a redirect: the secret is in this page only
    assert SECRET_RE.search(_text(response))
    assert ApiKey.objects.get(user=member_user, name="ci").team_id == team.pk
    assert "team-a only" in _text(response)


def test_api_key_needs_a_name(team, member_user):
    url = reverse("web:api-keys", kwargs={"team": "team-a"})
    response = login(member_user).post(url, {"name": ""}, **HTMX)
    assert response.status_code == 400
    assert "name is required" in _text(response)


def test_cannot_revoke_someone_elses_key(team, admin_user, member_user):
    key, secret = account_services.api_key_create(user=admin_user, name="admin key")
    url = reverse("web:api-key-revoke", kwargs={"team": "team-a", "key_id": key.pk})
    assert login(member_user).post(url, **HTMX).status_code == 404
    assert _api(secret).get("/api/v1/viewer").status_code == 200


# --- service accounts ------------------------------------------------------------------


def test_service_account_create_key_and_delete(team, admin_user, project):
    client = login(admin_user)
    url = reverse("web:service-accounts", kwargs={"team": "team-a"})
    response = client.post(url, {"name": "ci-bot", "role": "viewer"}, **HTMX)
    assert response.status_code == 200
    html = _text(response)
    secret = SECRET_RE.search(html).group(1)
    assert 'data-service-account="ci-bot"' in html
    api = _api(secret)
    assert api.get("/api/v1/teams/team-a/projects").status_code == 200
    # A viewer service account cannot create projects.
    assert (
        api.post("/api/v1/teams/team-a/projects", {"name": "x"}, format="json").status_code == 403
    )

    account = ServiceAccount.objects.for_team(team).get(name="ci-bot")
    key_url = reverse(
        "web:service-account-key-create", kwargs={"team": "team-a", "account_id": account.pk}
    )
    second = SECRET_RE.search(_text(client.post(key_url, **HTMX))).group(1)
    assert second != secret and _api(second).get("/api/v1/viewer").status_code == 200

    delete = reverse(
        "web:service-account-delete", kwargs={"team": "team-a", "account_id": account.pk}
    )
    assert client.post(delete, **HTMX).status_code == 200
    assert _api(secret).get("/api/v1/viewer").status_code == 401
    assert _api(second).get("/api/v1/viewer").status_code == 401


def test_service_account_of_another_team_is_not_found(team, admin_user, other_team, other_admin):
    account, _, _ = team_services.service_account_provision(
        team=other_team, name="theirs", role="member", actor=other_admin
    )
    url = reverse("web:service-account-delete", kwargs={"team": "team-a", "account_id": account.pk})
    assert login(admin_user).post(url, **HTMX).status_code == 404
    assert ServiceAccount.objects.for_team(other_team).filter(pk=account.pk).exists()


# --- projects ---------------------------------------------------------------------------


def test_create_project(team, member_user):
    client = login(member_user)
    url = reverse("web:project-list", kwargs={"team": "team-a"})
    response = client.post(
        url, {"name": "resnet-50", "description": "ImageNet", "visibility": "team"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/team-a/resnet-50/"
    project = Project.objects.for_team(team).get(name="resnet-50")
    assert project.description == "ImageNet" and project.created_by == member_user
    page = _text(client.get(response["Location"]))
    assert "Project resnet-50 created." in page and 'project="resnet-50"' in page


@pytest.mark.parametrize(
    "name,status,message",
    [
        ("resnet", 409, "already exists"),
        ("settings", 400, "is reserved"),
        ("registry", 400, "is reserved"),
        ("bad name!", 400, "Project name must be"),
    ],
)
def test_create_project_errors(team, admin_user, project, name, status, message):
    url = reverse("web:project-list", kwargs={"team": "team-a"})
    response = login(admin_user).post(url, {"name": name, "visibility": "team"})
    assert response.status_code == status
    assert message in _text(response)


def test_member_cannot_make_a_project_public(team, member_user):
    url = reverse("web:project-list", kwargs={"team": "team-a"})
    client = login(member_user)
    assert 'value="public"' not in _text(client.get(url))
    response = client.post(url, {"name": "leak", "visibility": "public"})
    assert response.status_code == 403
    assert not Project.objects.for_team(team).filter(name="leak").exists()


def test_project_settings_rename_and_visibility(team, admin_user, project):
    client = login(admin_user)
    url = reverse("web:project-settings", kwargs={"team": "team-a", "project": "resnet"})
    response = client.post(url, {"name": "resnet-v2", "description": "new", "visibility": "public"})
    assert response.status_code == 302
    assert response["Location"] == "/team-a/resnet-v2/settings"
    project.refresh_from_db()
    assert (project.name, project.description, project.visibility) == (
        "resnet-v2",
        "new",
        "public",
    )
    assert AuditEvent.objects.filter(team=team, action="project.visibility_changed").count() == 1
    assert client.get(url).status_code == 404  # the old name is gone


def test_project_rename_conflict_keeps_the_stored_name(team, admin_user, project):
    make_project(team, "other", actor=admin_user)
    url = reverse("web:project-settings", kwargs={"team": "team-a", "project": "resnet"})
    response = login(admin_user).post(url, {"name": "other", "visibility": "team"})
    assert response.status_code == 409
    html = _text(response)
    assert "already exists" in html
    assert 'action="/team-a/resnet/settings"' in html  # links still use the real name
    project.refresh_from_db()
    assert project.name == "resnet"


def test_project_delete_needs_the_name_typed(team, admin_user, project):
    client = login(admin_user)
    url = reverse("web:project-delete", kwargs={"team": "team-a", "project": "resnet"})
    response = client.post(url, {"confirm": "wrong"})
    assert response.status_code == 400
    assert "Type the project name" in _text(response)
    assert Project.objects.for_team(team).filter(pk=project.pk).exists()
    response = client.post(url, {"confirm": "resnet"})
    assert response.status_code == 302 and response["Location"] == "/team-a/"
    assert not Project.objects.for_team(team).filter(pk=project.pk).exists()


def test_member_cannot_delete_a_project(team, member_user, project):
    url = reverse("web:project-delete", kwargs={"team": "team-a", "project": "resnet"})
    assert login(member_user).post(url, {"confirm": "resnet"}).status_code == 403
    assert Project.objects.for_team(team).filter(pk=project.pk).exists()


def test_restricted_project_hidden_from_other_members(team, admin_user, member_user):
    make_project(team, "secret", actor=admin_user, visibility="restricted")
    client = login(member_user)
    assert "secret" not in _text(client.get("/team-a/"))
    assert client.get("/team-a/secret/").status_code == 404


def test_public_project_page_is_readable_signed_out(team, admin_user, client):
    make_project(team, "demo", actor=admin_user, visibility="public")
    response = client.get("/team-a/demo/")
    assert response.status_code == 200
    assert "demo" in _text(response)
    # Its settings are not: signed out is sent to sign in.
    assert client.get("/team-a/demo/settings").status_code == 302


def test_audit_page_lists_events(team, admin_user, member_user):
    team_services.membership_set_role(
        team=team, user_id=member_user.pk, role="viewer", actor=admin_user
    )
    html = _text(login(admin_user).get(reverse("web:team-audit", kwargs={"team": "team-a"})))
    assert "member.role_changed" in html and "member@a.example" in html


def test_personal_team_pages(admin_user):
    personal = Membership.objects.of_user(admin_user).get(team__is_personal=True).team
    client = login(admin_user)
    html = _text(client.get(reverse("web:team-settings", kwargs={"team": personal.slug})))
    assert "Personal team" in html and "Leave" not in html
    url = reverse("web:team-invitations", kwargs={"team": personal.slug})
    response = client.post(url, {"email": "x@example.com", "role": "member"}, **HTMX)
    assert response.status_code == 409


def test_unknown_page_uses_the_404_template(admin_user):
    response = login(admin_user).get("/no-such-team/")
    assert response.status_code == 404
    assert "Not found" in _text(response)
