"""Automations page (apps/core/policy.py "--- web: automations"); no trailing slash, so it
never matches a project overview (/<team>/<project>/)."""

from django.urls import path

from apps.automations import web_views as v

urlpatterns = [
    path("<team_slug:team>/automations", v.automation_list, name="automation-list"),
    path(
        "<team_slug:team>/automations/<id:automation_id>/delete",
        v.automation_delete,
        name="automation-delete",
    ),
]
