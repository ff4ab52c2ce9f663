"""WebSocket route of deployment events (classified in apps/core/policy.py)."""

from django.urls import path

from apps.deployments.consumers import DeploymentEventsConsumer

websocket_urlpatterns = [
    path(
        "ws/teams/<team_slug:team>/deployments/<id:deployment_id>",
        DeploymentEventsConsumer.as_asgi(),
        name="ws:deployment-events",
    ),
]
