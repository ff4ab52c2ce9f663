"""Notification API routes (docs/api.md "Notifications"). `user_urlpatterns` mount under
/api/v1/, `team_urlpatterns` under /api/v1/teams/<team>/, `project_urlpatterns` under
/api/v1/teams/<team>/projects/<project>/. Each name is in apps/core/policy.py."""

from django.urls import path

from apps.notifications import api_views as v

INTEGRATION = "integrations/<id:integration_id>"

user_urlpatterns = [
    path("v1/notifications", v.NotificationListView.as_view(), name="notification-list"),
    path("v1/notifications/read", v.NotificationReadView.as_view(), name="notification-read"),
    path(
        "v1/notifications/preferences", v.PreferencesView.as_view(), name="notification-preferences"
    ),
    path(
        "v1/notifications/<id:notification_id>",
        v.NotificationDetailView.as_view(),
        name="notification-detail",
    ),
]

team_urlpatterns = [
    path("integrations", v.IntegrationListView.as_view(), name="integration-list"),
    path(INTEGRATION, v.IntegrationDetailView.as_view(), name="integration-detail"),
    path(f"{INTEGRATION}/deliveries", v.DeliveryListView.as_view(), name="delivery-list"),
    path(
        f"{INTEGRATION}/deliveries/<id:delivery_id>",
        v.DeliveryDetailView.as_view(),
        name="delivery-detail",
    ),
    path(
        f"{INTEGRATION}/deliveries/<id:delivery_id>/replay",
        v.DeliveryReplayView.as_view(),
        name="delivery-replay",
    ),
]

project_urlpatterns = [
    path("runs/<run_uid:run>/alerts", v.RunAlertListView.as_view(), name="run-alert-list"),
]
