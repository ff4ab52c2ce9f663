"""Deployment reads; the first argument is always the team (DESIGN.md §7)."""

from __future__ import annotations

from apps.core.errors import NotFound
from apps.deployments.models import Deployment, DeploymentEvent, ServedVersion

MAX_EVENTS = 1000


def deployments_list(team, *, platform: str | None = None) -> list[Deployment]:
    qs = (
        Deployment.objects.for_team(team)
        .select_related("project")
        .order_by("endpoint_name", "platform")
    )
    if platform:
        qs = qs.filter(platform=platform)
    return list(qs[:1000])


def deployment_get(team, deployment_id: int) -> Deployment:
    deployment = (
        Deployment.objects.for_team(team)
        .select_related("project", "artifact", "registered_model", "created_by")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None:
        raise NotFound("Deployment not found.")
    deployment.team = team
    return deployment


def deployment_events(team, deployment: Deployment, *, after: int = 0, limit: int = MAX_EVENTS):
    return list(
        DeploymentEvent.objects.for_team(team)
        .filter(deployment=deployment, id__gt=after)
        .order_by("id")[: min(limit, MAX_EVENTS)]
    )


def deployment_history(team, deployment: Deployment) -> list[ServedVersion]:
    return list(
        ServedVersion.objects.for_team(team)
        .filter(deployment=deployment)
        .order_by("-started_at", "-id")[:500]
    )
