"""Activity pages (apps/core/policy.py "--- web: activity")."""

from django.urls import path

from apps.activity import web_views as v

urlpatterns = [
    path("<team_slug:team>/activity", v.team_activity, name="team-activity"),
    path(
        "<team_slug:team>/<project_name:project>/activity",
        v.project_activity,
        name="project-activity",
    ),
]
