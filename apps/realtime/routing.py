"""WebSocket routes; each is classified in apps/core/policy.py like any other route."""

from django.urls import path

from apps.realtime.consumers import ProjectEventsConsumer, RunEventsConsumer

PROJECT = "ws/teams/<team_slug:team>/projects/<project_name:project>"

websocket_urlpatterns: list = [
    path(f"{PROJECT}/runs/<run_uid:run>", RunEventsConsumer.as_asgi(), name="ws:run-events"),
    path(f"{PROJECT}/events", ProjectEventsConsumer.as_asgi(), name="ws:project-events"),
]

# Live comments and notifications (apps/comments/routing.py).
from apps.comments.routing import websocket_urlpatterns as _collaboration  # noqa: E402

websocket_urlpatterns += _collaboration

# Live deployment events and logs (apps/deployments/routing.py).
from apps.deployments.routing import websocket_urlpatterns as _deployments  # noqa: E402

websocket_urlpatterns += _deployments

# A monitor's windows as they fill (apps/monitoring/routing.py).
from apps.monitoring.routing import websocket_urlpatterns as _monitoring  # noqa: E402

websocket_urlpatterns += _monitoring
