"""Deployment events and logs: stored rows, published live after commit to the
deployment's Channels group (apps/realtime/groups.py spells the name)."""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone

from apps.deployments.models import Deployment, DeploymentEvent

MAX_MESSAGE = 4000


def record(deployment: Deployment, kind: str, message: str, level: str = "info") -> DeploymentEvent:
    event = DeploymentEvent(
        team_id=deployment.team_id,
        deployment_id=deployment.pk,
        attempt=deployment.attempt,
        kind=kind,
        level=level,
        message=message.replace("\x00", "")[:MAX_MESSAGE],
        at=timezone.now(),
    )
    event.save(force_insert=True)
    payload = event_out(event)
    team_id, pk, state = deployment.team_id, deployment.pk, deployment.state
    transaction.on_commit(lambda: _publish(team_id, pk, {**payload, "state": state}))
    return event


def event_out(event: DeploymentEvent) -> dict:
    return {
        "id": event.pk,
        "attempt": event.attempt,
        "kind": event.kind,
        "level": event.level,
        "message": event.message,
        "at": event.at.isoformat(),
    }


def _publish(team_id: int, deployment_id: int, payload: dict) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.realtime.groups import deployment_group

    layer = get_channel_layer()
    if layer is None:
        return
    with contextlib.suppress(Exception):
        async_to_sync(layer.group_send)(
            deployment_group(team_id, deployment_id),
            {"type": "deployment.event", "event": payload},
        )
