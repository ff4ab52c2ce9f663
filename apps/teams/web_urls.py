"""Team pages. `/teams/` and `/invitations/…` are reserved first segments
(apps.teams.services.RESERVED_SLUGS); everything else starts with the team slug."""

from django.urls import path

from apps.teams import web_views as v

urlpatterns = [
    path("teams/", v.team_list, name="team-list"),
    path("invitations/<token:token>", v.invitation_accept, name="invitation-accept"),
    path("<team_slug:team>/settings/", v.team_settings, name="team-settings"),
    path("<team_slug:team>/settings/leave", v.team_leave, name="team-leave"),
    path("<team_slug:team>/settings/policy", v.team_policy, name="team-policy"),
    path("<team_slug:team>/settings/roles", v.team_roles, name="team-roles"),
    path("<team_slug:team>/settings/roles/<id:role_id>/delete", v.role_delete, name="role-delete"),
    path("<team_slug:team>/settings/members", v.team_members, name="team-members"),
    path(
        "<team_slug:team>/settings/members/<id:user_id>/role",
        v.member_role,
        name="member-role",
    ),
    path(
        "<team_slug:team>/settings/members/<id:user_id>/remove",
        v.member_remove,
        name="member-remove",
    ),
    path("<team_slug:team>/settings/invitations", v.team_invitations, name="team-invitations"),
    path(
        "<team_slug:team>/settings/invitations/<id:invitation_id>/revoke",
        v.invitation_revoke,
        name="invitation-revoke",
    ),
    path("<team_slug:team>/settings/api-keys", v.api_keys, name="api-keys"),
    path(
        "<team_slug:team>/settings/api-keys/<id:key_id>/revoke",
        v.api_key_revoke,
        name="api-key-revoke",
    ),
    path(
        "<team_slug:team>/settings/service-accounts",
        v.service_accounts,
        name="service-accounts",
    ),
    path(
        "<team_slug:team>/settings/service-accounts/<id:account_id>/keys",
        v.service_account_key_create,
        name="service-account-key-create",
    ),
    path(
        "<team_slug:team>/settings/service-accounts/<id:account_id>/delete",
        v.service_account_delete,
        name="service-account-delete",
    ),
    path("<team_slug:team>/settings/audit", v.team_audit, name="team-audit"),
]
