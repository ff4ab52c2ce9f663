"""Project reads."""

from __future__ import annotations

from django.db.models import CharField, Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, NullIf

from apps.core.errors import NotFound
from apps.projects.models import Project, SavedView, Visibility
from apps.teams.roles import ADMIN


def projects_visible(team, *, membership, user):
    """The team's projects this caller may see, newest first: restricted ones only to
    admins and their creator; to a non-member (membership None) public and open ones.

    Each carries where work happens: `run_count`, `last_activity` (the latest run update)
    and `last_logged_by` (name or email of that run's creator), read off the runs'
    (project, -updated_at) index."""
    from apps.runs.models import Run

    runs = Run.objects.for_team(team).filter(project=OuterRef("pk"))
    latest = runs.order_by("-updated_at", "-id")
    qs = (
        Project.objects.for_team(team)
        .annotate(
            run_count=Coalesce(
                Subquery(runs.order_by().values("project").annotate(n=Count("id")).values("n")),
                0,
            ),
            last_activity=Subquery(latest.values("updated_at")[:1]),
            last_logged_by=Subquery(
                latest.annotate(
                    who=Coalesce(
                        NullIf("created_by__name", Value("")),
                        "created_by__email",
                        output_field=CharField(),
                    )
                ).values("who")[:1]
            ),
        )
        .order_by("-updated_at", "-id")
    )
    if membership is None:
        return qs.filter(visibility__in=[Visibility.PUBLIC, Visibility.OPEN])
    if membership.role == ADMIN:
        return qs
    return qs.filter(~Q(visibility=Visibility.RESTRICTED) | Q(created_by=user))


def project_has_runs(team, project) -> bool:
    """Whether the project's home shows the workspace (else the first-run empty state)."""
    from apps.runs.models import Run

    return Run.objects.for_team(team).filter(project=project).exists()


def views_list(team, project) -> list:
    """The project's saved views: the default first, then by name."""
    return list(
        SavedView.objects.for_team(team)
        .filter(project=project)
        .select_related("created_by")
        .order_by("-is_default", "name", "id")
    )


def view_get(team, project, view_id: int):
    view = (
        SavedView.objects.for_team(team)
        .filter(project=project, pk=view_id)
        .select_related("created_by")
        .first()
    )
    if view is None:
        raise NotFound("View not found.")
    view.team, view.project = team, project
    return view
