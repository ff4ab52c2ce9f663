"""Project pages."""

from __future__ import annotations

from django.shortcuts import render

from apps.projects import selectors


def project_list(request, team):
    scope = request.scope
    projects = selectors.projects_visible(
        scope.team, membership=scope.membership, user=request.user
    )
    return render(request, "projects/project_list.html", {"projects": projects})
