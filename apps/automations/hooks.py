"""What other apps call when something happens that may notify or fire an automation:
one line at each state change (apps/runs/services.py, apps/registry/services.py,
apps/sweeps/services.py). Each hook only registers an on-commit callback that sends a
Celery task; nothing is evaluated in the request, and a rolled-back change sends nothing.

The ingest hook is on the hot path: it sends a task only when the run's project has
enabled metric automations, a fact memoized per process for RULES_MEMO_S seconds (a
new rule takes effect within that time).
"""

from __future__ import annotations

import time

from django.db import transaction

RULES_MEMO_S = 5.0
ENDED = ("finished", "failed", "crashed")
_memo: dict[tuple[int, int], tuple[float, bool]] = {}


def run_state_changed(run) -> None:
    if run.state not in ENDED:
        return
    from apps.automations import tasks

    moment = run.finished_at or run.updated_at
    stamp = f"{moment.timestamp():.6f}" if moment else ""
    team_id, run_id = run.team_id, run.pk
    transaction.on_commit(lambda: tasks.run_ended.delay(team_id, run_id, stamp))


def _has_metric_rules(team_id: int, project_id: int) -> bool:
    now = time.monotonic()
    memo = _memo.get((team_id, project_id))
    if memo is not None and memo[0] > now:
        return memo[1]
    from apps.automations.models import METRIC_TRIGGERS, Automation
    from apps.teams.models import Team

    has = (
        Automation.objects.for_team(Team(pk=team_id))
        .filter(project_id=project_id, trigger__in=list(METRIC_TRIGGERS), enabled=True)
        .exists()
    )
    if len(_memo) > 10_000:
        _memo.clear()
    _memo[(team_id, project_id)] = (now + RULES_MEMO_S, has)
    return has


def rules_changed(team_id: int, project_id: int | None) -> None:
    """Forget this process's memo for the project (other processes expire it)."""
    _memo.pop((team_id, project_id or 0), None)


def run_ingested(run, accepted: int) -> None:
    if not accepted or not _has_metric_rules(run.team_id, run.project_id):
        return
    from apps.automations import tasks

    team_id, run_id = run.team_id, run.pk
    transaction.on_commit(lambda: tasks.check_metrics.delay(team_id, run_id))


def alias_event_recorded(event) -> None:
    if not event.to_version:  # a removal notifies nobody
        return
    from apps.automations import tasks

    team_id, event_id = event.team_id, event.pk
    transaction.on_commit(lambda: tasks.alias_event.delay(team_id, event_id))


def version_created(version) -> None:
    from apps.automations import tasks

    team_id, version_id = version.team_id, version.pk
    transaction.on_commit(lambda: tasks.version_created.delay(team_id, version_id))


def sweep_changed(sweep, changes: dict) -> None:
    """After a sweep update with `changes`: its creator hears once that it finished."""
    if changes.get("state") != "finished":
        return
    from apps.automations import tasks

    team_id, sweep_id = sweep.team_id, sweep.pk
    transaction.on_commit(lambda: tasks.sweep_finished.delay(team_id, sweep_id))
