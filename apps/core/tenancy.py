"""Fail-closed tenancy primitives (DESIGN.md §2).

Guarantees:
- Every model that inherits `TeamOwnedModel` has a non-null `team` and a default manager
  that refuses to build an unscoped query: `Model.objects.all()` raises `TenancyError`;
  the only ways in are `Model.objects.for_team(team)` and, for system jobs that must sweep
  every tenant (crash detection, retention), the explicit `Model.objects.across_teams()`.
- Scope is opened at the entry points only (web middleware, the API base class, WebSocket
  consumers, Celery tasks taking `team_id`); selectors and services receive the team.

Not guaranteed: raw SQL and `_base_manager` (used by Django for saves and FK access)
bypass the check, so raw SQL must filter by team or by ids obtained from a scoped query.
"""

from __future__ import annotations

from django.db import models


class TenancyError(RuntimeError):
    """A tenant-owned model was queried without a team scope."""


class TeamScopedManager(models.Manager):
    def get_queryset(self):
        raise TenancyError(
            f"{self.model.__name__} was queried without a team scope; "
            f"use {self.model.__name__}.objects.for_team(team)"
        )

    def for_team(self, team) -> models.QuerySet:
        if team is None or getattr(team, "pk", None) is None:
            raise TenancyError(f"{self.model.__name__}.objects.for_team() needs a saved team")
        return super().get_queryset().filter(team=team)

    def across_teams(self) -> models.QuerySet:
        """Every tenant's rows: only for system jobs that then act per team."""
        return super().get_queryset()


class TeamOwnedModel(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+")

    objects = TeamScopedManager()

    class Meta:
        abstract = True
