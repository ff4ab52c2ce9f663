"""Custom roles through the API: create, read, change (members follow at once), delete
(refused while assigned), bad input named by field, every change audited."""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.teams.models import AuditEvent, Membership


def _session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _roles(team) -> str:
    return f"/api/v1/teams/{team.slug}/roles"


def test_create_assign_change_and_delete(team, admin_user, member_user, project):
    admin = _session(admin_user)
    created = admin.post(
        _roles(team),
        {"name": "runner", "base_role": "viewer", "added": ["runs:write_own"]},
        format="json",
    )
    assert created.status_code == 201
    role = created.json()
    reads = ["team:read", "projects:read", "runs:read", "artifacts:read", "sweeps:read"]
    assert role["permissions"] == sorted([*reads, "runs:write_own"])
    assigned = admin.patch(
        f"/api/v1/teams/{team.slug}/members/{member_user.pk}", {"role": "runner"}, format="json"
    )
    assert assigned.json()["role"] == "runner" and assigned.json()["base_role"] == "viewer"

    member = _session(member_user)
    runs = f"/api/v1/teams/{team.slug}/projects/{project.name}/runs"
    assert member.post(runs, {}, format="json").status_code == 201
    assert member.post(f"/api/v1/teams/{team.slug}/projects", {"name": "x"}).status_code == 403

    # Dropping the permission takes effect on the member's next request.
    changed = admin.patch(f"{_roles(team)}/{role['id']}", {"added": []}, format="json")
    assert changed.status_code == 200 and "runs:write_own" not in changed.json()["permissions"]
    assert member.post(runs, {}, format="json").status_code == 403

    in_use = admin.delete(f"{_roles(team)}/{role['id']}")
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "role_in_use"
    admin.patch(
        f"/api/v1/teams/{team.slug}/members/{member_user.pk}", {"role": "member"}, format="json"
    )
    assert Membership.objects.for_team(team).get(user=member_user).custom_role is None
    assert admin.delete(f"{_roles(team)}/{role['id']}").status_code == 204
    actions = list(
        AuditEvent.objects.filter(team=team, action__startswith="role.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["role.created", "role.updated", "role.deleted"]
    changes = AuditEvent.objects.filter(team=team, action="member.role_changed").order_by("id")
    assert [e.detail for e in changes] == [
        {"from": "member", "to": "runner"},
        {"from": "runner", "to": "member"},
    ]


def test_bad_input_names_the_field(team, admin_user):
    admin = _session(admin_user)
    cases = [
        ({"name": "x", "base_role": "owner"}, "base_role"),
        ({"name": "x", "base_role": "viewer", "added": ["runs:everything"]}, "added"),
        ({"name": "admin", "base_role": "viewer"}, "name"),
        ({"base_role": "viewer"}, "name"),
        ({"name": "x", "base_role": "viewer", "removed": "team:read"}, "removed"),
    ]
    for body, field in cases:
        response = admin.post(_roles(team), body, format="json")
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert field in error["detail"] or error["detail"].get("field") == field, (body, error)
    admin.post(_roles(team), {"name": "dup", "base_role": "viewer"}, format="json")
    clash = admin.post(_roles(team), {"name": "dup", "base_role": "member"}, format="json")
    assert clash.status_code == 409 and clash.json()["error"]["detail"]["field"] == "name"


def test_members_read_roles_and_only_admins_change_them(team, admin_user, member_user):
    _session(admin_user).post(_roles(team), {"name": "r", "base_role": "viewer"}, format="json")
    member = _session(member_user)
    assert [r["name"] for r in member.get(_roles(team)).json()["results"]] == ["r"]
    refused = member.post(_roles(team), {"name": "s", "base_role": "admin"}, format="json")
    assert refused.status_code == 403


def test_the_last_plain_admin_cannot_take_a_custom_role(team, admin_user):
    admin = _session(admin_user)
    admin.post(_roles(team), {"name": "almost-admin", "base_role": "admin"}, format="json")
    url = f"/api/v1/teams/{team.slug}/members/{admin_user.pk}"
    response = admin.patch(url, {"role": "almost-admin"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "last_admin"
