"""Notification pages (apps/core/policy.py "--- web: notifications"). `/notifications` has
no trailing slash and a team slug cannot be "notifications" (apps.teams RESERVED_SLUGS
does not need it: team pages all end in a further segment)."""

from django.urls import path

from apps.notifications import web_views as v

INTEGRATION = "<team_slug:team>/settings/integrations/<id:integration_id>"

urlpatterns = [
    path("notifications", v.notification_list, name="notification-list"),
    path(
        "notifications/unsubscribe/<str:token>",
        v.notification_unsubscribe,
        name="notification-unsubscribe",
    ),
    path("<team_slug:team>/settings/integrations", v.team_integrations, name="team-integrations"),
    path(f"{INTEGRATION}/delete", v.integration_delete, name="integration-delete"),
    path(
        f"{INTEGRATION}/deliveries/<id:delivery_id>/replay",
        v.delivery_replay,
        name="delivery-replay",
    ),
]
