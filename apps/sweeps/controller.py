"""The sweep controller (docs/sweeps.md "The controller"): computes suggestions from a
sweep's trials with its strategy, inline in `next` or ahead of time in a Celery task.

A suggestion depends only on the sweep's seed, its trial count and the history it sees
(finished trials with their metric, in-flight ones as pending), so the task and an inline
`next` give the same params for the same ledger. The task (`refill`) computes the next
`queue_target` suggestions outside any lock, each seeing the ones before it as pending,
and replaces the queue in one short transaction only if the history it read is still the
current one; a duplicate delivery finds the queue already filled for that history and
does nothing, and a worker killed mid-task has written nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction

from apps.sweeps import selectors
from apps.sweeps.models import Sweep, SweepState, SweepSuggestion, SweepTrial, TrialState
from gradline.sweep_engines import grid, history

log = logging.getLogger(__name__)

MAX_QUEUE = 32  # suggestions computed ahead at most, whatever the parallelism


def seed(sweep: Sweep, trial_count: int) -> int:
    """Deterministic per (sweep, trial number): the same history gives the same trial.
    From the config's `seed` when it has one (then the same as `gradline agent --local`
    gives), else from the sweep's row id."""
    return history.trial_seed(sweep.config, sweep.pk, trial_count)


# Stored trial states whose run had ended: what the engines saw as finished.
_ENDED_TRIAL_STATES = frozenset(
    {TrialState.FINISHED, TrialState.FAILED, TrialState.CRASHED, TrialState.PREEMPTED}
)


def _moves_history(trial: SweepTrial) -> bool:
    """Whether the change of `trial` changes what the engines see (a run ended or came
    back, a metric changed); pending -> running, say, does not."""
    old_state, old_metric = trial.stored_before
    if TrialState.STOPPED in (old_state, trial.state):
        return True  # whether its run had ended is not stored: count it
    was_ended = old_state in _ENDED_TRIAL_STATES
    return was_ended != (trial.run_state in selectors.ENDED_RUN_STATES) or old_metric != (
        trial.metric
    )


def store_observed(team, sweep: Sweep, trials: list[SweepTrial]) -> bool:
    """Store trial states and metrics that changed since last stored (the caller holds the
    sweep row lock). A change the engines see is a new history: bumps `history_version`;
    True if so."""
    changed = [t for t in trials if t.changed]
    if not changed:
        return False
    SweepTrial.objects.for_team(team).bulk_update(changed, ["state", "metric"])
    moved = any(_moves_history(t) for t in changed)
    for trial in changed:
        trial.changed = False
    if not moved:
        return False
    sweep.history_version += 1
    Sweep.objects.for_team(team).filter(pk=sweep.pk).update(history_version=sweep.history_version)
    return True


def engine_inputs(trials: list[SweepTrial]) -> tuple[list, list]:
    """(finished, pending) as the strategies take them: ended runs with their metric
    (None for failed, crashed or preempted runs, and for finished runs that never logged
    it), oldest first; params of trials not started, running or re-queued."""
    return history.engine_inputs(
        (t.params, t.run_state in selectors.ENDED_RUN_STATES, t.metric) for t in trials
    )


def suggest(sweep: Sweep, finished: list, pending: list, trial_count: int) -> dict:
    """One suggestion; raises grid.SweepExhausted when a grid is used up."""
    config = {**sweep.config, "method": sweep.method}
    return history.suggest_next(config, finished, pending, seed=seed(sweep, trial_count))


def suggest_ahead(
    sweep: Sweep, trials: list[SweepTrial], count: int, queued: list[dict] = ()
) -> list[dict]:
    """The `count` suggestions that follow the `queued` ones, as `next` would hand them out
    one after another with no trial finishing meanwhile (each sees the trials in flight,
    the queued suggestions and the ones before it as pending)."""
    finished, pending = engine_inputs(trials)
    pending = [*pending, *queued]
    handed = sum(1 for t in trials if not t.prior)
    out: list[dict] = []
    for i in range(count):
        if sweep.run_cap is not None and handed + len(queued) + i >= sweep.run_cap:
            break
        try:
            params = suggest(sweep, finished, pending, len(trials) + len(queued) + i)
        except grid.SweepExhausted:
            break
        out.append(params)
        pending.append(params)
    return out


def queue_target(sweep: Sweep, trials: list[SweepTrial]) -> int:
    """How many suggestions to keep ready: one per trial in flight plus one (each agent
    asks once per trial it ends), at least 2, at most MAX_QUEUE; config
    `controller.queue` overrides it."""
    configured = (sweep.config.get("controller") or {}).get("queue")
    if isinstance(configured, int) and not isinstance(configured, bool):
        return max(0, min(MAX_QUEUE, configured))
    in_flight = sum(1 for t in trials if t.run_state not in selectors.ENDED_RUN_STATES)
    return max(2, min(MAX_QUEUE, in_flight + 1))


def pop(team, sweep: Sweep) -> SweepSuggestion | None:
    """The first queued suggestion, removed (the caller holds the sweep row lock)."""
    rows = SweepSuggestion.objects.for_team(team).filter(sweep=sweep)
    head = rows.order_by("position", "id").first()
    if head is not None:
        SweepSuggestion.objects.for_team(team).filter(pk=head.pk).delete()
    return head


def clear(team, sweep: Sweep) -> None:
    SweepSuggestion.objects.for_team(team).filter(sweep=sweep).delete()


def queued(team, sweep: Sweep) -> list[SweepSuggestion]:
    return list(
        SweepSuggestion.objects.for_team(team).filter(sweep=sweep).order_by("position", "id")
    )


def refill(team, sweep_pk: int) -> str:
    """The Celery controller's work for one sweep (tasks.refill_queue): top the queue up
    to `queue_target`. Returns what it did, for the worker log and the tests.

    Queued suggestions are kept when the history moves on (a trial ended): they were
    computed treating the trials then in flight as pending, which is what the engines do
    for parallel agents anyway, and recomputing all of them after every end (a GP fit
    each at 1,000 trials) would fall behind the agents. Only the missing ones are added,
    each seeing the queued ones as pending."""
    # 1. Under the lock, briefly: bring the ledger up to date and read it and the queue.
    with transaction.atomic():
        sweep = Sweep.objects.for_team(team).select_for_update().filter(pk=sweep_pk).first()
        if sweep is None:
            return "gone"
        if sweep.state != SweepState.RUNNING:
            return f"not running ({sweep.state})"  # a paused sweep keeps its queue
        sweep.team = team
        trials = selectors.trials_observed(team, sweep)
        store_observed(team, sweep, trials)
        basis = sweep.history_version
        target = queue_target(sweep, trials)
        ready = queued(team, sweep)
        if len(ready) >= target:
            return f"full ({len(ready)} for history {basis})"  # a duplicate delivery, or no need
    missing = target - len(ready)

    # 2. Outside any lock: the expensive part (a GP fit per suggestion at 1,000 trials).
    log.info("sweep %s: computing %d suggestions for history %d", sweep.uid, missing, basis)
    ahead = suggest_ahead(sweep, trials, missing, [r.params for r in ready])

    # 3. Under the lock again: append them, unless another delivery appended meanwhile
    # (agents taking queued ones from the head is fine: those are still accounted for).
    with transaction.atomic():
        locked = Sweep.objects.for_team(team).select_for_update().filter(pk=sweep_pk).first()
        if locked is None or locked.state != SweepState.RUNNING:
            return "stopped meanwhile"
        now = [r.pk for r in queued(team, locked)]
        before = [r.pk for r in ready]
        if len(now) > len(before) or now != before[len(before) - len(now) :]:
            return "changed meanwhile"
        start = (ready[-1].position + 1) if ready else 0
        SweepSuggestion.objects.for_team(team).bulk_create(
            SweepSuggestion(team=team, sweep=locked, position=start + i, params=p, basis=basis)
            for i, p in enumerate(ahead)
        )
    return f"queued {len(ahead)} for history {basis}"
