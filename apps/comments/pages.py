"""What a page embedding the comments panel (templates/comments/panel.html and
static/js/comments.js) needs, as json_script data."""

from __future__ import annotations

from django.middleware.csrf import get_token
from django.urls import reverse

from apps.comments.models import TargetKind
from apps.teams import roles

_API = {
    TargetKind.RUN: ("api:run-comment-list", "runs/{run}"),
    TargetKind.ARTIFACT_VERSION: (
        "api:artifact-version-comment-list",
        "artifacts/{name}/versions/{ref}",
    ),
    TargetKind.SWEEP: ("api:sweep-comment-list", "sweeps/{sweep}"),
    TargetKind.REPORT: ("api:report-comment-list", "reports/{report_id}"),
    TargetKind.REGISTERED_MODEL: ("api:registered-model-comment-list", "registered-models/{name}"),
}


def panel_config(request, kind: str, **kwargs) -> dict:
    """`kwargs` are the target's URL values (run=…, or name= and ref=, or sweep=)."""
    scope = request.team_scope
    route, tail = _API[kind]
    url_kwargs = {"team": scope.team.slug, **kwargs}
    ws = f"/ws/teams/{scope.team.slug}"
    if kind != TargetKind.REGISTERED_MODEL:
        url_kwargs["project"] = scope.project.name
        ws += f"/projects/{scope.project.name}"
    user = request.user
    return {
        "api": reverse(route, kwargs=url_kwargs),
        "ws": f"{ws}/{tail.format(**kwargs)}/comments",
        "mentionable": reverse("api:mentionable-members", kwargs={"team": scope.team.slug}),
        "project": scope.project.name if scope.project is not None else None,
        "can_comment": scope.has(roles.PROJECTS_WRITE) and scope.membership is not None,
        "me": user.pk if user.is_authenticated else None,
        "csrf": get_token(request),
    }
