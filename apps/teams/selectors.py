"""Team reads. First argument is the team (or, for a user's own teams, the user)."""

from __future__ import annotations

from django.db.models import Case, F, OuterRef, Subquery, When

from apps.accounts.models import ApiKey
from apps.teams.models import AuditEvent, CustomRole, Invitation, Membership, ServiceAccount, Team


def personal_team_of(user) -> Team | None:
    """The user's personal team (service accounts have none)."""
    membership = Membership.objects.of_user(user).filter(team__is_personal=True).first()
    return membership.team if membership else None


def teams_of_user(user) -> list[Team]:
    return [m.team for m in Membership.objects.of_user(user).order_by("team__slug")]


def memberships_of_user(user):
    return Membership.objects.of_user(user).order_by("team__slug")


def team_members(team: Team):
    return (
        Membership.objects.for_team(team)
        .select_related("user", "custom_role")
        .order_by("created_at", "id")
    )


def team_custom_roles(team: Team):
    return CustomRole.objects.for_team(team).order_by("name")


def team_invitations(team: Team, *, pending_only: bool = True):
    qs = (
        Invitation.objects.for_team(team)
        .select_related("invited_by", "custom_role")
        .order_by("-id")
    )
    return qs.filter(accepted_at__isnull=True) if pending_only else qs


def team_service_accounts(team: Team):
    """Service accounts with their current role name (custom or base) as `role`."""
    role = (
        Membership.objects.for_team(team)
        .filter(user=OuterRef("user"))
        .annotate(
            name=Case(When(custom_role__isnull=False, then=F("custom_role__name")), default="role")
        )
        .values("name")[:1]
    )
    return (
        ServiceAccount.objects.for_team(team)
        .select_related("user")
        .annotate(role=Subquery(role))
        .order_by("id")
    )


def service_account_keys(team: Team, account: ServiceAccount):
    """The account's active keys (all restricted to `team`)."""
    return (
        ApiKey.objects.filter(user=account.user, team=team, revoked_at__isnull=True)
        .select_related("team")
        .order_by("-id")
    )


def team_audit_events(team: Team):
    return AuditEvent.objects.filter(team=team).select_related("actor").order_by("-id")
