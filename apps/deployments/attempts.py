"""Starting an attempt (the row and its event) and finding deployments whose followed
alias moved; below services and tasks, which queue the job (the imports point one way:
services -> tasks -> jobs -> attempts)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.deployments import events, references
from apps.deployments.models import Deployment, State


def start(deployment: Deployment, action: str, message: str) -> None:
    """Bump the attempt for `action` (deploy, stop or delete); the caller queues its job."""
    deployment.attempt += 1
    deployment.action = action
    deployment.error = ""
    deployment.state = State.STOPPING if action in ("stop", "delete") else State.PENDING
    deployment.updated_at = timezone.now()
    deployment.save()
    events.record(deployment, "state", f"{deployment.state}: {message}")


def locked(deployment: Deployment) -> Deployment:
    return Deployment.objects.for_team(deployment.team).select_for_update().get(pk=deployment.pk)


def follow_aliases(team) -> list[tuple[int, int]]:
    """Start a redeploy of each following deployment of `team` whose alias moved;
    returns the (deployment id, attempt) pairs whose jobs the caller queues."""
    started = []
    following = (
        Deployment.objects.for_team(team)
        .filter(follow_alias=True)
        .exclude(state__in=[State.STOPPING, State.STOPPED])
        .select_related("artifact", "registered_model")
    )
    for deployment in following:
        deployment.team = team
        again = references.resolve_again(team, deployment)
        if again is None or again[0].pk == deployment.version_id:
            continue
        with transaction.atomic():
            row = locked(deployment)
            if row.version_id == again[0].pk or not row.follow_alias:
                continue
            row.version, row.version_label = again
            start(row, "deploy", f"alias {row.ref!r} moved to {again[1]}")
            started.append((row.pk, row.attempt))
    return started
