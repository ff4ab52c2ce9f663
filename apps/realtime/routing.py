"""WebSocket routes; each is classified in apps/core/policy.py like any other route."""

from django.urls import path

from apps.realtime.consumers import RunEventsConsumer

websocket_urlpatterns: list = [
    path(
        "ws/teams/<team_slug:team>/projects/<project_name:project>/runs/<run_uid:run>",
        RunEventsConsumer.as_asgi(),
        name="ws:run-events",
    ),
]
