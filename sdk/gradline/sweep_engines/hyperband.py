"""Hyperband early termination, as W&B's `sweeps` package (0.3.0) decides it.

Config: `early_terminate: {type: hyperband, min_iter | (max_iter and s), eta = 3,
strict = true}` plus `metric: {name, goal}`.

Semantics implemented (W&B's `hyperband_stop_runs`, line for line in effect):

* Milestones ("bands") count logged metric values, 1-based: milestone b looks at a run's
  b-th value of the metric. With `min_iter`: `int(min_iter * eta**k)` for k = 0, 1, ...
  (W&B lists 100 of them). With `max_iter` and `s`: `int(max_iter / eta**k)` for
  k = 1..s, stopping before one would fall below 1, ascending (max_iter itself is not a
  milestone). `max_iter` wins when both are given. No milestone at all is an error.
* A history is the run's metric values in logging order, keeping finite numbers only
  (None, NaN, inf and bools dropped before counting); values are negated when the goal
  is "maximize", so below is always better.
* Threshold at milestone b: among every run that logged at least b values (finished,
  failed and running alike, the run itself included), sort their b-th values and take
  the one at index `int(n / eta)`, i.e. roughly the top-1/eta quantile.
* A running run is judged at the last milestone it has reached (the largest b not above
  its count of values). With `strict` (the default) the value compared is its b-th value,
  otherwise its best value so far; it is stopped when that value is strictly worse than
  the threshold. A run that has not reached the first milestone is never stopped.

Histories are passed as `{run_id: [value per logged iteration, ...]}`; the caller says
which runs are still running (only those can be stopped).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .space import metric

_KEYS = {"type", "min_iter", "max_iter", "s", "eta", "strict"}
_MAX_BANDS = 100  # W&B lists this many min_iter milestones


@dataclass(frozen=True)
class Hyperband:
    bands: tuple[int, ...]  # ascending milestones, 1-based counts of logged values
    eta: float
    strict: bool
    goal: str


@dataclass(frozen=True)
class Decision:
    """Why a running run is kept or stopped (for the controller's log)."""

    run_id: object
    milestone: int | None  # None: no milestone reached yet
    value: float | None  # compared value, sign-flipped for "maximize" goals
    threshold: float | None
    stop: bool


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_early_terminate(config: Mapping) -> Hyperband:
    """The hyperband settings of `config`, validated. Raises ValueError naming the field."""
    et = config.get("early_terminate")
    if not isinstance(et, Mapping):
        raise ValueError("early_terminate must be a mapping with type: hyperband")
    if et.get("type") != "hyperband":
        raise ValueError(f"early_terminate.type must be 'hyperband', got {et.get('type')!r}")
    extra = sorted(set(et) - _KEYS)
    if extra:
        raise ValueError(f"early_terminate: unknown key(s) {', '.join(map(str, extra))}")
    eta = et.get("eta", 3)
    if not (isinstance(eta, (int, float)) and not isinstance(eta, bool) and math.isfinite(eta)):
        raise ValueError(f"early_terminate.eta must be a number > 1, got {eta!r}")
    if eta <= 1:
        raise ValueError(f"early_terminate.eta must be > 1, got {eta}")
    strict = et.get("strict", True)
    if not isinstance(strict, bool):
        raise ValueError(f"early_terminate.strict must be true or false, got {strict!r}")
    try:
        _, goal = metric(config)
    except ValueError as e:
        raise ValueError(f"early_terminate needs the sweep's metric: {e}") from None

    if "max_iter" in et:
        max_iter, s = et["max_iter"], et.get("s")
        if not _int(max_iter) or max_iter < 1:
            raise ValueError(f"early_terminate.max_iter must be an integer >= 1, got {max_iter!r}")
        if not _int(s) or s < 1:
            raise ValueError(f"early_terminate.s must be an integer >= 1 with max_iter, got {s!r}")
        bands, band = [], float(max_iter)
        for _ in range(s):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands.sort()
    elif "min_iter" in et:
        min_iter = et["min_iter"]
        if not _int(min_iter) or min_iter < 1:
            raise ValueError(f"early_terminate.min_iter must be an integer >= 1, got {min_iter!r}")
        bands, band = [], min_iter
        for _ in range(_MAX_BANDS):
            bands.append(int(band))
            band *= eta
    else:
        raise ValueError("early_terminate needs min_iter, or max_iter and s")
    if not bands:
        raise ValueError(
            "early_terminate: max_iter / eta is below 1, so there is no milestone; "
            "increase max_iter or decrease eta"
        )
    return Hyperband(bands=tuple(bands), eta=float(eta), strict=strict, goal=goal)


def milestones(config: Mapping, up_to: int | None = None) -> list[int]:
    """The milestones (1-based counts of logged values), those <= `up_to` if given."""
    bands = parse_early_terminate(config).bands
    return [b for b in bands if up_to is None or b <= up_to]


def _clean(values: Sequence, goal: str) -> list[float]:
    sign = -1.0 if goal == "maximize" else 1.0
    return [
        sign * float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def thresholds(hb: Hyperband, histories: Mapping[object, list[float]]) -> dict[int, float]:
    """Threshold per milestone over the (cleaned) `histories`; inf where no run reached it."""
    out = {}
    for b in hb.bands:
        vals = sorted(h[b - 1] for h in histories.values() if len(h) >= b)
        out[b] = vals[int((1.0 / hb.eta) * len(vals))] if vals else math.inf
    return out


def decide(
    config: Mapping, history_by_run: Mapping[object, Sequence], running: Iterable
) -> list[Decision]:
    """One Decision per run in `running` (in that order)."""
    hb = parse_early_terminate(config)
    histories = {rid: _clean(h, hb.goal) for rid, h in history_by_run.items()}
    cut = thresholds(hb, histories)
    out = []
    for rid in running:
        h = histories.get(rid, [])
        reached = [b for b in hb.bands if b <= len(h)]
        if not reached:
            out.append(Decision(rid, None, None, None, False))
            continue
        b = reached[-1]
        value = h[b - 1] if hb.strict else min(h)
        out.append(Decision(rid, b, value, cut[b], value > cut[b]))
    return out


def runs_to_stop(
    config: Mapping, history_by_run: Mapping[object, Sequence], running: Iterable
) -> list:
    """The ids among `running` that hyperband stops now."""
    return [d.run_id for d in decide(config, history_by_run, running) if d.stop]


def should_stop(config: Mapping, history_by_run: Mapping[object, Sequence], run_id) -> bool:
    """Whether the running run `run_id` should stop now, judged against every run in
    `history_by_run` (finished ones included)."""
    return decide(config, history_by_run, [run_id])[0].stop


def decide_at_milestones(
    config: Mapping,
    own: Mapping[int, float],
    others: Iterable[Mapping[int, float]],
    best: float | None = None,
) -> Decision:
    """The decision for one running run from milestone values alone (`own` and each other
    run's `{milestone: its milestone-th finite value}`, raw, not sign-flipped; `best`:
    the run's best value so far, used when `strict` is false).

    Unlike `decide`, the run is judged at the highest milestone it reached that at least
    one other run reached too: a milestone only the run itself reached has no threshold
    but its own value, so judging there could never stop it. That made a stop depend on
    timing: a check that came late (a loaded machine, a large upload batch) found the
    run already past the last shared milestone and kept it forever."""
    hb = parse_early_terminate(config)
    sign = -1.0 if hb.goal == "maximize" else 1.0
    mine = {int(b): sign * float(v) for b, v in own.items()}
    theirs = [{int(b): sign * float(v) for b, v in o.items()} for o in others]
    reached = [b for b in hb.bands if b in mine]
    shared = [b for b in reached if any(b in o for o in theirs)]
    if not shared:
        return Decision(None, reached[-1] if reached else None, None, None, False)
    b = shared[-1]
    values = sorted([mine[b], *(o[b] for o in theirs if b in o)])
    threshold = values[int((1.0 / hb.eta) * len(values))]
    value = mine[b] if hb.strict or best is None else min(mine[b], sign * float(best))
    return Decision(None, b, value, threshold, value > threshold)
