"""Hyperband early termination: milestones and stop decisions on hand-built histories."""

import math

import pytest

from gradline.sweep_engines import hyperband


def _config(goal="minimize", **et):
    return {
        "method": "random",
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": "hyperband", **et},
        "parameters": {"a": {"values": [1, 2]}},
    }


def test_min_iter_milestones_grow_by_eta():
    assert hyperband.milestones(_config(min_iter=1), up_to=100) == [1, 3, 9, 27, 81]
    assert hyperband.milestones(_config(min_iter=2, eta=2), up_to=40) == [2, 4, 8, 16, 32]
    assert len(hyperband.milestones(_config(min_iter=1, eta=1.5))) == 100  # W&B lists 100


def test_max_iter_milestones_count_down_s_brackets():
    assert hyperband.milestones(_config(max_iter=27, s=3)) == [1, 3, 9]
    assert hyperband.milestones(_config(max_iter=81, s=2)) == [9, 27]
    assert hyperband.milestones(_config(max_iter=10, s=3)) == [1, 3]  # 10/27 < 1 stops early
    assert hyperband.milestones(_config(max_iter=10, s=2, min_iter=1)) == [1, 3]  # max_iter wins


# eta=2, min_iter=2: milestones 2, 4, 8, ...; a run reaches milestone b with its b-th value.
HISTORIES = {
    "a": [10, 9],  # finished
    "b": [10, 10],  # running, worst at milestone 2
    "c": [10, 8, 8],  # running, exactly at the threshold
    "d": [10, 7, 7, 7],  # running, alone at milestone 4
    "e": [10, 6, 6],  # finished
    "f": [10],  # running, no milestone yet
}
RUNNING = ["b", "c", "d", "f"]


def test_runs_worse_than_the_top_fraction_at_their_milestone_stop():
    config = _config(min_iter=2, eta=2)
    # milestone 2 values: 6 7 8 9 10 -> threshold at index int(5 / 2) = 2 -> 8
    decisions = {d.run_id: d for d in hyperband.decide(config, HISTORIES, RUNNING)}
    assert (decisions["b"].milestone, decisions["b"].value, decisions["b"].threshold) == (2, 10, 8)
    assert decisions["c"].threshold == 8 and not decisions["c"].stop  # not strictly worse
    assert decisions["d"].milestone == 4 and decisions["d"].threshold == 7
    assert decisions["f"].milestone is None
    assert hyperband.runs_to_stop(config, HISTORIES, RUNNING) == ["b"]
    assert hyperband.should_stop(config, HISTORIES, "b")
    assert not hyperband.should_stop(config, HISTORIES, "f")


def test_finished_runs_set_thresholds_but_are_never_stopped():
    config = _config(min_iter=2, eta=2)
    assert hyperband.runs_to_stop(config, HISTORIES, []) == []
    assert hyperband.runs_to_stop(config, {"b": [10, 10]}, ["b"]) == []  # alone: its own threshold


def test_maximize_goal_mirrors_minimize():
    flipped = {rid: [-v for v in h] for rid, h in HISTORIES.items()}
    config = _config(goal="maximize", min_iter=2, eta=2)
    assert hyperband.runs_to_stop(config, flipped, RUNNING) == ["b"]


def test_strict_compares_the_milestone_value_lenient_the_best_so_far():
    histories = {**HISTORIES, "g": [5, 9]}  # great start, bad value at milestone 2
    # milestone 2 values: 6 7 8 9 9 10 -> threshold at index 3 -> 9; g's 9 is not above it
    assert hyperband.runs_to_stop(_config(min_iter=2, eta=2), histories, ["g"]) == []
    histories["g"] = [5, 9.5]  # now 9 7 8 9.5 10 6: threshold at index 3 -> 9
    assert hyperband.runs_to_stop(_config(min_iter=2, eta=2), histories, ["g"]) == ["g"]
    lenient = _config(min_iter=2, eta=2, strict=False)
    assert hyperband.runs_to_stop(lenient, histories, ["g"]) == []  # best so far is 5


def test_missing_and_non_finite_values_are_dropped_before_counting():
    histories = {**HISTORIES, "b": [None, 10, math.nan, 10, math.inf]}
    assert hyperband.decide(_config(min_iter=2, eta=2), histories, ["b"])[0].value == 10
    assert hyperband.runs_to_stop(_config(min_iter=2, eta=2), histories, RUNNING) == ["b"]
    # with only one finite value, b has not reached milestone 2
    histories["b"] = [None, math.nan, 10]
    assert not hyperband.should_stop(_config(min_iter=2, eta=2), histories, "b")


@pytest.mark.parametrize(
    ("et", "message"),
    [
        ({"eta": 1}, r"eta must be > 1"),
        ({"min_iter": 0}, r"min_iter must be an integer >= 1"),
        ({"max_iter": 9}, r"s must be an integer >= 1"),
        ({"max_iter": 2, "s": 1}, r"no milestone"),
        ({"min_iter": 3, "strict": "yes"}, r"strict must be true or false"),
        ({"min_iters": 3}, r"unknown key\(s\) min_iters"),
        ({}, r"needs min_iter, or max_iter and s"),
        ({"type": "median", "min_iter": 3}, r"type must be 'hyperband'"),
    ],
)
def test_bad_early_terminate_raises_a_message_naming_the_field(et, message):
    with pytest.raises(ValueError, match=message):
        hyperband.parse_early_terminate(_config(**et))


def test_milestone_decisions_judge_at_the_highest_shared_milestone():
    config = _config(min_iter=3, eta=3)
    others = [{3: 1.0}, {3: 1.2}]
    # Only the run reached 9 and 27: judged at 3, where the others are.
    late = hyperband.decide_at_milestones(config, {3: 5.0, 9: 5.0, 27: 5.0}, others)
    assert (late.milestone, late.stop, late.threshold) == (3, True, 1.2)
    good = hyperband.decide_at_milestones(config, {3: 0.5, 9: 0.4}, others)
    assert (good.milestone, good.stop) == (3, False)
    # Alone, or before the first milestone: never stopped.
    assert not hyperband.decide_at_milestones(config, {3: 9.0}, []).stop
    assert hyperband.decide_at_milestones(config, {}, others).milestone is None
    # A shared higher milestone wins.
    higher = hyperband.decide_at_milestones(config, {3: 0.5, 9: 3.0}, [{3: 1.0, 9: 1.0}] * 2)
    assert (higher.milestone, higher.stop) == (9, True)


def test_milestone_decisions_maximize_and_not_strict():
    config = _config(goal="maximize", min_iter=3, eta=3, strict=False)
    others = [{3: 0.9}, {3: 0.8}]
    # Its 3rd value is bad, but its best so far (0.95) is not: kept, as W&B's non-strict.
    assert not hyperband.decide_at_milestones(config, {3: 0.1}, others, best=0.95).stop
    assert hyperband.decide_at_milestones(config, {3: 0.1}, others, best=0.2).stop
