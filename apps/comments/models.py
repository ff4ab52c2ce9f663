"""Comments on runs, artifact versions, registered models, sweeps and reports
(docs/collaboration.md).

A comment names its target by kind and database id (`target_kind`, `target_id`): the
target is always resolved through its own app's team-scoped selector first
(apps/comments/targets.py), so a comment is only ever read or written next to an object
of the URL's team that the caller may see.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class TargetKind(models.TextChoices):
    RUN = "run"
    ARTIFACT_VERSION = "artifact_version"
    REGISTERED_MODEL = "registered_model"
    SWEEP = "sweep"
    REPORT = "report"


class Comment(TeamOwnedModel):
    target_kind = models.CharField(max_length=32, choices=TargetKind.choices)
    target_id = models.BigIntegerField()
    # The target's project (None for team-level targets: registered models).
    project = models.ForeignKey(
        "projects.Project", null=True, on_delete=models.CASCADE, related_name="+"
    )
    # Threads are one level deep: a reply's parent is a top-level comment.
    parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()  # Markdown source
    body_html = models.TextField()  # rendered and sanitized (apps/comments/markdown.py)
    mentions = ArrayField(models.BigIntegerField(), default=list)  # user ids
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True)
    deleted_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["team", "target_kind", "target_id", "created_at"]),
            models.Index(fields=["team", "project", "-created_at"]),
        ]


class Follow(TeamOwnedModel):
    """Someone who hears about new comments on a target (commenters follow it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    target_kind = models.CharField(max_length=32, choices=TargetKind.choices)
    target_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "target_kind", "target_id"], name="comment_follow_unique"
            )
        ]
