"""Project reads."""

from __future__ import annotations

from django.db.models import Q

from apps.projects.models import Project, Visibility
from apps.teams.roles import ADMIN


def projects_visible(team, *, membership, user) -> list[Project]:
    """The team's projects this member may see (restricted ones: admins and owner)."""
    qs = Project.objects.for_team(team)
    if membership is None:
        return qs.filter(visibility__in=[Visibility.PUBLIC, Visibility.OPEN])
    if membership.role == ADMIN:
        return qs
    return qs.filter(~Q(visibility=Visibility.RESTRICTED) | Q(created_by=user))
