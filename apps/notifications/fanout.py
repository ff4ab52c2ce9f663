"""Fanning an Event out to its recipients and integrations (run by
apps.notifications.tasks.fan_out; idempotent: rows that exist are kept, so a task that
runs twice reaches nobody twice). Imports nothing from services or tasks, so the modules
import one way: services -> tasks -> fanout."""

from __future__ import annotations

from django.db import transaction

from apps.notifications.models import (
    DEFAULTS,
    Channel,
    Delivery,
    DeliveryState,
    Event,
    Integration,
    IntegrationType,
    Notification,
    Preference,
)
from apps.realtime import events, groups
from apps.teams.models import Membership


def _dedupe(channel: str, recipient_id=None, integration_id=None) -> str:
    return f"{channel}:{recipient_id or ''}:{integration_id or ''}"


def fan_out(*, team, event: Event) -> tuple[list[Notification], list[int]]:
    """Notifications and deliveries of `event` (idempotent: rows that exist are kept).
    Returns (new notifications, ids of deliveries still to send)."""
    members = set(
        Membership.objects.for_team(team)
        .filter(user_id__in=event.data.get("recipients") or [], user__is_active=True)
        .values_list("user_id", flat=True)
    )
    chosen = {p.user_id: p for p in Preference.objects.filter(user_id__in=members, kind=event.kind)}
    default_in_app, default_email = DEFAULTS.get(event.kind, (True, False))
    in_app = [u for u in members if (chosen[u].in_app if u in chosen else default_in_app)]
    by_email = [u for u in members if (chosen[u].email if u in chosen else default_email)]
    if "integrations" in event.data:
        hooks = Integration.objects.for_team(team).filter(
            pk__in=event.data["integrations"], enabled=True
        )
    else:
        hooks = [
            i
            for i in Integration.objects.for_team(team).filter(enabled=True)
            if event.kind in (i.kinds or [])
        ]
    with transaction.atomic():
        existing = set(
            Notification.objects.for_team(team)
            .filter(event=event)
            .values_list("recipient_id", flat=True)
        )
        Notification.objects.for_team(team).bulk_create(
            [Notification(team=team, event=event, recipient_id=u) for u in in_app],
            ignore_conflicts=True,
        )
        created = list(
            Notification.objects.for_team(team)
            .filter(event=event)
            .exclude(recipient_id__in=existing)
        )
        rows = [
            Delivery(
                team=team,
                event=event,
                channel=Channel.EMAIL,
                recipient_id=u,
                dedupe=_dedupe(Channel.EMAIL, recipient_id=u),
            )
            for u in by_email
        ] + [
            Delivery(
                team=team,
                event=event,
                channel=Channel.SLACK if hook.type == IntegrationType.SLACK else Channel.WEBHOOK,
                integration=hook,
                dedupe=_dedupe(hook.type, integration_id=hook.pk),
            )
            for hook in hooks
        ]
        Delivery.objects.for_team(team).bulk_create(rows, ignore_conflicts=True)
        pending = list(
            Delivery.objects.for_team(team)
            .filter(event=event, state=DeliveryState.PENDING)
            .values_list("pk", flat=True)
        )
    for note in created:
        note.event = event
        events.publish_on_commit(
            [groups.user_notifications_group(note.recipient_id)],
            {"type": "notification", "notification": notification_out(note)},
        )
    return created, pending


def notification_out(note: Notification) -> dict:
    event = note.event
    return {
        "id": note.pk,
        "team": note.team.slug,
        "kind": event.kind,
        "title": event.title,
        "text": event.text,
        "url": event.url,
        "created_at": note.created_at.isoformat(),
        "read": note.read_at is not None,
    }
