"""A whole sweep config checked at once: method, parameters, metric, what grid search
needs, run_cap, seed and early termination.

Above the modules whose sections it checks (`space` for parameters and metric,
`hyperband` for early_terminate), which do not import it. Pure: numpy only, no Django.
"""

from __future__ import annotations

from collections.abc import Mapping

from .hyperband import parse_early_terminate
from .space import Space, grid_values, metric, parse_space

METHODS = ("grid", "random", "bayes")


def validate(config: Mapping) -> Space:
    """Check a whole sweep config; return its Space. Raises ValueError with a message that
    names the bad parameter or section."""
    if not isinstance(config, Mapping):
        raise ValueError("sweep config must be a mapping")
    method = config.get("method")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    space = parse_space(config)
    if "metric" in config or method == "bayes":
        metric(config)
    if method == "grid":
        for d in space.dims:
            grid_values(d)
    if "run_cap" in config:
        cap = config["run_cap"]
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise ValueError(f"run_cap must be a positive integer, got {cap!r}")
    if "seed" in config:
        seed = config["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 2**63 - 1:
            raise ValueError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    et = config.get("early_terminate")
    if et is not None:
        parse_early_terminate(config)
    return space
