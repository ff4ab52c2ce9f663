"""Team reads. First argument is the team (or, for a user's own teams, the user)."""

from __future__ import annotations

from apps.teams.models import AuditEvent, Invitation, Membership, ServiceAccount, Team


def teams_of_user(user) -> list[Team]:
    return [m.team for m in Membership.objects.of_user(user).order_by("team__slug")]


def memberships_of_user(user):
    return Membership.objects.of_user(user).order_by("team__slug")


def team_members(team: Team):
    return Membership.objects.for_team(team).select_related("user").order_by("created_at")


def team_invitations(team: Team, *, pending_only: bool = True):
    qs = Invitation.objects.for_team(team).select_related("invited_by")
    return qs.filter(accepted_at__isnull=True) if pending_only else qs


def team_service_accounts(team: Team):
    return ServiceAccount.objects.for_team(team).select_related("user")


def team_audit_events(team: Team):
    return AuditEvent.objects.filter(team=team).select_related("actor")
