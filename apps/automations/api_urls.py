"""Automation API routes under /api/v1/teams/<team>/ (apps/core/policy.py, "--- API:
notifications, alerts, automations, activity")."""

from django.urls import path

from apps.automations import api_views as v

AUTOMATION = "automations/<id:automation_id>"

urlpatterns = [
    path("automations", v.AutomationListView.as_view(), name="automation-list"),
    path(AUTOMATION, v.AutomationDetailView.as_view(), name="automation-detail"),
    path(f"{AUTOMATION}/firings", v.FiringListView.as_view(), name="automation-firing-list"),
]
