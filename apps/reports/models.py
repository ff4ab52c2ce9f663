"""Reports: a project's Markdown documents with embedded live panels (docs/collaboration.md
"Reports").

A report's text lives in its versions (each save is one `ReportVersion`); the report row
keeps the newest title and body for listing. `sharing` says who reads it inside the
team; `publish_token` (a secret, revocable) publishes one version read-only by link, to
exactly those who may read the project (apps/reports/web_views.py `report_shared`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class Sharing(models.TextChoices):
    PRIVATE = "private"  # its author and the team's admins
    TEAM = "team"  # everyone who may read the project


class Report(TeamOwnedModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True, default="")
    body = models.TextField(blank=True, default="")  # the newest version's Markdown
    version = models.PositiveIntegerField(default=1)  # the newest version's number
    sharing = models.CharField(max_length=16, choices=Sharing.choices, default=Sharing.TEAM)
    # NULL when unpublished: unique among the published ones (empty strings would collide).
    publish_token = models.CharField(max_length=64, null=True, unique=True)  # noqa: DJ001
    published_version = models.PositiveIntegerField(null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["team", "project", "-updated_at"])]


class ReportVersion(TeamOwnedModel):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    # "restored from v3" and the like; empty for an ordinary save.
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="reportversion_unique")
        ]


class ExportState(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ReportExport(TeamOwnedModel):
    """One PDF rendering of one version (apps/reports/tasks.py)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=ExportState.choices, default="pending")
    path = models.CharField(max_length=500, blank=True, default="")  # in default storage
    size = models.BigIntegerField(null=True)
    error = models.CharField(max_length=2000, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)
