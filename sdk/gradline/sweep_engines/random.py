"""Random search, W&B semantics: every parameter drawn independently from its own
distribution (`Dim.sample`), in W&B's parameter order, so one seed gives one suggestion.
Finished and pending runs do not influence the draw (W&B's random search ignores them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .space import parse_space


def suggest(
    config: Mapping, finished: Sequence = (), *, seed: int | None = None, pending: Sequence = ()
) -> dict:
    """The next params, nested like `config["parameters"]`. `seed=None` draws fresh entropy."""
    return parse_space(config).sample(np.random.default_rng(seed))
