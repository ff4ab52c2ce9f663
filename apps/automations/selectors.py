"""Automation reads (team first). Automations of a project the caller may not see
(restricted) are left out, as that project is."""

from __future__ import annotations

from django.db.models import Q

from apps.automations.models import Automation, Firing
from apps.projects.selectors import projects_visible


def project_ids_visible(team, membership, user, ids=None) -> set[int]:
    qs = projects_visible(team, membership=membership, user=user)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return set(qs.values_list("pk", flat=True))


def automations_visible(team, *, membership, user) -> list[Automation]:
    visible = project_ids_visible(team, membership, user)
    return list(
        Automation.objects.for_team(team)
        .filter(Q(project_id__in=visible) | Q(project__isnull=True))
        .select_related("project", "registered_model")
        .order_by("name", "id")
    )


def firings_of(team, automation: Automation, limit: int = 200) -> list[Firing]:
    return list(
        Firing.objects.for_team(team)
        .filter(automation=automation)
        .order_by("-fired_at", "-id")[:limit]
    )


def firings_recent(team, automations: list[Automation], limit: int = 100) -> list[Firing]:
    return list(
        Firing.objects.for_team(team)
        .filter(automation__in=automations)
        .select_related("automation")
        .order_by("-fired_at", "-id")[:limit]
    )
