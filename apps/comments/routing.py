"""WebSocket routes of live comments and notifications (classified in apps/core/policy.py,
"--- WebSockets")."""

from django.urls import path

from apps.comments.consumers import consumer_for
from apps.comments.models import TargetKind
from apps.notifications.consumers import NotificationsConsumer

TEAM = "ws/teams/<team_slug:team>"
PROJECT = f"{TEAM}/projects/<project_name:project>"
_KINDS = [
    (f"{PROJECT}/runs/<run_uid:run>/comments", TargetKind.RUN, "ws:run-comments"),
    (
        f"{PROJECT}/artifacts/<artifact_name:name>/versions/<artifact_ref:ref>/comments",
        TargetKind.ARTIFACT_VERSION,
        "ws:artifact-version-comments",
    ),
    (f"{PROJECT}/sweeps/<sweep_id:sweep>/comments", TargetKind.SWEEP, "ws:sweep-comments"),
    (f"{PROJECT}/reports/<id:report_id>/comments", TargetKind.REPORT, "ws:report-comments"),
    (
        f"{TEAM}/registered-models/<model_name:name>/comments",
        TargetKind.REGISTERED_MODEL,
        "ws:registered-model-comments",
    ),
]

websocket_urlpatterns = [
    *(path(route, consumer_for(kind, name).as_asgi(), name=name) for route, kind, name in _KINDS),
    path("ws/notifications", NotificationsConsumer.as_asgi(), name="ws:notifications"),
]
