"""Monitoring's periodic jobs (config/settings/base.py CELERY_BEAT_SCHEDULE): alert rule
evaluation with drift refresh, and retention. Tasks take ids and are idempotent
(evaluations are unique per rule and window, notification events per key)."""

from __future__ import annotations

from celery import shared_task

from apps.core.tasks import team_task
from apps.monitoring import alerting, services, storage
from apps.monitoring.models import AlertRule, Monitor


@shared_task(name="monitoring.evaluate_all")
def evaluate_all() -> int:
    """Queue one evaluation per monitor that has a reference or an enabled rule."""
    with_rules = set(
        AlertRule.objects.across_teams().filter(enabled=True).values_list("monitor_id", flat=True)
    )
    monitors = Monitor.objects.across_teams().values_list("pk", "team_id", "reference_at")
    queued = 0
    for pk, team_id, reference_at in monitors:
        if pk in with_rules or reference_at is not None:
            evaluate_monitor.delay(team_id, pk)
            queued += 1
    return queued


@team_task(name="monitoring.evaluate_monitor")
def evaluate_monitor(team, monitor_id: int) -> int:
    monitor = (
        Monitor.objects.for_team(team)
        .select_related("registered_model")
        .filter(pk=monitor_id)
        .first()
    )
    if monitor is None:
        return 0
    return alerting.evaluate_monitor(team, monitor)


@shared_task(name="monitoring.apply_retention")
def apply_retention() -> int:
    deleted = 0
    for monitor in Monitor.objects.across_teams().select_related("team"):
        deleted += services.retention_apply(team=monitor.team, monitor=monitor)
    storage.delete_orphans()
    return deleted
