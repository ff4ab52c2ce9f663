"""Monitoring API routes under /api/v1/teams/<team>/ (apps/core/policy.py, "--- API:
monitoring")."""

from django.urls import path

from apps.monitoring import api_views as v

MONITOR = "monitors/<project_name:monitor>"

urlpatterns = [
    path("monitors", v.MonitorListView.as_view(), name="monitor-list"),
    path(MONITOR, v.MonitorDetailView.as_view(), name="monitor-detail"),
    path(f"{MONITOR}/predictions", v.PredictionsView.as_view(), name="monitor-predictions"),
    path(f"{MONITOR}/ground-truth", v.GroundTruthView.as_view(), name="monitor-ground-truth"),
    path(f"{MONITOR}/reference", v.ReferenceView.as_view(), name="monitor-reference"),
    path(f"{MONITOR}/metrics", v.MetricsView.as_view(), name="monitor-metrics"),
    path(f"{MONITOR}/drift", v.DriftView.as_view(), name="monitor-drift"),
    path(f"{MONITOR}/alert-rules", v.AlertRuleListView.as_view(), name="monitor-rule-list"),
    path(
        f"{MONITOR}/alert-rules/<id:rule_id>",
        v.AlertRuleDetailView.as_view(),
        name="monitor-rule-detail",
    ),
    path(f"{MONITOR}/alerts", v.AlertListView.as_view(), name="monitor-alert-list"),
]
