"""WebSocket route of a monitor's live events (classified in apps/core/policy.py)."""

from django.urls import path

from apps.monitoring.consumers import MonitorEventsConsumer

websocket_urlpatterns = [
    path(
        "ws/teams/<team_slug:team>/monitors/<project_name:monitor>/events",
        MonitorEventsConsumer.as_asgi(),
        name="ws:monitor-events",
    ),
]
