"""Comment API routes (docs/api.md "Comments"): `project_urlpatterns` mount under
/api/v1/teams/<team>/projects/<project>/, `team_urlpatterns` under /api/v1/teams/<team>/.
Each name is classified in apps/core/policy.py ("--- API: comments")."""

from django.urls import path

from apps.comments import api_views as v
from apps.comments.models import TargetKind

RUN = "runs/<run_uid:run>"
VERSION = "artifacts/<artifact_name:name>/versions/<artifact_ref:ref>"
SWEEP = "sweeps/<sweep_id:sweep>"
MODEL = "registered-models/<model_name:name>"
REPORT = "reports/<id:report_id>"


def _routes(prefix: str, kind: str, name: str) -> list:
    listing, detail = v.views_for(kind)
    return [
        path(f"{prefix}/comments", listing.as_view(), name=f"{name}-comment-list"),
        path(f"{prefix}/comments/<id:comment_id>", detail.as_view(), name=f"{name}-comment-detail"),
    ]


project_urlpatterns = [
    *_routes(RUN, TargetKind.RUN, "run"),
    *_routes(VERSION, TargetKind.ARTIFACT_VERSION, "artifact-version"),
    *_routes(SWEEP, TargetKind.SWEEP, "sweep"),
    *_routes(REPORT, TargetKind.REPORT, "report"),
    path("comment-counts/runs", v.RunCommentCountsView.as_view(), name="run-comment-counts"),
]

team_urlpatterns = [
    *_routes(MODEL, TargetKind.REGISTERED_MODEL, "registered-model"),
    path("mentionable", v.MentionableView.as_view(), name="mentionable-members"),
]
