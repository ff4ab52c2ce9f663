from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.tenancy import TeamOwnedModel


class Visibility(models.TextChoices):
    RESTRICTED = "restricted", "Restricted (team admins and the owner)"
    TEAM = "team", "Team"
    PUBLIC = "public", "Public (read-only to anyone)"
    OPEN = "open", "Open (anyone signed in may log runs)"


class Project(TeamOwnedModel):
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.TEAM
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="project_unique_name")]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name


class SavedView(TeamOwnedModel):
    """A named workspace layout of a project, shared with the team (DESIGN.md §3).

    `spec` is the front end's document (panels and their settings, table columns, pins
    and widths, filters, sort, grouping, x axis, smoothing); the server checks only its
    shape and size (apps.projects.services.validate_view_spec). At most one view per
    project is the default (a partial unique constraint)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=128)
    spec = models.JSONField(default=dict)
    is_default = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="savedview_unique_name"),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(is_default=True),
                name="savedview_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name
