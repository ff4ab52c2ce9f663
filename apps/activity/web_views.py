"""Activity pages: a project's and a team's feed, newest first, paged by `?before=`."""

from __future__ import annotations

from django.shortcuts import render

from apps.activity import selectors
from apps.projects.selectors import projects_visible
from apps.projects.web_views import project_context


def _page(request, team, projects, include_team_events=False):
    before = selectors.parse_cursor(request.GET.get("before"))
    return selectors.feed(
        team, projects, before=before, limit=50, include_team_events=include_team_events
    )


def project_activity(request, team, project):
    scope = request.team_scope
    items, cursor = _page(request, scope.team, [scope.project])
    context = project_context(request, "activity", items=items, next_before=cursor)
    return render(request, "activity/project.html", context)


def team_activity(request, team):
    scope = request.team_scope
    projects = list(projects_visible(scope.team, membership=scope.membership, user=request.user))
    items, cursor = _page(request, scope.team, projects, include_team_events=True)
    return render(
        request,
        "activity/team.html",
        {"team": scope.team, "section": "activity", "items": items, "next_before": cursor},
    )
