"""Periodic run jobs (Celery beat, see CELERY_BEAT_SCHEDULE). Tasks take ids, act inside
one team's scope and are idempotent."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.core.tasks import team_task
from apps.runs import services
from apps.runs.models import Run, RunState


@shared_task(name="runs.detect_crashed_runs")
def detect_crashed_runs() -> int:
    """Fan out one `mark_crashed_runs` per team that has a running run gone silent."""
    cutoff = timezone.now() - timedelta(seconds=settings.RUN_CRASH_TIMEOUT_S)
    team_ids = (
        Run.objects.across_teams()
        .filter(state=RunState.RUNNING, heartbeat_at__lt=cutoff)
        .values_list("team_id", flat=True)
        .distinct()
    )
    count = 0
    for team_id in team_ids:
        mark_crashed_runs.delay(team_id)
        count += 1
    return count


@team_task(name="runs.mark_crashed_runs")
def mark_crashed_runs(team) -> list[int]:
    return services.runs_mark_crashed(team=team, timeout_s=settings.RUN_CRASH_TIMEOUT_S)
