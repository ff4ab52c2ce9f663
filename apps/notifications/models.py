"""Notifications (docs/collaboration.md): an Event happened once; it reaches people in-app
(Notification) and by email, and teams' endpoints by webhook or Slack (Delivery, with a
log of every attempt). Alerts from `wandb.alert()` are stored as Alert rows.

Idempotency: an Event is unique per (team, key), a Notification per (event, recipient),
a Delivery per (event, channel, recipient, integration), so a task that runs twice or an
event published twice reaches nobody twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class Kind(models.TextChoices):
    MENTION = "mention", "Mentions"
    COMMENT = "comment", "Comments on what I own or follow"
    ALERT = "alert", "Alerts from my runs (wandb.alert)"
    RUN_FAILED = "run_failed", "My runs failing or crashing"
    SWEEP_FINISHED = "sweep_finished", "Sweeps I started finishing"
    ALIAS_MOVED = "alias_moved", "Aliases added or moved on registered models"
    AUTOMATION = "automation", "Automations that notify me"


# What each kind does when a user has not chosen: (in-app, email).
DEFAULTS: dict[str, tuple[bool, bool]] = {
    Kind.MENTION: (True, True),
    Kind.COMMENT: (True, False),
    Kind.ALERT: (True, True),
    Kind.RUN_FAILED: (True, True),
    Kind.SWEEP_FINISHED: (True, False),
    Kind.ALIAS_MOVED: (True, False),
    Kind.AUTOMATION: (True, True),
}


class Event(TeamOwnedModel):
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    project = models.ForeignKey(
        "projects.Project", null=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    url = models.CharField(max_length=1000, blank=True)  # a path on this server
    data = models.JSONField(default=dict)  # recipients, integrations, extra payload
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "key"], name="notif_event_key")]


class Notification(TeamOwnedModel):
    """In-app: one row per recipient of an event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient"], name="notif_once_per_recipient")
        ]
        indexes = [models.Index(fields=["recipient", "-created_at"])]


class Preference(models.Model):
    """A user's choice for one kind (no row: DEFAULTS). Not team-owned: it is the
    user's own, for every team."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notif_pref_unique")]


class IntegrationType(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"


class Integration(TeamOwnedModel):
    """A team's endpoint, set by its admins. `kinds` empty: it hears only automations that
    name it; otherwise every event of those kinds in the team."""

    name = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=IntegrationType.choices)
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=100)  # HMAC-SHA256 key of webhook signatures
    kinds = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)


class Channel(models.TextChoices):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(TeamOwnedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        Integration, null=True, on_delete=models.CASCADE, related_name="+"
    )
    # "<channel>:<recipient id>:<integration id>": unique per event (NULLs would not be).
    dedupe = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.IntegerField(default=0)
    round_attempts = models.IntegerField(default=0)  # since the last replay
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "dedupe"], name="notif_delivery_once")
        ]
        indexes = [models.Index(fields=["team", "integration", "-created_at"])]


class DeliveryAttempt(TeamOwnedModel):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+")
    number = models.IntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.IntegerField(null=True)
    response = models.TextField(blank=True)  # the first RESPONSE_KEEP characters
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="notif_attempt_once")
        ]


class Level(models.TextChoices):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class Alert(TeamOwnedModel):
    """`wandb.alert(title, text, level, wait_duration)` from a run. `notified` is False when
    an alert with the same title of the same run notified within its wait_duration."""

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=64)  # the SDK's id: a re-sent record is one alert
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    wait_duration_s = models.FloatField(default=0)
    at = models.DateTimeField(default=timezone.now)  # when the script raised it
    notified = models.BooleanField(default=False)
    event = models.ForeignKey(Event, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "client_id"], name="notif_alert_once")
        ]
        indexes = [models.Index(fields=["run", "title", "-at"])]
