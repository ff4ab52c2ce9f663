"""Notification writes: publishing events, fanning them out, preferences, integrations,
replays, alerts.

`event_publish` is what other apps call: inside their transaction it stores one Event
(unique per team and key, so publishing twice is harmless) and, after commit, sends the
fan-out task. Nothing here talks to the network: email and webhooks go out in Celery
tasks (apps/notifications/tasks.py) with short timeouts, so a dead or hanging endpoint
never slows the request that caused the event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import NotFound, field_error
from apps.notifications import destinations, fanout, signing, tasks
from apps.notifications.models import (
    DEFAULTS,
    Alert,
    Delivery,
    DeliveryState,
    Event,
    Integration,
    IntegrationType,
    Kind,
    Level,
    Notification,
    Preference,
)

__all__ = ["Kind", "event_publish"]


def event_publish(
    *,
    team,
    kind: str,
    key: str,
    title: str,
    text: str = "",
    url: str = "",
    project=None,
    actor=None,
    recipients: list[int] | None = None,
    integrations: list[int] | None = None,
    data: dict | None = None,
) -> Event | None:
    """Record that `kind` happened (once per `key`) for `recipients` (user ids; only
    members of `team` are reached) and, when `integrations` is given, exactly those
    integrations; otherwise the team's integrations subscribed to `kind`. Returns None
    when the key was published before."""
    payload = {"recipients": sorted(set(recipients or [])), **(data or {})}
    if integrations is not None:
        payload["integrations"] = sorted(set(integrations))
    try:
        with transaction.atomic():
            event = Event.objects.for_team(team).create(
                team=team,
                key=key[:200],
                kind=kind,
                project=project,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                title=title[:300],
                text=text,
                url=url[:1000],
                data=payload,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: tasks.fan_out.delay(team.pk, event.pk))
    return event


def preferences_of(user) -> dict[str, dict[str, bool]]:
    chosen = {p.kind: p for p in Preference.objects.filter(user=user)}
    out = {}
    for kind in Kind.values:
        in_app, email = DEFAULTS[kind]
        if kind in chosen:
            in_app, email = chosen[kind].in_app, chosen[kind].email
        out[kind] = {"in_app": in_app, "email": email}
    return out


def preferences_update(*, user, data) -> dict[str, dict[str, bool]]:
    """`{"<kind>": {"in_app": bool, "email": bool}}`, either field optional."""
    if not isinstance(data, dict) or not data:
        raise field_error("Give {kind: {in_app, email}} for at least one kind.", "kind")
    current = preferences_of(user)
    for kind, choice in data.items():
        if kind not in Kind.values:
            raise field_error(f"Unknown kind {kind!r}; one of {', '.join(Kind.values)}.", kind)
        if not isinstance(choice, dict) or not set(choice) <= {"in_app", "email"}:
            raise field_error("Each kind takes {in_app, email}.", kind)
        for name, value in choice.items():
            if type(value) is not bool:
                raise field_error(f"{kind}.{name} must be true or false.", f"{kind}.{name}")
            current[kind][name] = value
    with transaction.atomic():
        for kind in data:
            Preference.objects.update_or_create(user=user, kind=kind, defaults=current[kind])
    return current


def unsubscribe(*, token: str) -> tuple[int, str] | None:
    """Turn off one kind of email for the token's user (idempotent); None: bad token."""
    found = signing.unsubscribe_read(token)
    if found is None or found[1] not in Kind.values:
        return None
    user_id, kind = found
    in_app = DEFAULTS[kind][0]
    existing = Preference.objects.filter(user_id=user_id, kind=kind).first()
    if existing is not None:
        in_app = existing.in_app
    Preference.objects.update_or_create(
        user_id=user_id, kind=kind, defaults={"in_app": in_app, "email": False}
    )
    return user_id, kind


# Fan-out lives in apps/notifications/fanout.py (the tasks run it; this module queues them).
notification_out = fanout.notification_out


def notifications_mark_read(*, user, ids: list[int] | None) -> int:
    """Mark the user's notifications read (all when `ids` is None); returns how many."""
    qs = Notification.objects.across_teams().filter(recipient=user, read_at=None)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


# --------------------------------------------------------------------------- integrations


def _integration_fields(data: dict, partial: bool) -> dict:
    fields = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
            raise field_error("name must be a string of 1-100 characters (no NUL).", "name")
        fields["name"] = name.strip()
    if "type" in data or not partial:
        if data.get("type", IntegrationType.WEBHOOK) not in IntegrationType.values:
            raise field_error("type must be 'webhook' or 'slack'.", "type")
        fields["type"] = data.get("type", IntegrationType.WEBHOOK)
    if "url" in data or not partial:
        fields["url"] = destinations.check_url(data.get("url"))
    if "kinds" in data:
        kinds = data["kinds"]
        if not isinstance(kinds, list) or not all(k in Kind.values for k in kinds):
            raise field_error(f"kinds must be a list of {', '.join(Kind.values)}.", "kinds")
        fields["kinds"] = sorted(set(kinds))
    if "enabled" in data:
        if type(data["enabled"]) is not bool:
            raise field_error("enabled must be true or false.", "enabled")
        fields["enabled"] = data["enabled"]
    return fields


def integration_create(*, team, actor, data: dict) -> Integration:
    if not isinstance(data, dict):
        raise field_error("Give an object.", "name")
    fields = _integration_fields(data, partial=False)
    return Integration.objects.for_team(team).create(
        team=team, secret=signing.new_secret(), created_by=actor, **fields
    )


def integration_update(*, integration: Integration, data: dict) -> Integration:
    if not isinstance(data, dict):
        raise field_error("Give an object.", "name")
    fields = _integration_fields(data, partial=True)
    if data.get("rotate_secret") is True:
        fields["secret"] = signing.new_secret()
    for name, value in fields.items():
        setattr(integration, name, value)
    integration.save()
    return integration


def integration_delete(*, integration: Integration) -> None:
    Integration.objects.for_team(integration.team).filter(pk=integration.pk).delete()


def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send a delivery again (a fresh round of attempts); its attempt log is kept."""
    with transaction.atomic():
        Delivery.objects.for_team(delivery.team).filter(pk=delivery.pk).update(
            state=DeliveryState.PENDING, round_attempts=0, updated_at=timezone.now()
        )
        transaction.on_commit(lambda: tasks.deliver.delay(delivery.team_id, delivery.pk))
    delivery.refresh_from_db()
    return delivery


# --------------------------------------------------------------------------- alerts

MAX_WAIT_S = 30 * 24 * 3600


def alert_record(*, run, data: dict) -> tuple[Alert, bool]:
    """`wandb.alert()` from `run`. Returns (alert, created). Rate limit as W&B does: an
    alert whose title matches one of the same run that notified less than its
    wait_duration before is stored but notifies nobody. Idempotent per client id."""
    if not isinstance(data, dict):
        raise field_error("Give an object.", "title")
    title, text = data.get("title"), data.get("text", "")
    if not isinstance(title, str) or not title.strip() or len(title) > 300 or "\x00" in title:
        raise field_error("title must be a string of 1-300 characters.", "title")
    if not isinstance(text, str) or len(text) > 10_000 or "\x00" in text:
        raise field_error("text must be a string of at most 10000 characters.", "text")
    level = str(data.get("level") or "INFO").upper()
    if level == "WARNING":
        level = "WARN"
    if level not in Level.values:
        raise field_error("level must be INFO, WARN or ERROR.", "level")
    wait = data.get("wait_duration")
    if wait is None:
        wait = 0.0
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_S:
        raise field_error(
            f"wait_duration must be seconds between 0 and {MAX_WAIT_S}.", "wait_duration"
        )
    client_id = data.get("id") or ""
    if not isinstance(client_id, str) or len(client_id) > 64:
        raise field_error("id must be a string of at most 64 characters.", "id")
    now = timezone.now()
    at = now
    wall = data.get("wall_time")
    if isinstance(wall, int | float) and not isinstance(wall, bool) and 0 < wall < 4e9:
        at = min(now, datetime.fromtimestamp(wall, tz=UTC))
    team = run.team
    with transaction.atomic():
        if client_id:
            existing = Alert.objects.for_team(team).filter(run=run, client_id=client_id).first()
            if existing is not None:
                return existing, False
        # Serialize alerts of one run so two at once cannot both pass the rate limit.
        from apps.runs.models import Run

        Run.objects.for_team(team).select_for_update(no_key=True).filter(pk=run.pk).first()
        last = (
            Alert.objects.for_team(team)
            .filter(run=run, title=title, notified=True)
            .order_by("-at")
            .first()
        )
        # W&B: an alert waits `wait_duration` after the last one with its title that was sent.
        notified = last is None or at >= last.at + timedelta(seconds=float(wait))
        alert = Alert.objects.for_team(team).create(
            team=team,
            run=run,
            client_id=client_id or f"srv-{now.timestamp()}",
            title=title,
            text=text,
            level=level,
            wait_duration_s=float(wait),
            at=at,
            notified=notified,
        )
        if notified:
            from django.urls import reverse

            url = reverse(
                "web:run-detail",
                kwargs={"team": team.slug, "project": run.project.name, "run": run.uid},
            )
            alert.event = event_publish(
                team=team,
                kind=Kind.ALERT,
                key=f"alert:{alert.pk}",
                title=f"[{level}] {title} — run {run.name or run.uid}",
                text=text,
                url=url,
                project=run.project,
                recipients=[run.created_by_id] if run.created_by_id else [],
                data={"level": level, "run": run.uid},
            )
            alert.save(update_fields=["event"])
    return alert, True


def alert_out(alert: Alert) -> dict:
    return {
        "id": alert.client_id,
        "title": alert.title,
        "text": alert.text,
        "level": alert.level,
        "wait_duration": alert.wait_duration_s,
        "at": alert.at.isoformat(),
        "notified": alert.notified,
    }


def integration_get(team, integration_id: int) -> Integration:
    found = Integration.objects.for_team(team).filter(pk=integration_id).first()
    if found is None:
        raise NotFound("Integration not found.")
    return found
