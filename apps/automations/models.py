"""Automations (docs/collaboration.md): "when <event> [and <condition>] then <action>",
scoped to a project or a registered model, evaluated in Celery; every firing is logged.

A Firing is unique per (automation, subject): the subject names what fired it (a run's
end, a run crossing a threshold, one alias event, one version), so re-evaluating the
same thing (a retried task, the next ingest batch of a run already over the threshold)
never fires twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class Trigger(models.TextChoices):
    RUN_FINISHED = "run_finished"
    RUN_FAILED = "run_failed"
    RUN_CRASHED = "run_crashed"
    METRIC_THRESHOLD = "metric_threshold"
    METRIC_ZSCORE = "metric_zscore"
    VERSION_CREATED = "artifact_version_created"
    ALIAS_ADDED = "alias_added"
    ALIAS_MOVED = "alias_moved"


RUN_TRIGGERS = {Trigger.RUN_FINISHED, Trigger.RUN_FAILED, Trigger.RUN_CRASHED}
METRIC_TRIGGERS = {Trigger.METRIC_THRESHOLD, Trigger.METRIC_ZSCORE}
# Registered models know only alias events; projects know all of them.
MODEL_TRIGGERS = {Trigger.ALIAS_ADDED, Trigger.ALIAS_MOVED}


class Action(models.TextChoices):
    NOTIFY = "notify"  # in-app + email per preferences, to listed members (and/or the run owner)
    WEBHOOK = "webhook"  # a team webhook integration
    SLACK = "slack"  # a team Slack integration


class Automation(TeamOwnedModel):
    name = models.CharField(max_length=100)
    project = models.ForeignKey(
        "projects.Project", null=True, on_delete=models.CASCADE, related_name="+"
    )
    registered_model = models.ForeignKey(
        "registry.RegisteredModel", null=True, on_delete=models.CASCADE, related_name="+"
    )
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    condition = models.JSONField(default=dict)
    action = models.CharField(max_length=16, choices=Action.choices)
    action_config = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["team", "project", "trigger"]),
            models.Index(fields=["team", "registered_model", "trigger"]),
        ]


class Firing(TeamOwnedModel):
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    summary = models.CharField(max_length=500)
    detail = models.JSONField(default=dict)
    event = models.ForeignKey(
        "notifications.Event", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["automation", "subject"], name="automation_fires_once")
        ]
        indexes = [models.Index(fields=["team", "automation", "-fired_at"])]
