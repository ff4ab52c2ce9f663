"""Random search: reproducible per seed, each parameter drawn from its distribution."""

import math

import numpy as np

from gradline.sweep_engines import random as random_search
from gradline.sweep_engines.space import parse_space

CONFIG = {
    "method": "random",
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "layers": {"min": 1, "max": 4},
        "dropout": {"min": 0.0, "max": 0.5},
        "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "momentum": {"value": 0.9}}},
    },
}


def _draws(n, offset=0):
    return [random_search.suggest(CONFIG, [], seed=offset + i) for i in range(n)]


def test_same_seed_same_suggestion_and_seeds_differ():
    assert random_search.suggest(CONFIG, [], seed=7) == random_search.suggest(CONFIG, [], seed=7)
    assert len({repr(p) for p in _draws(20)}) == 20


def test_finished_and_pending_runs_do_not_change_the_draw():
    finished = [(p, 1.0) for p in _draws(5, offset=100)]
    alone = random_search.suggest(CONFIG, [], seed=3)
    assert random_search.suggest(CONFIG, finished, seed=3, pending=_draws(2, 200)) == alone


def test_suggestions_are_shaped_like_the_config_and_legal():
    space = parse_space(CONFIG)
    for params in _draws(200):
        assert params["opt"]["momentum"] == 0.9 and set(params) == {
            "lr",
            "layers",
            "dropout",
            "opt",
        }
        flat = space.flatten(params)
        assert all(d.contains(flat[d.name]) for d in space.dims)


def test_log_uniform_values_is_uniform_in_log_space():
    lrs = np.array([p["lr"] for p in _draws(4000)])
    midpoint = math.sqrt(1e-5 * 1e-1)  # geometric midpoint: half the mass on each side
    assert abs(np.mean(lrs < midpoint) - 0.5) < 0.04
    assert abs(np.mean(lrs < 1e-4) - 0.25) < 0.04  # first quarter of the log range


def test_int_uniform_and_categorical_are_uniform():
    draws = _draws(4000)
    layers = np.bincount([p["layers"] for p in draws], minlength=5)[1:] / 4000
    assert np.all(np.abs(layers - 0.25) < 0.03)
    adam = np.mean([p["opt"]["name"] == "adam" for p in draws])
    assert abs(adam - 0.5) < 0.04
    assert abs(np.mean([p["dropout"] for p in draws]) - 0.25) < 0.02
