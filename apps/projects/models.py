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
