"""Monitoring pages (apps/core/policy.py "--- web: monitoring"); no trailing slash, so they
never match a project overview (/<team>/<project>/)."""

from django.urls import path

from apps.monitoring import web_views as v

urlpatterns = [
    path("<team_slug:team>/monitors", v.monitor_list, name="monitor-list"),
    path(
        "<team_slug:team>/monitors/<project_name:monitor>", v.monitor_detail, name="monitor-detail"
    ),
]
