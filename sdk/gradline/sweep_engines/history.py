"""History -> next suggestion: the one step the server's controller
(apps/sweeps/controller.py) and the offline agent (gradline/sweeps_local.py) share, so the
same config, seed and results give the same trials online and offline.

A suggestion is a pure function of the sweep's config, its per-trial seed and what the
engine sees: finished trials with their metric (None for failed ones), oldest first, and
the params of trials in flight (pending).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from . import bayes, grid, random

STRATEGIES = {"grid": grid.suggest, "random": random.suggest, "bayes": bayes.suggest}
SEED_MAX = 2**63 - 1  # a config `seed` fits a signed 64-bit integer (JSON-safe everywhere)


def config_seed(config: Mapping) -> int | None:
    """The config's own `seed` (an integer), or None."""
    value = config.get("seed") if isinstance(config, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def trial_seed(config: Mapping, sweep_key: int, trial_count: int) -> int:
    """The seed of the suggestion after `trial_count` trials: from the config's `seed`
    when it has one (the same online and offline), else from `sweep_key` (the server's
    sweep row id)."""
    base = config_seed(config)
    if base is None:
        base = sweep_key
    return (base * 1_000_003 + trial_count) % 2**32


def engine_inputs(trials: Iterable[tuple[Any, bool, float | None]]) -> tuple[list, list]:
    """(finished, pending) as the engines take them, from (params, ended, metric) per
    trial, oldest first: ended trials with their metric (None: failed, crashed, or never
    logged it); the params of the others (not started, running, re-queued)."""
    finished, pending = [], []
    for params, ended, metric in trials:
        if ended:
            finished.append((params, metric))
        else:
            pending.append(params)
    return finished, pending


def json_plain(params: Any) -> Any:
    """Engine output as plain JSON values (numpy scalars become Python numbers)."""
    return orjson.loads(orjson.dumps(params, option=orjson.OPT_SERIALIZE_NUMPY))


def suggest_next(config: Mapping, finished: Sequence, pending: Sequence, *, seed: int) -> dict:
    """One suggestion as plain JSON; raises grid.SweepExhausted when a grid is used up."""
    params = STRATEGIES[config["method"]](config, finished, seed=seed, pending=pending)
    if isinstance(params, tuple):  # (params, info) from model-based engines
        params = params[0]
    return json_plain(params)
