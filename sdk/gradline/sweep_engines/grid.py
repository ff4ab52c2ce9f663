"""Grid search, W&B semantics.

The grid is the cartesian product of every parameter's values in W&B's order: parameters
sorted by key at each nesting level (the first varies slowest), each parameter's values in
the order written. Constants ride along; int_uniform enumerates min..max; q_uniform
enumerates `numpy.arange(min, max, q)` (max excluded, as W&B does). Any other
distribution, and a categorical with probabilities, is a ValueError naming the parameter.

A suggestion is the first combination no finished or pending run has used. Runs are
matched on the searched (non-constant) parameters with `space.canonical` values (3.0 and
3 are the same point, True and 1 are not); a run that lacks one of them matches nothing.
When every combination is used, `suggest` raises `SweepExhausted`.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence

from .space import Space, canonical, grid_values, parse_space


class SweepExhausted(Exception):
    """Every combination of the grid has been suggested: the sweep is done."""


def _axes(space: Space) -> list[tuple[str, list]]:
    return [(d.name, grid_values(d)) for d in space.dims]


def grid_size(config: Mapping) -> int:
    """How many combinations the grid has."""
    return math.prod(len(values) for _, values in _axes(parse_space(config)))


def suggest(
    config: Mapping, finished: Sequence = (), *, seed: int | None = None, pending: Sequence = ()
) -> dict:
    """The next unused grid point, nested like `config["parameters"]`. `finished` holds
    `(params, metric)` pairs and `pending` holds params; `seed` is unused (the order is
    fixed)."""
    space = parse_space(config)
    axes = _axes(space)
    searched = [i for i, (name, _) in enumerate(axes) if not space[name].is_constant]
    keys = [[canonical(v) for v in values] for _, values in axes]

    used = set()
    for params in [p for p, _ in finished] + list(pending):
        try:
            flat = space.flatten(params)
        except ValueError:
            continue
        used.add(tuple(canonical(flat[axes[i][0]]) for i in searched))

    for combo in itertools.product(*(range(len(values)) for _, values in axes)):
        if tuple(keys[i][combo[i]] for i in searched) not in used:
            point = {name: values[j] for (name, values), j in zip(axes, combo, strict=True)}
            return space.unflatten(copy.deepcopy(point))
    raise SweepExhausted(f"all {math.prod(len(v) for _, v in axes)} grid combinations are used")
