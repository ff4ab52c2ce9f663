"""Report reads. Functions take the team first; `actor` and `permissions` are the
caller's (apps.core.access.Scope), because a private report is its author's and the
team admins' alone: to anyone else it answers NotFound, exactly like a missing one."""

from __future__ import annotations

from django.db.models import Q

from apps.core.errors import NotFound
from apps.reports.models import Report, ReportExport, ReportVersion, Sharing
from apps.teams import roles


def _readable(qs, actor, permissions):
    if roles.TEAM_MANAGE in permissions:
        return qs
    mine = Q(created_by_id=actor.pk) if actor is not None else Q(pk__in=[])
    return qs.filter(Q(sharing=Sharing.TEAM) | mine)


def reports_visible(team, project, *, actor, permissions, limit: int = 500) -> list[Report]:
    qs = Report.objects.for_team(team).filter(project=project).select_related("created_by")
    return list(_readable(qs, actor, permissions).order_by("-updated_at", "-id")[:limit])


def report_get(team, project, report_id: int, *, actor, permissions) -> Report:
    qs = Report.objects.for_team(team).filter(project=project, pk=report_id)
    report = _readable(qs, actor, permissions).select_related("created_by").first()
    if report is None:
        raise NotFound("Report not found.")
    return report


def versions(team, report: Report) -> list[ReportVersion]:
    return list(
        ReportVersion.objects.for_team(team)
        .filter(report=report)
        .select_related("created_by")
        .order_by("-number")[:1000]
    )


def version_get(team, report: Report, number: int) -> ReportVersion:
    version = (
        ReportVersion.objects.for_team(team)
        .filter(report=report, number=number)
        .select_related("created_by")
        .first()
    )
    if version is None:
        raise NotFound(f"Report {report.pk} has no version {number}.")
    return version


def report_by_token(token: str) -> Report | None:
    """The published report a share link names, in whatever team: the one lookup without
    a team scope, because the link is the entry point that names the team. The caller
    then opens that team's scope and applies the project's visibility
    (web_views.report_shared); the token alone grants nothing beyond it."""
    if not token or len(token) > 64:
        return None
    return (
        Report.objects.across_teams()
        .filter(publish_token=token, published_version__isnull=False)
        .select_related("team", "project")
        .first()
    )


def export_get(team, report: Report, export_id: int) -> ReportExport:
    export = ReportExport.objects.for_team(team).filter(report=report, pk=export_id).first()
    if export is None:
        raise NotFound("Export not found.")
    return export


def export_latest(team, report: Report) -> ReportExport | None:
    return ReportExport.objects.for_team(team).filter(report=report).order_by("-id").first()
