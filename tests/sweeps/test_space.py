"""Search-space parsing: W&B inference rules, every distribution, unit encoding,
flatten/unflatten and validation messages. Pure functions: no database."""

import math

import numpy as np
import pytest

from gradline.sweep_engines import space as sp
from gradline.sweep_engines.validation import validate


def _space(params, **extra):
    return validate({"method": "random", "parameters": params, **extra})


def _draws(dim, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return [dim.sample(rng) for _ in range(n)]


@pytest.mark.parametrize(
    ("spec", "distribution"),
    [
        ({"value": 3}, "constant"),
        ({"values": [1, 2]}, "categorical"),
        ({"values": [1, 2], "probabilities": [0.3, 0.7]}, "categorical_w_probabilities"),
        ({"min": 1, "max": 5}, "int_uniform"),
        ({"min": 1.0, "max": 5}, "uniform"),
        ({"min": 0, "max": 0.5}, "uniform"),
    ],
)
def test_distribution_is_inferred_like_wandb(spec, distribution):
    dim = _space({"p": spec})["p"]
    assert dim.distribution == distribution


def test_int_uniform_draws_every_integer_in_bounds():
    dim = _space({"n": {"min": -2, "max": 3}})["n"]
    draws = _draws(dim)
    assert all(type(v) is int for v in draws)
    assert set(draws) == {-2, -1, 0, 1, 2, 3}
    assert dim.is_int and dim.bounds == (-2.0, 3.0) and not dim.log


def test_uniform_draws_floats_in_bounds():
    dim = _space({"x": {"min": -1.5, "max": 2.0}})["x"]
    draws = _draws(dim)
    assert all(type(v) is float and -1.5 <= v <= 2.0 for v in draws)
    assert abs(np.mean(draws) - 0.25) < 0.1
    assert not dim.is_int


@pytest.mark.parametrize(
    ("q", "value_type"),
    [(5, int), (0.25, float), (None, float)],  # q omitted defaults to 1.0: floats
)
def test_q_uniform_quantizes_to_multiples_of_q(q, value_type):
    spec = {"distribution": "q_uniform", "min": 0, "max": 20}
    if q is not None:
        spec["q"] = q
    dim = _space({"x": spec})["x"]
    step = q or 1.0
    for v in _draws(dim, 500):
        assert type(v) is value_type
        assert math.isclose(v / step, round(v / step), abs_tol=1e-9)
        assert 0 <= v <= 20
    assert dim.is_int == (value_type is int)


def test_log_uniform_values_draws_in_bounds_on_a_log_scale():
    dim = _space({"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1}})["lr"]
    draws = _draws(dim)
    assert all(1e-5 <= v <= 1e-1 for v in draws)
    assert dim.log and dim.bounds == (1e-5, 1e-1)


def test_q_log_uniform_values_with_int_q_gives_ints():
    spec = {"distribution": "q_log_uniform_values", "min": 8, "max": 512, "q": 8}
    dim = _space({"bs": spec})["bs"]
    draws = _draws(dim, 500)
    assert all(type(v) is int and v % 8 == 0 and 8 <= v <= 512 for v in draws)
    assert dim.log and dim.is_int


@pytest.mark.parametrize(
    ("spec", "kind", "low", "high"),
    [
        # legacy forms take natural-log exponents
        ({"distribution": "log_uniform", "min": -5, "max": 0}, "log_uniform_values", -5, 0),
        ({"distribution": "q_log_uniform", "min": 0, "max": 4}, "q_log_uniform_values", 0, 4),
        ({"distribution": "inv_log_uniform", "min": 1, "max": 3}, "log_uniform_values", -3, -1),
    ],
)
def test_legacy_log_uniform_exponents_become_value_bounds(spec, kind, low, high):
    dim = _space({"x": spec})["x"]
    assert dim.kind == kind and dim.log
    lo, hi = dim.bounds
    assert math.isclose(lo, math.exp(low)) and math.isclose(hi, math.exp(high))
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in _draws(dim, 500))


def test_inv_log_uniform_values_is_log_uniform_over_its_values():
    spec = {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0}
    dim = _space({"x": spec})["x"]
    assert dim.kind == "log_uniform_values" and dim.bounds == (0.01, 1.0)
    draws = np.array(_draws(dim, 4000))
    assert abs(np.mean(draws < 0.1) - 0.5) < 0.04  # 0.1 is the geometric midpoint


def test_normal_bounds_are_the_tail_quantiles():
    dim = _space({"x": {"distribution": "normal", "mu": 2.0, "sigma": 0.5}})["x"]
    lo, hi = dim.bounds
    z = -sp.normal_ppf(1e-3)
    assert math.isclose(lo, 2.0 - 0.5 * z) and math.isclose(hi, 2.0 + 0.5 * z)
    draws = np.array(_draws(dim, 4000))
    assert abs(draws.mean() - 2.0) < 0.05 and abs(draws.std() - 0.5) < 0.05


def test_q_normal_with_int_q_gives_ints():
    dim = _space({"x": {"distribution": "q_normal", "mu": 10, "sigma": 4, "q": 2}})["x"]
    assert all(type(v) is int and v % 2 == 0 for v in _draws(dim, 500))


def test_log_normal_bounds_are_on_a_log_scale():
    dim = _space({"x": {"distribution": "log_normal", "mu": 0.0, "sigma": 1.0}})["x"]
    lo, hi = dim.bounds
    assert dim.log and math.isclose(lo * hi, 1.0) and lo > 0
    assert all(v > 0 for v in _draws(dim, 500))
    qdim = _space({"x": {"distribution": "q_log_normal", "q": 0.5}})["x"]
    assert qdim.log and all(math.isclose(v * 2, round(v * 2)) for v in _draws(qdim, 500))


def test_beta_lives_on_the_unit_interval():
    dim = _space({"x": {"distribution": "beta", "a": 2, "b": 5}})["x"]
    draws = np.array(_draws(dim, 4000))
    assert dim.bounds == (0.0, 1.0) and ((draws >= 0) & (draws <= 1)).all()
    assert abs(draws.mean() - 2 / 7) < 0.02
    qdim = _space({"x": {"distribution": "q_beta", "q": 0.1}})["x"]
    assert all(math.isclose(v * 10, round(v * 10)) for v in _draws(qdim, 500))


def test_categorical_with_probabilities_follows_them():
    dim = _space({"c": {"values": ["a", "b", "c"], "probabilities": [0.2, 0.0, 0.8]}})["c"]
    draws = _draws(dim, 4000)
    assert draws.count("b") == 0
    assert abs(draws.count("a") / 4000 - 0.2) < 0.03


def test_normal_ppf_inverts_the_normal_cdf():
    for p in (1e-9, 1e-3, 0.02, 0.3, 0.5, 0.7, 0.975, 0.999):
        x = sp.normal_ppf(p)
        assert math.isclose(0.5 * math.erfc(-x / math.sqrt(2)), p, rel_tol=1e-12)
    assert sp.normal_ppf(0.5) == 0.0
    assert math.isclose(sp.normal_ppf(0.2), -sp.normal_ppf(0.8), rel_tol=1e-12)
    with pytest.raises(ValueError):
        sp.normal_ppf(1.0)


NESTED = {
    "method": "bayes",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {
        "optimizer": {
            "parameters": {
                "name": {"values": ["adam", "sgd", True]},
                "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                "sched": {"parameters": {"warmup": {"min": 0, "max": 10}}},
            }
        },
        "dropout": {"min": 0.0, "max": 0.6},
        "epochs": {"value": 10},
        "width": {"distribution": "q_uniform", "min": 16, "max": 256, "q": 16},
        "noise": {"distribution": "q_normal", "mu": 0, "sigma": 1, "q": 0.5},
    },
}


def test_nested_blocks_flatten_in_sorted_key_order_with_dotted_names():
    space = validate(NESTED)
    assert space.names == [
        "dropout",
        "epochs",
        "noise",
        "optimizer.lr",
        "optimizer.name",
        "optimizer.sched.warmup",
        "width",
    ]
    assert [d.name for d in space.free] == [n for n in space.names if n != "epochs"]


def test_params_round_trip_through_flatten_and_unflatten():
    space = validate(NESTED)
    rng = np.random.default_rng(3)
    for _ in range(50):
        params = space.sample(rng)
        assert params["epochs"] == 10 and set(params["optimizer"]["sched"]) == {"warmup"}
        flat = sp.flatten_params(params, space)
        assert sp.unflatten_params(flat) == params
        assert space.unflatten(flat) == params


@pytest.mark.parametrize("onehot", [True, False])
def test_params_round_trip_through_the_unit_vector(onehot):
    space = validate(NESTED)
    rng = np.random.default_rng(4)
    assert space.width(onehot) == len(space.columns(onehot)) == (8 if onehot else 6)
    for _ in range(300):
        params = space.sample(rng)
        vec = space.to_unit(params, onehot)
        assert vec.shape == (space.width(onehot),) and ((vec >= 0) & (vec <= 1)).all()
        back = space.from_unit(vec, onehot)
        flat, flat_back = space.flatten(params), space.flatten(back)
        for d in space.dims:
            if d.kind in ("uniform", "log_uniform_values"):
                assert math.isclose(flat[d.name], flat_back[d.name], rel_tol=1e-9)
            elif d.kind == "q_normal" and not d.bounds[0] <= flat[d.name] <= d.bounds[1]:
                continue  # tail draws beyond the truncated box are clipped by design
            else:
                assert flat_back[d.name] == flat[d.name]
                assert type(flat_back[d.name]) is type(flat[d.name])


def test_one_hot_columns_name_their_category():
    space = validate(NESTED)
    params = space.sample(np.random.default_rng(0))
    params["optimizer"]["name"] = "sgd"
    vec = space.to_unit(params)
    onehot_cols = [(i, c) for i, c in enumerate(space.columns()) if c[1] is not None]
    assert [c for i, c in onehot_cols if vec[i] == 1.0] == [("optimizer.name", 1)]
    assert sum(vec[i] for i, _ in onehot_cols) == 1.0


def test_decoding_uniform_points_reproduces_int_uniform():
    space = _space({"n": {"min": 1, "max": 4}})
    u = np.random.default_rng(0).random(4000)
    counts = np.bincount([space.from_unit([x])["n"] for x in u], minlength=5)[1:]
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)


def test_decoding_any_unit_point_gives_legal_values():
    space = validate(NESTED)
    rng = np.random.default_rng(1)
    for _ in range(300):
        params = space.from_unit(rng.random(space.width()))
        flat = space.flatten(params)
        assert all(d.contains(flat[d.name]) for d in space.dims)


def test_dotted_parameter_names_are_not_split_by_the_space():
    space = _space({"a.b": {"values": [1]}, "c": {"parameters": {"d": {"value": 2}}}})
    params = space.sample(np.random.default_rng(0))
    assert params == {"a.b": 1, "c": {"d": 2}}
    assert space.from_unit(space.to_unit(params)) == params


def test_values_compare_canonically():
    assert sp.canonical(3.0) == sp.canonical(3)
    assert sp.canonical(True) != sp.canonical(1)
    assert sp.canonical({"b": 1, "a": (1, 2)}) == sp.canonical({"a": [1, 2], "b": 1.0})
    assert sp.canonical(np.int64(4)) == sp.canonical(4)


def test_metric_reads_name_and_defaults_goal():
    assert sp.metric({"metric": {"name": "acc", "goal": "maximize"}}) == ("acc", "maximize")
    assert sp.metric({"metric": {"name": "loss"}}) == ("loss", "minimize")
    with pytest.raises(ValueError, match=r"metric\.name"):
        sp.metric({"method": "bayes"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"lr": {"distribution": "log_uniform_valuez", "min": 1, "max": 2}},
            r"'lr'.*unknown distribution",
        ),
        ({"lr": {"min": 0.5, "max": 0.1}}, r"'lr': min 0.5 is not less than max 0.1"),
        ({"lr": {"min": 1, "max": 1}}, r"'lr': min 1 is not less than max 1"),
        ({"act": {"values": []}}, r"'act': values must be a non-empty list"),
        ({"act": {"values": "relu"}}, r"'act': values must be a non-empty list"),
        ({"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}, r"'lr'.*min > 0"),
        ({"lr": {"distribution": "q_log_uniform_values", "min": -1, "max": 1}}, r"'lr'.*min > 0"),
        ({"w": {"distribution": "q_uniform", "min": 0, "max": 9, "q": 0}}, r"'w': q must be"),
        ({"w": {"min": 0, "max": 9, "q": 2}}, r"'w': key\(s\) q not allowed"),
        (
            {"n": {"distribution": "int_uniform", "min": 1.5, "max": 4}},
            r"'n': int_uniform needs integer",
        ),
        ({"n": {"min": True, "max": 4}}, r"'n': min must be a finite number"),
        ({"n": {"min": 1, "max": float("inf")}}, r"'n': max must be a finite number"),
        ({"n": {"distribution": "uniform", "min": 1}}, r"'n': distribution uniform needs max"),
        ({"n": {"foo": 1}}, r"'n': cannot infer a distribution"),
        ({"n": 3}, r"'n': expected a mapping"),
        ({"c": {"values": [1, 2], "probabilities": [0.5, 0.6]}}, r"'c': probabilities sum to"),
        (
            {"c": {"values": [1, 2], "probabilities": [1.0]}},
            r"'c': probabilities must be a list as long",
        ),
        ({"x": {"distribution": "normal", "sigma": -1}}, r"'x': sigma must be > 0"),
        ({"x": {"distribution": "beta", "a": 0}}, r"'x': a must be > 0"),
        (
            {"x": {"distribution": "log_uniform", "min": 0, "max": 800}},
            r"'x': log_uniform takes exponents",
        ),
        ({"o": {"parameters": {"lr": {"min": 2.0, "max": 1.0}}}}, r"'o\.lr': min 2.0"),
        ({"o": {"parameters": {}}}, r"'o': nested 'parameters' must be a non-empty mapping"),
        ({"o": {"parameters": {"a": {"value": 1}}, "value": 2}}, r"'o': a nested block holds only"),
        (
            {"o.a": {"value": 1}, "o": {"parameters": {"a": {"value": 2}}}},
            r"'o\.a' is defined twice",
        ),
        ({}, r"non-empty 'parameters'"),
    ],
)
def test_bad_parameters_raise_a_message_naming_them(params, message):
    with pytest.raises(ValueError, match=message):
        _space(params)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"parameters": {"a": {"value": 1}}}, r"method must be one of"),
        ({"method": "hyper", "parameters": {"a": {"value": 1}}}, r"method must be one of"),
        ({"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, r"metric\.name"),
        (
            {
                "method": "random",
                "metric": {"name": "l", "goal": "down"},
                "parameters": {"a": {"value": 1}},
            },
            r"metric\.goal",
        ),
        (
            {"method": "grid", "parameters": {"lr": {"min": 0.0, "max": 1.0}}},
            r"'lr': grid search cannot",
        ),
        ({"method": "random", "run_cap": 0, "parameters": {"a": {"value": 1}}}, r"run_cap"),
        (
            {
                "method": "random",
                "early_terminate": {"type": "hyperband", "min_iter": 3},
                "parameters": {"a": {"value": 1}},
            },
            r"early_terminate needs the sweep's metric",
        ),
    ],
)
def test_bad_configs_raise_a_message_naming_the_section(config, message):
    with pytest.raises(ValueError, match=message):
        validate(config)


def test_flatten_params_names_the_missing_parameter():
    space = validate(NESTED)
    params = space.sample(np.random.default_rng(0))
    del params["optimizer"]["sched"]
    with pytest.raises(ValueError, match=r"'optimizer\.sched\.warmup'"):
        space.to_unit(params)
