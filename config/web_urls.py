"""Web pages, one namespace ("web"); each app contributes its own patterns."""

from django.urls import include, path

app_name = "web"

urlpatterns = [
    path("", include("apps.notifications.web_urls")),
    path("", include("apps.teams.web_urls")),
    path("", include("apps.sso.web_urls")),
    path("", include("apps.scim.web_urls")),
    path("", include("apps.automations.web_urls")),
    path("", include("apps.monitoring.web_urls")),
    path("", include("apps.activity.web_urls")),
    path("", include("apps.reports.web_urls")),
    path("", include("apps.projects.web_urls")),
    path("", include("apps.registry.web_urls")),
    path("", include("apps.deployments.web_urls")),
    path("", include("apps.sweeps.web_urls")),
    path("", include("apps.runs.web_urls")),
]
