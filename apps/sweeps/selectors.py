"""Sweep reads. First argument is the team; every query goes through `for_team`.

A trial's state and metric follow its run (matched by run id in the sweep's project):
`observe_trials` reads the runs and sets them on the trial objects in memory; the
services store them where it matters (trial_next), the reads here only show them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models.fields.json import KeyTransform

from apps.core.errors import NotFound
from apps.runs.models import Run, RunState
from apps.sweeps.models import Sweep, SweepTrial, TrialState

# Trial states whose run has ended (or whose stop was decided): they no longer run.
ENDED_RUN_STATES = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CRASHED})
DEFAULT_MAX_ATTEMPTS = 3
_TRIAL_STATE_OF_RUN = {
    RunState.RUNNING: TrialState.RUNNING,
    RunState.FINISHED: TrialState.FINISHED,
    RunState.FAILED: TrialState.FAILED,
    RunState.CRASHED: TrialState.CRASHED,
}


def sweep_get(team, project, uid: str) -> Sweep:
    sweep = Sweep.objects.for_team(team).filter(project=project, uid=uid).first()
    if sweep is None:
        raise NotFound("Sweep not found.")
    sweep.team, sweep.project = team, project  # the caller holds them: no extra queries
    return sweep


def sweeps_list(team, project) -> list[Sweep]:
    """The project's sweeps, newest first."""
    sweeps = list(
        Sweep.objects.for_team(team)
        .filter(project=project)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )
    for sweep in sweeps:
        sweep.team, sweep.project = team, project
    return sweeps


def _number(value) -> float | None:
    """A summary value as the trial's metric: finite numbers only (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# Stored states a trial can still leave without anyone re-running it: what `next` looks
# at (with 1,000 finished trials it reads the handful in flight, not all of them).
IN_FLIGHT_STATES = frozenset(
    {TrialState.PENDING, TrialState.RUNNING, TrialState.REQUEUED, TrialState.STOPPED}
)


def observe_trials(
    team, sweeps: list[Sweep], states: frozenset | None = None
) -> dict[int, list[SweepTrial]]:
    """sweep pk -> its trials, oldest first (only those stored in `states` if given), each
    with `state` and `metric` brought up to date from its run (not saved; `changed` says
    whether they differ from the stored ones) and `run_state` set (None: no run with its
    id yet)."""
    by_sweep: dict[int, list[SweepTrial]] = {s.pk: [] for s in sweeps}
    if not sweeps:
        return by_sweep
    trials = SweepTrial.objects.for_team(team).filter(sweep__in=[s.pk for s in sweeps])
    if states is not None:
        trials = trials.filter(state__in=states)
    for trial in trials.order_by("created_at", "id"):
        by_sweep[trial.sweep_id].append(trial)

    # One runs query per (project, metric name): a sweep's metric is read from the run
    # summary by key, so the (possibly large) summaries never leave the database.
    groups: dict[tuple[int, str], list[Sweep]] = defaultdict(list)
    for sweep in sweeps:
        groups[(sweep.project_id, sweep.metric_name)].append(sweep)
    for (project_id, metric_name), group in groups.items():
        uids = [t.run_uid for s in group for t in by_sweep[s.pk]]
        if not uids:
            continue
        runs = Run.objects.for_team(team).filter(project_id=project_id, uid__in=uids)
        if metric_name:
            runs = runs.annotate(metric_value=KeyTransform(metric_name, "summary"))
            rows = runs.values_list("uid", "state", "metric_value", "heartbeat_at")
        else:
            rows = (
                (uid, state, None, beat)
                for uid, state, beat in runs.values_list("uid", "state", "heartbeat_at")
            )
        found = {uid: (state, value, beat) for uid, state, value, beat in rows}
        for sweep in group:
            most = max_attempts(sweep)
            for trial in by_sweep[sweep.pk]:
                _observe(trial, found.get(trial.run_uid), most)
    return by_sweep


def max_attempts(sweep: Sweep) -> int:
    """How many times a crashed or preempted trial is handed out in all (config
    `max_attempts`, validated at create)."""
    value = sweep.config.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _observe(trial: SweepTrial, run: tuple | None, most: int) -> None:
    before = (trial.state, trial.metric)
    _follow_run(trial, run, most)
    trial.changed = (trial.state, trial.metric) != before
    trial.stored_before = before  # (state, metric) as stored


def _follow_run(trial: SweepTrial, run: tuple | None, most: int) -> None:
    stopped = trial.state == TrialState.STOPPED  # an early-termination decision sticks
    trial.run_exists = run is not None  # (pages link to it)
    if run is not None and trial.attempt_at is not None and run[2] < trial.attempt_at:
        run = None  # handed out again, and the run has not resumed since
    if run is None:
        trial.run_state, trial.metric = None, None
        trial.state = TrialState.STOPPED if stopped else TrialState.PENDING
        return
    run_state, value, _ = run
    trial.run_state = run_state
    trial.metric = _number(value) if run_state == RunState.FINISHED else None
    state = _TRIAL_STATE_OF_RUN[run_state]
    if trial.preempting and run_state in (RunState.FAILED, RunState.CRASHED):
        state = TrialState.PREEMPTED
    if stopped:
        state = TrialState.STOPPED
    elif (
        state in (TrialState.CRASHED, TrialState.PREEMPTED)
        and trial.attempts < most
        and not trial.prior  # a prior run is not the sweep's to re-run
    ):
        # Re-run with the same params: for the engines it is in flight again.
        state, trial.run_state = TrialState.REQUEUED, None
    trial.state = state


def trials_observed(team, sweep: Sweep, states: frozenset | None = None) -> list[SweepTrial]:
    return observe_trials(team, [sweep], states)[sweep.pk]


@dataclass
class SweepStats:
    run_count: int = 0  # trials handed out (prior runs not counted)
    prior_count: int = 0  # existing runs the sweep was seeded with
    finished_count: int = 0  # trials whose run has ended (finished, failed, crashed)
    counts: dict[str, int] = field(default_factory=dict)  # trial state -> number
    best: SweepTrial | None = None


def sweep_stats(sweep: Sweep, trials: list[SweepTrial]) -> SweepStats:
    """Counts and the best trial (by the sweep's goal; the earliest wins a tie)."""
    prior = sum(1 for t in trials if t.prior)
    stats = SweepStats(run_count=len(trials) - prior, prior_count=prior)
    for state in TrialState.values:
        stats.counts[state] = 0
    sign = -1.0 if sweep.metric_goal == "maximize" else 1.0
    for trial in trials:
        stats.counts[trial.state] += 1
        if trial.run_state in ENDED_RUN_STATES:
            stats.finished_count += 1
        if trial.metric is None or not sweep.metric_name:
            continue
        if stats.best is None or sign * trial.metric < sign * stats.best.metric:
            stats.best = trial
    return stats


def trial_get(team, sweep: Sweep, run_uid: str) -> SweepTrial:
    trial = SweepTrial.objects.for_team(team).filter(sweep=sweep, run_uid=run_uid).first()
    if trial is None:
        raise NotFound("This sweep has no trial with that run id.")
    return trial
