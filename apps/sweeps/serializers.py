"""Output shapes of the sweeps API (docs/sweeps.md). Plain functions: the views answer
with orjson like the run API does."""

from __future__ import annotations

from apps.sweeps.models import Sweep, SweepTrial
from apps.sweeps.selectors import SweepStats


def trial_out(trial: SweepTrial) -> dict:
    return {
        "run": trial.run_uid,
        "params": trial.params,
        "state": trial.state,
        "metric": trial.metric,
        "agent": trial.agent,
        "attempts": trial.attempts,
        "preempting": trial.preempting,
        "prior": trial.prior,
        "created_at": trial.created_at,
    }


def next_out(sweep: Sweep, trial: SweepTrial) -> dict:
    """POST next: a re-run (attempt > 1) resumes its run, which already exists."""
    return {
        "sweep": sweep.uid,
        "run": trial.run_uid,
        "params": trial.params,
        "attempt": trial.attempts,
        "resume": trial.attempts > 1,
        # queue: computed ahead by the controller; inline: in this request; rerun
        "source": getattr(trial, "served_from", "rerun"),
    }


def sweep_out(sweep: Sweep, stats: SweepStats) -> dict:
    best = stats.best
    return {
        "id": sweep.uid,
        "name": sweep.name,
        "description": sweep.description,
        "method": sweep.method,
        "metric": (
            {"name": sweep.metric_name, "goal": sweep.metric_goal} if sweep.metric_name else None
        ),
        "state": sweep.state,
        "config": sweep.config,
        "run_cap": sweep.run_cap,
        "run_count": stats.run_count,
        "prior_count": stats.prior_count,
        "finished_count": stats.finished_count,
        "counts": stats.counts,
        "best": (
            None
            if best is None
            else {"run": best.run_uid, "metric": best.metric, "params": best.params}
        ),
        "created_at": sweep.created_at,
        "updated_at": sweep.updated_at,
        "created_by": getattr(sweep.created_by, "email", None) if sweep.created_by_id else None,
    }
