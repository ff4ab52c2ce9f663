"""Evaluation of automations and of the built-in notifications (run failed, sweep
finished, alias moved), sent after commit by apps.automations.hooks. Tasks take ids,
run in the team scope and are idempotent (firings and events are unique per subject)."""

from __future__ import annotations

from apps.automations import services
from apps.core.tasks import team_task


@team_task(name="automations.run_ended")
def run_ended(team, run_id: int, stamp: str) -> int:
    from apps.runs.models import Run

    run = Run.objects.for_team(team).select_related("project").filter(pk=run_id).first()
    if run is None or run.state not in services.RUN_END_TRIGGER:
        return 0
    run.team = team
    return len(services.on_run_ended(team=team, run=run, stamp=stamp))


@team_task(name="automations.check_metrics")
def check_metrics(team, run_id: int) -> int:
    from apps.runs.models import Run

    run = Run.objects.for_team(team).select_related("project").filter(pk=run_id).first()
    if run is None:
        return 0
    run.team = team
    return len(services.on_metrics(team=team, run=run))


@team_task(name="automations.alias_event")
def alias_event(team, alias_event_id: int) -> int:
    from apps.registry.models import AliasEvent

    event = (
        AliasEvent.objects.for_team(team)
        .select_related("artifact__project", "registered_model", "actor")
        .filter(pk=alias_event_id)
        .first()
    )
    if event is None or not event.to_version:
        return 0
    return len(services.on_alias_event(team=team, alias_event=event))


@team_task(name="automations.version_created")
def version_created(team, version_id: int) -> int:
    from apps.registry.models import ArtifactVersion

    version = (
        ArtifactVersion.objects.for_team(team)
        .select_related("artifact__project")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        return 0
    return len(services.on_version_created(team=team, version=version))


@team_task(name="automations.sweep_finished")
def sweep_finished(team, sweep_id: int) -> None:
    from apps.sweeps.models import Sweep

    sweep = Sweep.objects.for_team(team).select_related("project").filter(pk=sweep_id).first()
    if sweep is not None and sweep.state == "finished":
        services.on_sweep_finished(team=team, sweep=sweep)
