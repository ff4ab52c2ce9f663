"""Grid search: W&B order, de-duplication against finished and pending runs, exhaustion."""

import pytest

from gradline.sweep_engines import grid

CONFIG = {
    "method": "grid",
    "parameters": {
        "b": {"values": [2, 1]},
        "a": {"parameters": {"y": {"values": ["p", "q"]}}},
        "c": {"value": 0},
    },
}
ORDER = [  # keys sorted at each level ("a" before "b"); the last one varies fastest
    {"a": {"y": "p"}, "b": 2, "c": 0},
    {"a": {"y": "p"}, "b": 1, "c": 0},
    {"a": {"y": "q"}, "b": 2, "c": 0},
    {"a": {"y": "q"}, "b": 1, "c": 0},
]


def _run_out(config):
    points = []
    while True:
        try:
            points.append(grid.suggest(config, [(p, 0.5) for p in points]))
        except grid.SweepExhausted:
            return points


def test_grid_walks_the_product_in_wandb_order_then_is_exhausted():
    assert _run_out(CONFIG) == ORDER
    assert grid.grid_size(CONFIG) == 4


def test_finished_and_pending_points_are_skipped():
    assert grid.suggest(CONFIG, [(ORDER[0], 1.0)], pending=[ORDER[1]]) == ORDER[2]
    assert grid.suggest(CONFIG, [(ORDER[1], None)]) == ORDER[0]  # failed runs count as used


def test_exhausted_sweep_raises_sweep_exhausted():
    with pytest.raises(grid.SweepExhausted, match="all 4 grid combinations"):
        grid.suggest(CONFIG, [(p, 0.1) for p in ORDER[:3]], pending=[ORDER[3]])


def test_points_match_canonically():
    config = {"method": "grid", "parameters": {"x": {"values": [3, True, 1]}}}
    assert grid.suggest(config, [({"x": 3.0}, 0.0)]) == {"x": True}  # 3.0 is 3
    assert grid.suggest(config, [({"x": 3}, 0.0), ({"x": 1}, 0.0)]) == {"x": True}  # 1 is not True


def test_constants_do_not_tell_points_apart():
    seen = {"a": {"y": "p"}, "b": 2, "c": 99}  # same searched values, other constant
    assert grid.suggest(CONFIG, [(seen, 0.0)]) == ORDER[1]


def test_runs_lacking_a_parameter_match_nothing():
    assert grid.suggest(CONFIG, [({"b": 2, "c": 0}, 0.0)]) == ORDER[0]


def test_int_uniform_is_enumerated_and_q_uniform_excludes_max():
    config = {
        "method": "grid",
        "parameters": {
            "n": {"min": 1, "max": 3},
            "w": {"distribution": "q_uniform", "min": 0, "max": 6, "q": 2},
        },
    }
    points = _run_out(config)
    assert [(p["n"], p["w"]) for p in points] == [(n, w) for n in (1, 2, 3) for w in (0, 2, 4)]
    assert grid.grid_size(config) == 9


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ({"min": 0.0, "max": 1.0}, "uniform"),
        ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}, "log_uniform_values"),
        ({"distribution": "normal"}, "normal"),
        ({"values": [1, 2], "probabilities": [0.5, 0.5]}, "categorical with probabilities"),
    ],
)
def test_grid_over_a_non_discrete_parameter_names_it(spec, what):
    config = {"method": "grid", "parameters": {"ok": {"values": [1]}, "bad": spec}}
    with pytest.raises(ValueError, match=rf"'bad': grid search cannot enumerate a {what}"):
        grid.suggest(config, [])
    with pytest.raises(ValueError, match="'bad'"):
        grid.grid_size(config)
