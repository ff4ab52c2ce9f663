"""Bayes sweep strategy: suggestions stay in the space for every distribution kind, are
deterministic per seed, never repeat a configuration that ran or is pending while
unseen ones remain, survive failed runs, and beat random search on a Branin-like
function. Pure functions: no database."""

import math

import numpy as np
import pytest

from gradline.sweep_engines import bayes
from gradline.sweep_engines import space as sp

ALL_KINDS = {
    "const": {"value": "fixed"},
    "cat": {"values": ["a", "b", "c"]},
    "cat_p": {"values": [1, 2, 3], "probabilities": [0.2, 0.3, 0.5]},
    "flag": {"values": [True, False]},
    "i": {"min": 1, "max": 8},
    "u": {"min": -1.0, "max": 2.5},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    "lu": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "qlu": {"distribution": "q_log_uniform_values", "min": 1, "max": 1024, "q": 1},
    "legacy_lu": {"distribution": "log_uniform", "min": -4, "max": 0},
    "inv": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10.0},
    "n": {"distribution": "normal", "mu": 1.0, "sigma": 2.0},
    "qn": {"distribution": "q_normal", "mu": 0.0, "sigma": 3.0, "q": 0.5},
    "ln": {"distribution": "log_normal", "mu": 0.0, "sigma": 1.0},
    "b": {"distribution": "beta", "a": 2.0, "b": 3.0},
    "nested": {"parameters": {"width": {"values": [32, 64, 128]}, "depth": {"min": 1, "max": 4}}},
}
CONFIG = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": ALL_KINDS,
}


def _loss(params):
    """A smooth function of every numeric parameter and a categorical offset."""
    return (
        (params["u"] - 1.0) ** 2
        + (math.log10(params["lu"]) + 3.0) ** 2
        + 0.1 * (params["i"] - 5) ** 2
        + {"a": 0.0, "b": 0.5, "c": 1.0}[params["cat"]]
        + 0.01 * params["nested"]["depth"]
    )


def _run(config, fn, n, seed, engine=bayes.suggest):
    finished = []
    for t in range(n):
        out = engine(config, finished, seed=seed * 1000 + t)
        params = out[0] if isinstance(out, tuple) else out
        finished.append((params, fn(params)))
    return finished


def _assert_valid(space, params):
    flat = space.flatten(params)
    assert set(flat) == set(space.names)
    for d in space.dims:
        v = flat[d.name]
        assert d.contains(v), (d.name, v)
        if d.is_categorical:
            assert any(type(v) is type(c) and v == c for c in d.values), (d.name, v)
        elif d.is_numeric:
            assert isinstance(v, int) is d.is_int and not isinstance(v, bool), (d.name, v)
            lo, hi = d.bounds
            if d.q is None:
                assert lo <= v <= hi, (d.name, v)
            else:  # quantized: a multiple of q, W&B's rounding of a value inside the bounds
                assert abs(v / d.q - round(v / d.q)) < 1e-9, (d.name, v)
                assert lo - d.q <= v <= hi + d.q, (d.name, v)


def test_suggestions_stay_inside_the_space_for_every_kind():
    space = sp.parse_space(CONFIG)
    finished = _run(CONFIG, _loss, 20, seed=1)  # 17 initial-design points, then model steps
    for params, _ in finished:
        _assert_valid(space, params)
    params, info = bayes.suggest(CONFIG, finished, seed=99)
    assert info["phase"] == "model"
    _assert_valid(space, params)
    assert params["const"] == "fixed"
    assert set(params["nested"]) == {"width", "depth"}


def test_same_seed_same_suggestion_and_seed_matters():
    finished = _run(CONFIG, _loss, 19, seed=2)
    first = bayes.suggest(CONFIG, finished, seed=7)[0]
    assert bayes.suggest(CONFIG, finished, seed=7)[0] == first
    others = [bayes.suggest(CONFIG, finished, seed=s)[0] for s in (8, 9, 10)]
    assert any(o != first for o in others)


def test_maximize_goal_is_followed():
    config = {
        "method": "bayes",
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    finished = _run(config, lambda p: -((p["x"] - 0.8) ** 2), 15, seed=3)
    best = max(finished, key=lambda r: r[1])[0]["x"]
    assert abs(best - 0.8) < 0.05


def test_no_repeats_on_a_small_categorical_space_until_exhausted():
    params = {
        "act": {"values": ["relu", "elu", "selu"]},
        "bn": {"values": [True, False]},
        "lr": {"values": [1e-2, 1e-4, 1e-3]},
    }
    config = {"method": "bayes", "metric": {"name": "loss"}, "parameters": params}
    space = sp.parse_space(config)

    def loss(p):
        return (
            {"relu": 0.1, "elu": 0.0, "selu": 0.2}[p["act"]]
            + (0.0 if p["bn"] else 0.3)
            + abs(math.log10(p["lr"]) + 3)
        )

    finished = _run(config, loss, 18, seed=4)
    keys = [space.key(p) for p, _ in finished]
    assert len(set(keys)) == 18  # all 3 * 2 * 3 combinations, each once
    # exhausted: it still answers with a valid configuration
    _assert_valid(space, bayes.suggest(config, finished, seed=5)[0])


def test_mixed_space_with_integers_does_not_repeat():
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"layers": {"min": 1, "max": 4}, "opt": {"values": ["sgd", "adam"]}},
    }
    space = sp.parse_space(config)
    finished = _run(config, lambda p: (p["layers"] - 2) ** 2 + (p["opt"] == "sgd"), 8, seed=6)
    assert len({space.key(p) for p, _ in finished}) == 8


def test_pending_configurations_are_not_suggested_again():
    params = {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}}
    config = {"method": "bayes", "metric": {"name": "loss"}, "parameters": params}
    space = sp.parse_space(config)
    finished = [({"a": a, "b": b}, float(a)) for a, b in [(1, "x"), (2, "x"), (3, "x")]]
    finished += [({"a": 2, "b": "y"}, 2.0), ({"a": 3, "b": "y"}, 3.0)]
    # the only unseen combination is (1, "y"); the model would pick it, unless it is pending
    assert bayes.suggest(config, finished, seed=1)[0] == {"a": 1, "b": "y"}
    pending = [{"a": 1, "b": "y"}]
    params_out = bayes.suggest(config, finished, seed=1, pending=pending)[0]
    _assert_valid(space, params_out)


def test_pending_runs_change_the_next_suggestion_on_a_continuous_space():
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}},
    }
    finished = _run(config, lambda p: (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2, 10, seed=7)
    alone = bayes.suggest(config, finished, seed=50)[0]
    batch = [alone]
    for _ in range(3):
        params = bayes.suggest(config, finished, seed=50, pending=batch)[0]
        assert params not in batch  # same seed, yet the pending runs move it elsewhere
        batch.append(params)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "oops"])
def test_failed_runs_count_as_the_worst_result(bad):
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    # failures on the right half: the model should keep away from it
    finished = [
        ({"x": x}, (x - 0.2) ** 2 if x < 0.5 else bad) for x in np.linspace(0, 1, 11).tolist()
    ]
    params, info = bayes.suggest(config, finished, seed=3)
    assert info["phase"] == "model"
    assert 0.0 <= params["x"] < 0.5


def test_all_failed_runs_fall_back_to_the_space_filling_design():
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "c": {"values": ["p", "q"]}},
    }
    space = sp.parse_space(config)
    finished = [({"x": x, "c": "p"}, None) for x in (0.1, 0.5)] + [
        ({"x": 0.9, "c": "q"}, float("nan"))
    ] * 6
    params, info = bayes.suggest(config, finished, seed=0)
    assert info["phase"] == "initial design"
    _assert_valid(space, params)
    assert space.key(params) not in {space.key(p) for p, _ in finished}


def test_runs_outside_the_space_are_skipped():
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"c": {"values": ["p", "q"]}, "x": {"min": 0.0, "max": 1.0}},
    }
    finished = [({"c": "gone", "x": 0.5}, 1.0), ({"x": 0.5}, 1.0)]
    params, info = bayes.suggest(config, finished, seed=0)
    assert info["skipped_runs"] == 2
    assert params["c"] in ("p", "q")


def _branin_like(p):
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def _random_search(config, finished, *, seed=None, pending=()):
    return sp.parse_space(config).sample(np.random.default_rng(seed))


def test_beats_random_search_on_a_branin_like_function():
    config = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}},
    }
    f_star = 0.397887

    def best_regret(engine):
        return [
            min(y for _, y in _run(config, _branin_like, 30, seed=s, engine=engine)) - f_star
            for s in range(5)
        ]

    ours, rand = best_regret(bayes.suggest), best_regret(_random_search)
    assert np.mean(ours) < np.mean(rand)
    assert np.median(ours) < 0.1  # near a global minimum within 30 trials
