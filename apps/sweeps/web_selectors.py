"""Sweep reads that only the web pages need: the project's sweeps with their counts and
best trial, and one sweep's page (trials in reading order, parameter columns, and the
data of its charts).

Like apps/sweeps/selectors.py, the first argument is the team; these build on those
selectors (one trials query and one runs query per page) rather than repeat them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from apps.sweeps import selectors
from apps.sweeps.models import Sweep, SweepTrial, TrialState
from apps.sweeps.selectors import SweepStats
from gradline.sweep_engines import space

# Trials still in flight: shown above the ranked ones.
ACTIVE_STATES = (TrialState.PENDING, TrialState.RUNNING, TrialState.REQUEUED)
# The order of the per-state counts on the list page.
STATE_ORDER = (
    TrialState.RUNNING,
    TrialState.PENDING,
    TrialState.REQUEUED,
    TrialState.FINISHED,
    TrialState.STOPPED,
    TrialState.FAILED,
    TrialState.CRASHED,
    TrialState.PREEMPTED,
)


@dataclass
class SweepRow:
    sweep: Sweep
    stats: SweepStats
    # (state, number) for the states that have trials, in STATE_ORDER.
    counts: list[tuple[str, int]] = field(default_factory=list)


def sweeps_table(team, project) -> list[SweepRow]:
    """The project's sweeps, newest first, with their counts and best trial."""
    sweeps = selectors.sweeps_list(team, project)
    trials = selectors.observe_trials(team, sweeps)
    rows = []
    for sweep in sweeps:
        stats = selectors.sweep_stats(sweep, trials[sweep.pk])
        counts = [(state, stats.counts[state]) for state in STATE_ORDER if stats.counts[state]]
        rows.append(SweepRow(sweep=sweep, stats=stats, counts=counts))
    return rows


@dataclass
class Axis:
    """One parameter as a chart axis: `log` and `linear` axes span the values seen;
    an `ordinal` axis (a categorical parameter) lists its `values` as labels."""

    name: str
    kind: str  # "linear" | "log" | "ordinal"
    values: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "ordinal":
            out["values"] = self.values
        return out


@dataclass
class SweepPage:
    stats: SweepStats
    trials: list[SweepTrial]  # reading order; `number`, `cells` ((param, text) per column)
    columns: list[str]  # parameter names shown as table columns and chart axes
    chart: dict  # embedded in the page as JSON (static/js/sweeps.js draws it)
    config_json: str


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _label(value: Any) -> str:
    """A categorical value as the text on its axis and in its table cell."""
    return value if isinstance(value, str) else space.canonical(value)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if _is_number(value) and not isinstance(value, int):
        return f"{value:.4g}"
    return _label(value)


def _param(params: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in nested params; None when the trial lacks it."""
    current = params
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _dims(sweep: Sweep) -> list[tuple[str, tuple[str, ...], space.Dim | None]]:
    """(name, path, dim) of each non-constant parameter, in the sweep's order. The config
    was validated when the sweep was created; should it not parse, the trials' own
    top-level keys stand in (no dim: the axis kind follows the values)."""
    try:
        dims = space.parse_space(sweep.config).dims
    except (ValueError, TypeError, KeyError, ArithmeticError):
        return []
    return [(d.name, d.path, d) for d in dims if not d.is_constant]


def _axis(name: str, dim: space.Dim | None, values: list[Any]) -> Axis:
    numbers = [v for v in values if v is not None]
    numeric = (dim is None or dim.is_numeric) and all(_is_number(v) for v in numbers)
    if numeric:
        log = dim is not None and dim.log and all(v > 0 for v in numbers)
        return Axis(name, "log" if log else "linear")
    labels = [_label(v) for v in (dim.values if dim is not None else [])]
    if dim is not None and all(_is_number(v) for v in dim.values):
        labels = [_label(v) for v in sorted(dim.values)]  # numbers in value order
    for value in numbers:  # values outside the config (it was changed) go last
        if _label(value) not in labels:
            labels.append(_label(value))
    return Axis(name, "ordinal", labels)


def _reading_order(sweep: Sweep, trials: list[SweepTrial]) -> list[SweepTrial]:
    """Pending and running trials first (newest first), then those with a metric, best
    first (the earliest wins a tie), then the rest, newest first."""
    sign = -1.0 if sweep.metric_goal == "maximize" else 1.0
    active = [t for t in trials if t.state in ACTIVE_STATES]
    ranked = [t for t in trials if t.state not in ACTIVE_STATES and t.metric is not None]
    rest = [t for t in trials if t.state not in ACTIVE_STATES and t.metric is None]
    ranked.sort(key=lambda t: (sign * t.metric, t.number))
    return active[::-1] + ranked + rest[::-1]


def sweep_page(team, sweep: Sweep) -> SweepPage:
    trials = selectors.trials_observed(team, sweep)  # oldest first
    stats = selectors.sweep_stats(sweep, trials)
    for number, trial in enumerate(trials, start=1):
        trial.number = number

    dims = _dims(sweep)
    if not dims:
        names = sorted({k for t in trials if isinstance(t.params, dict) for k in t.params})
        dims = [(name, (name,), None) for name in names]
    values = {name: [_param(t.params, path) for t in trials] for name, path, _ in dims}
    axes = [_axis(name, dim, values[name]) for name, _, dim in dims]
    for trial in trials:
        trial.cells = [(name, _cell(_param(trial.params, path))) for name, path, _ in dims]

    return SweepPage(
        stats=stats,
        trials=_reading_order(sweep, trials),
        columns=[name for name, _, _ in dims],
        chart=_chart(sweep, trials, dims, axes),
        config_json=json.dumps(sweep.config, indent=2, sort_keys=True, ensure_ascii=False),
    )


def _chart(sweep: Sweep, trials: list[SweepTrial], dims, axes: list[Axis]) -> dict:
    """The charts' data: every trial with a metric, in trial order, with its params (by
    axis name; categorical values as their axis labels) and the best metric so far."""
    sign = -1.0 if sweep.metric_goal == "maximize" else 1.0
    best = None
    rows = []
    for trial in trials:
        if trial.metric is None:
            continue
        if best is None or sign * trial.metric < sign * best:
            best = trial.metric
        params = {}
        for (name, path, _), axis in zip(dims, axes, strict=True):
            value = _param(trial.params, path)
            params[name] = _label(value) if axis.kind == "ordinal" and value is not None else value
        rows.append(
            {
                "run": trial.run_uid,
                "trial": trial.number,
                "state": trial.state,
                "metric": trial.metric,
                "best": best,
                "params": params,
            }
        )
    return {
        "metric": {"name": sweep.metric_name, "goal": sweep.metric_goal or "minimize"},
        "axes": [axis.as_json() for axis in axes],
        "trials": rows,
    }
