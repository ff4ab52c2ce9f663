"""Activity feed API: a project's (projects:read) and a team's (team:read, over the
projects the caller may see)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.activity import selectors
from apps.api.base import GradlineAPIView
from apps.api.pagination import int_param
from apps.projects.selectors import projects_visible


def page(request, team, projects, include_team_events=False):
    limit = int_param(request, "limit", 50, minimum=1, maximum=selectors.MAX_LIMIT)
    before = selectors.parse_cursor(request.query_params.get("before"))
    items, cursor = selectors.feed(
        team, projects, before=before, limit=limit, include_team_events=include_team_events
    )
    return {"results": [i.out() for i in items], "next_before": cursor}


class ProjectActivityView(GradlineAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project):
        return Response(page(request, self.team, [self.project]))


class TeamActivityView(GradlineAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team):
        projects = list(
            projects_visible(self.team, membership=self.scope.membership, user=request.user)
        )
        return Response(page(request, self.team, projects, include_team_events=True))
