"""`prior_runs` (W&B's sweep argument): existing runs of the project seed a new sweep; the
engines learn from them, they are not handed out, re-run or counted by run_cap. Through
the HTTP API on real PostgreSQL."""

from __future__ import annotations

import pytest

from apps.runs import services as run_services
from apps.sweeps import controller
from apps.sweeps.models import Sweep
from gradline.sweep_engines import bayes, history
from tests.runs.conftest import P, post_json
from tests.sweeps.test_api import BAYES, S, detail, finish, log, next_ok

pytestmark = pytest.mark.django_db

POINTS = [(-4.0, 2), (-1.0, 5), (0.5, 3), (2.0, 7), (4.5, 1)]  # (x, depth)


@pytest.fixture
def member_api(api_for, member_user, project):
    return api_for(member_user)


def earlier_runs(client) -> list[str]:
    """Five finished runs logged before any sweep, val_acc peaked near x = 0.5."""
    ids = []
    for i, (x, depth) in enumerate(POINTS):
        uid = f"prior{i}"
        r = post_json(client, f"{P}/runs", {"id": uid, "config": {"x": x, "depth": depth}})
        assert r.status_code == 201, r.content
        log(client, uid, "val_acc", [1.0 - (x - 0.5) ** 2 / 30])
        finish(client, uid)
        ids.append(uid)
    return ids


def test_prior_runs_seed_the_sweep_and_the_engine_learns_from_them(member_api, team):
    ids = earlier_runs(member_api)
    r = post_json(member_api, S, {"config": {**BAYES, "run_cap": 1}, "prior_runs": ids})
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["run_count"], body["prior_count"], body["finished_count"]) == (0, 5, 5)
    assert body["best"]["run"] == "prior2"  # x = 0.5

    trials = detail(member_api, body["id"])["trials"]
    assert {t["run"] for t in trials} == set(ids)
    assert all(t["prior"] and t["state"] == "finished" for t in trials)
    assert {t["run"]: t["params"] for t in trials}["prior3"] == {"x": 2.0, "depth": 7}

    # The first suggestion is the engine's answer given those five results: past the
    # initial design (5 runs for 2 parameters), from the model.
    sweep = Sweep.objects.for_team(team).get(uid=body["id"])
    finished = [({"x": x, "depth": d}, 1.0 - (x - 0.5) ** 2 / 30) for x, d in POINTS]
    expected, info = bayes.suggest(BAYES, finished, seed=controller.seed(sweep, 5))
    assert info["phase"] == "model"
    trial = next_ok(member_api, body["id"])
    assert trial["params"] == history.json_plain(expected)
    assert trial["run"] not in ids
    # run_cap counts trials handed out, not prior runs: one, then done.
    r = post_json(member_api, f"{S}/{body['id']}/next", {})
    assert r.status_code == 409, r.content
    assert r.json()["error"]["detail"]["reason"] == "run_cap"


def test_a_run_can_seed_several_sweeps_and_a_crashed_prior_run_is_not_rerun(member_api, team):
    ids = earlier_runs(member_api)
    r = post_json(member_api, f"{P}/runs", {"id": "died", "config": {"x": 1.0, "depth": 2}})
    assert r.status_code == 201
    run_services.runs_mark_crashed(team=team, timeout_s=0)
    first = post_json(member_api, S, {"config": BAYES, "prior_runs": [*ids[:2], "died"]})
    second = post_json(member_api, S, {"config": BAYES, "prior_runs": [f"team-a/resnet/{ids[0]}"]})
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    states = {t["run"]: t["state"] for t in detail(member_api, first.json()["id"])["trials"]}
    assert states == {ids[0]: "finished", ids[1]: "finished", "died": "crashed"}
    assert next_ok(member_api, first.json()["id"])["run"] not in states
    assert [t["run"] for t in detail(member_api, second.json()["id"])["trials"]] == [ids[0]]


@pytest.mark.parametrize(
    "prior_runs",
    ["prior0", [1, 2], ["nosuchrun"], [""], ["x" * 300], ["pri\x00or0"], ["Prior0"]],
    ids=str,
)
def test_bad_prior_runs_are_400_naming_the_field(member_api, prior_runs):
    earlier_runs(member_api)
    r = post_json(member_api, S, {"config": BAYES, "prior_runs": prior_runs})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == "prior_runs"
    assert member_api.get(S).json()["sweeps"] == []  # nothing created
