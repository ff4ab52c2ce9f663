"""Sweeps on the server (docs/sweeps.md "Sweeps on the server, and the agent"): create,
next trial under the sweep lock, state from the runs, best trial, early termination,
isolation — through the HTTP API against real PostgreSQL."""

from __future__ import annotations

import itertools
import re
import threading

import pytest
from django.db import connection

from apps.sweeps.models import SweepTrial
from tests.conftest import client_for
from tests.runs.conftest import P, post_json

pytestmark = pytest.mark.django_db

S = f"{P}/sweeps"
RANDOM = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "optimizer": {"values": ["sgd", "adam"]},
    },
}
GRID = {
    "method": "grid",
    "parameters": {
        "batch_size": {"values": [16, 32, 64]},
        "optimizer": {"values": ["sgd", "adam"]},
        "epochs": {"value": 3},
    },
}
BAYES = {
    "method": "bayes",
    "metric": {"name": "val_acc", "goal": "maximize"},
    "parameters": {
        "x": {"min": -5.0, "max": 5.0},
        "depth": {"min": 1, "max": 8},
    },
}


@pytest.fixture
def member_api(api_for, member_user, project):
    return api_for(member_user)


@pytest.fixture
def viewer_api(api_for, viewer_user):
    return api_for(viewer_user)


def create(client, config, url=S):
    return post_json(client, url, {"config": config})


def create_ok(client, config) -> dict:
    r = create(client, config)
    assert r.status_code == 201, r.content
    return r.json()


def next_trial(client, sweep_id: str, agent: str | None = None):
    body = {} if agent is None else {"agent": agent}
    return post_json(client, f"{S}/{sweep_id}/next", body)


def next_ok(client, sweep_id: str) -> dict:
    r = next_trial(client, sweep_id)
    assert r.status_code == 200, r.content
    return r.json()


def start_run(client, trial: dict):
    """What the agent does: start the trial's run with its id and params."""
    r = post_json(client, f"{P}/runs", {"id": trial["run"], "config": trial["params"]})
    assert r.status_code == 201, r.content


def log(client, run: str, key: str, values: list[float], start: int = 0):
    points = [[key, start + i, v, 1.7e9 + start + i] for i, v in enumerate(values)]
    r = post_json(client, f"{P}/runs/{run}/ingest", {"points": points})
    assert r.status_code == 200, r.content
    assert r.json()["accepted"] == len(values), r.content


def finish(client, run: str, exit_code: int = 0):
    r = post_json(client, f"{P}/runs/{run}/finish", {"exit_code": exit_code})
    assert r.status_code == 200, r.content


def run_trial(client, sweep_id: str, key: str, value: float) -> dict:
    trial = next_ok(client, sweep_id)
    start_run(client, trial)
    log(client, trial["run"], key, [value])
    finish(client, trial["run"])
    return trial


def detail(client, sweep_id: str) -> dict:
    r = client.get(f"{S}/{sweep_id}")
    assert r.status_code == 200, r.content
    return r.json()


# --------------------------------------------------------------------------- create


@pytest.mark.parametrize("config", [RANDOM, GRID, BAYES], ids=["random", "grid", "bayes"])
def test_create_with_each_method(member_api, member_user, config):
    body = create_ok(member_api, {**config, "name": "my sweep", "description": "why"})
    # 8 lowercase base-36 characters (str.islower() is False for an all-digit id)
    assert re.fullmatch(r"[a-z0-9]{8}", body["id"])
    assert body["method"] == config["method"] and body["state"] == "running"
    assert body["name"] == "my sweep" and body["description"] == "why"
    assert body["config"]["parameters"] == config["parameters"]
    assert body["metric"] == (
        {"name": config["metric"]["name"], "goal": config["metric"]["goal"]}
        if "metric" in config
        else None
    )
    assert body["run_count"] == 0 and body["finished_count"] == 0 and body["best"] is None
    assert body["created_by"] == member_user.email
    listed = member_api.get(S).json()["sweeps"]
    assert [s["id"] for s in listed] == [body["id"]]
    got = detail(member_api, body["id"])
    assert got["trials"] == [] and got["id"] == body["id"]


def test_list_is_newest_first(member_api):
    ids = [create_ok(member_api, RANDOM)["id"] for _ in range(3)]
    assert [s["id"] for s in member_api.get(S).json()["sweeps"]] == ids[::-1]


def test_post_creates_the_project_on_first_use(member_api, team):
    r = create(member_api, RANDOM, url="/api/v1/teams/team-a/projects/brand-new/sweeps")
    assert r.status_code == 201, r.content
    r = member_api.get(f"/api/v1/teams/team-a/projects/brand-new/sweeps/{r.json()['id']}")
    assert r.status_code == 200


def test_bad_config_does_not_create_the_project(member_api):
    r = create(member_api, {"method": "nope"}, url="/api/v1/teams/team-a/projects/fresh/sweeps")
    assert r.status_code == 400
    assert member_api.get("/api/v1/teams/team-a/projects/fresh").status_code == 404


BAD_CONFIGS = [
    ({"method": "annealing", "parameters": {"lr": {"values": [1]}}}, "config.method"),
    ({"method": "random"}, "config.parameters"),
    ({"method": "random", "parameters": {"lr": {"min": 1.0, "max": 0.1}}}, "config.parameters.lr"),
    (
        {"method": "random", "parameters": {"lr": {"distribution": "lognorm", "min": 1}}},
        "config.parameters.lr",
    ),
    (
        {"method": "random", "parameters": {"opt": {"values": "adam"}}},
        "config.parameters.opt",
    ),
    (
        {"method": "grid", "parameters": {"lr": {"min": 0.1, "max": 1.0}}},
        "config.parameters.lr",
    ),
    ({"method": "bayes", "parameters": {"lr": {"min": 0.1, "max": 1.0}}}, "config.metric.name"),
    (
        {
            "method": "bayes",
            "metric": {"name": "loss", "goal": "lowest"},
            "parameters": {"lr": {"min": 0.1, "max": 1.0}},
        },
        "config.metric.goal",
    ),
    (
        {
            "method": "random",
            "parameters": {"lr": {"min": 0.1, "max": 1.0}},
            "early_terminate": {"type": "hyperband", "min_iter": 3},
        },
        "config.metric.name",
    ),
    (
        {**RANDOM, "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 1}},
        "config.early_terminate.eta",
    ),
    ({**RANDOM, "early_terminate": {"type": "median"}}, "config.early_terminate.type"),
    ({**RANDOM, "run_cap": 0}, "config.run_cap"),
    ({**RANDOM, "run_cap": "10"}, "config.run_cap"),
    ({**RANDOM, "name": 5}, "config.name"),
    ({**RANDOM, "command": "python train.py"}, "config.command"),
    ({**RANDOM, "description": "a\x00b"}, "config.description"),
    ("method: random", "config"),
    (None, "config"),
]


@pytest.mark.parametrize(("config", "field"), BAD_CONFIGS)
def test_bad_config_names_the_field(member_api, config, field):
    r = post_json(member_api, S, {"config": config})
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["detail"]["field"] == field, error
    assert error["message"]
    assert member_api.get(S).json()["sweeps"] == []


# --------------------------------------------------------------------------- next


def test_grid_walks_every_combination_once_then_is_exhausted(member_api):
    sweep = create_ok(member_api, GRID)["id"]
    seen = []
    for _ in range(6):
        trial = next_ok(member_api, sweep)
        assert trial["sweep"] == sweep and len(trial["run"]) == 8
        seen.append((trial["params"]["batch_size"], trial["params"]["optimizer"]))
        assert trial["params"]["epochs"] == 3
    assert sorted(seen) == sorted(itertools.product([16, 32, 64], ["sgd", "adam"]))
    r = next_trial(member_api, sweep)
    assert r.status_code == 409, r.content
    assert r.json()["error"]["code"] == "sweep_done"
    assert r.json()["error"]["detail"] == {"state": "running", "reason": "exhausted"}
    body = detail(member_api, sweep)
    assert body["run_count"] == 6 and len({t["run"] for t in body["trials"]}) == 6
    assert all(t["state"] == "pending" for t in body["trials"])


def test_run_cap_ends_the_sweep(member_api):
    sweep = create_ok(member_api, {**RANDOM, "run_cap": 2})["id"]
    runs = {next_ok(member_api, sweep)["run"] for _ in range(2)}
    assert len(runs) == 2
    r = next_trial(member_api, sweep)
    assert r.status_code == 409
    assert r.json()["error"]["detail"] == {"state": "running", "reason": "run_cap"}


def test_paused_sweep_refuses_then_resumes(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    r = member_api.patch(f"{S}/{sweep}", {"state": "paused"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "paused"
    r = next_trial(member_api, sweep)
    assert r.status_code == 409
    assert r.json()["error"]["detail"] == {"state": "paused", "reason": "paused"}
    r = member_api.patch(f"{S}/{sweep}", {"state": "running"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "running"
    assert next_trial(member_api, sweep).status_code == 200
    for state in ("finished", "cancelled"):
        assert member_api.patch(f"{S}/{sweep}", {"state": state}, format="json").status_code == 200
        r = next_trial(member_api, sweep)
        assert r.status_code == 409
        assert r.json()["error"]["detail"] == {"state": state, "reason": state}


def test_patch_refuses_an_unknown_state(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    r = member_api.patch(f"{S}/{sweep}", {"state": "done"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "state"
    r = member_api.patch(f"{S}/{sweep}", {"name": 3}, format="json")
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "name"
    assert detail(member_api, sweep)["state"] == "running"


def test_random_params_lie_in_the_space_and_run_ids_are_new(member_api, member_user):
    start_run(member_api, {"run": "existing", "params": {}})
    sweep = create_ok(member_api, RANDOM)["id"]
    runs = set()
    for _ in range(20):
        trial = next_ok(member_api, sweep)
        assert 1e-4 <= trial["params"]["lr"] <= 1e-1
        assert trial["params"]["optimizer"] in ("sgd", "adam")
        runs.add(trial["run"])
    assert len(runs) == 20 and "existing" not in runs


def test_agent_label_is_kept_and_checked(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    assert next_trial(member_api, sweep, agent="gpu-box-1").status_code == 200
    assert detail(member_api, sweep)["trials"][0]["agent"] == "gpu-box-1"
    r = post_json(member_api, f"{S}/{sweep}/next", {"agent": ["x"]})
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "agent"


@pytest.mark.django_db(transaction=True)
def test_concurrent_next_calls_get_different_trials(team, member_user):
    sweep = create_ok(client_for(member_user), GRID)["id"]
    results: list = []
    barrier = threading.Barrier(6)

    def agent():
        try:
            client = client_for(member_user)
            barrier.wait(timeout=10)
            r = next_trial(client, sweep)
            results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=agent) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [status for status, _ in results] == [200] * 6, results
    combos = {(b["params"]["batch_size"], b["params"]["optimizer"]) for _, b in results}
    assert len(combos) == 6
    assert len({b["run"] for _, b in results}) == 6


# --------------------------------------------------------------------------- runs → trials


def test_trial_states_follow_the_runs_and_failed_runs_count_as_failed(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    ok, failed, running, pending = (next_ok(member_api, sweep) for _ in range(4))
    for trial in (ok, failed, running):
        start_run(member_api, trial)
    log(member_api, ok["run"], "loss", [0.9, 0.4])
    finish(member_api, ok["run"])
    log(member_api, failed["run"], "loss", [0.01])
    finish(member_api, failed["run"], exit_code=1)
    body = detail(member_api, sweep)
    states = {t["run"]: (t["state"], t["metric"]) for t in body["trials"]}
    assert states == {
        ok["run"]: ("finished", 0.4),
        failed["run"]: ("failed", None),
        running["run"]: ("running", None),
        pending["run"]: ("pending", None),
    }
    assert body["run_count"] == 4 and body["finished_count"] == 2
    assert body["counts"]["failed"] == 1 and body["counts"]["pending"] == 1
    # The failed run logged the lowest loss, but a failed trial is never the best.
    assert body["best"] == {"run": ok["run"], "metric": 0.4, "params": ok["params"]}
    assert [t["run"] for t in body["trials"]] == [
        pending["run"],
        running["run"],
        failed["run"],
        ok["run"],
    ]


def objective(params: dict) -> float:
    """A smooth objective with its maximum at x = 1.5, depth = 6."""
    return -((params["x"] - 1.5) ** 2) - 0.1 * (params["depth"] - 6) ** 2


def test_bayes_after_finished_runs_stays_in_the_space_and_tracks_the_best(member_api):
    sweep = create_ok(member_api, BAYES)["id"]
    values = []
    for _ in range(10):
        trial = next_ok(member_api, sweep)
        assert -5.0 <= trial["params"]["x"] <= 5.0
        assert trial["params"]["depth"] in range(1, 9)
        value = objective(trial["params"])
        start_run(member_api, trial)
        log(member_api, trial["run"], "val_acc", [value - 1.0, value])
        finish(member_api, trial["run"])
        values.append((value, trial))
    body = detail(member_api, sweep)
    best_value, best_trial = max(values, key=lambda v: v[0])
    assert body["best"] == {
        "run": best_trial["run"],
        "metric": best_value,
        "params": best_trial["params"],
    }
    assert body["finished_count"] == 10
    # Past the initial design (5 trials here) the model proposes a new point in the space.
    trial = next_ok(member_api, sweep)
    assert -5.0 <= trial["params"]["x"] <= 5.0 and trial["params"]["depth"] in range(1, 9)
    keys = {(t["params"]["x"], t["params"]["depth"]) for _, t in values}
    assert (trial["params"]["x"], trial["params"]["depth"]) not in keys


def test_a_minimize_sweep_picks_the_lowest_metric(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    trials = [run_trial(member_api, sweep, "loss", v) for v in (0.7, 0.2, 0.5)]
    best = detail(member_api, sweep)["best"]
    assert best["run"] == trials[1]["run"] and best["metric"] == 0.2


def test_a_finished_run_without_the_metric_has_no_metric(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    trial = run_trial(member_api, sweep, "accuracy", 0.9)
    body = detail(member_api, sweep)
    assert body["trials"][0] == {**body["trials"][0], "state": "finished", "metric": None}
    assert body["best"] is None and trial["run"] == body["trials"][0]["run"]


# --------------------------------------------------------------------------- early stop

HYPERBAND = {
    **RANDOM,
    "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
}


def test_hyperband_stops_a_clearly_bad_run(member_api):
    sweep = create_ok(member_api, HYPERBAND)["id"]
    # Three good runs that went past the milestone (3 values) and finished.
    for _ in range(3):
        trial = next_ok(member_api, sweep)
        start_run(member_api, trial)
        log(member_api, trial["run"], "loss", [1.0, 0.5, 0.3, 0.2])
        finish(member_api, trial["run"])
    bad, early = next_ok(member_api, sweep), next_ok(member_api, sweep)
    start_run(member_api, bad)
    start_run(member_api, early)
    log(member_api, early["run"], "loss", [5.0, 5.0])  # not at the first milestone yet
    log(member_api, bad["run"], "loss", [5.0, 4.0])

    def stop(trial):
        r = member_api.get(f"{S}/{sweep}/trials/{trial['run']}/stop")
        assert r.status_code == 200, r.content
        return r.json()

    assert stop(bad)["stop"] is False  # 2 values: before the first milestone
    log(member_api, bad["run"], "loss", [3.0], start=2)
    decision = stop(bad)
    assert decision["stop"] is True and "hyperband" in decision["reason"], decision
    assert stop(early)["stop"] is False
    states = {t["run"]: t["state"] for t in detail(member_api, sweep)["trials"]}
    assert states[bad["run"]] == "stopped" and states[early["run"]] == "running"
    # The agent stops the run: it finishes, and its trial stays stopped.
    finish(member_api, bad["run"])
    assert stop(bad)["stop"] is True
    body = detail(member_api, sweep)
    assert {t["run"]: t["state"] for t in body["trials"]}[bad["run"]] == "stopped"
    assert body["counts"]["stopped"] == 1


def test_a_bad_run_checked_late_is_still_stopped(member_api, team):
    """The first check comes when the run is far past the last milestone any other run
    reached (a loaded machine, a large upload batch): it is judged at the highest shared
    milestone, not at one only it reached (where nothing could ever stop it)."""
    sweep = create_ok(member_api, HYPERBAND)["id"]
    for _ in range(2):
        trial = next_ok(member_api, sweep)
        start_run(member_api, trial)
        log(member_api, trial["run"], "loss", [1.0] * 6)  # past milestone 3, not 9
        finish(member_api, trial["run"])
    bad = next_ok(member_api, sweep)
    start_run(member_api, bad)
    log(member_api, bad["run"], "loss", [5.0] * 40)  # past 3, 9 and 27 before any check
    decision = member_api.get(f"{S}/{sweep}/trials/{bad['run']}/stop").json()
    assert decision["stop"] is True, decision
    assert "at milestone 3 " in decision["reason"], decision
    # What the check read is kept as the trials' milestone summaries.
    stored = dict(
        SweepTrial.objects.for_team(team)
        .filter(sweep__uid=sweep)
        .values_list("run_uid", "milestones")
    )
    assert stored[bad["run"]] == {"3": 5.0, "9": 5.0, "27": 5.0}
    assert [v for uid, v in stored.items() if uid != bad["run"]] == [{"3": 1.0}] * 2


def test_a_good_run_is_not_stopped(member_api):
    sweep = create_ok(member_api, HYPERBAND)["id"]
    for loss in (1.0, 2.0, 3.0):
        trial = next_ok(member_api, sweep)
        start_run(member_api, trial)
        log(member_api, trial["run"], "loss", [loss] * 3)
        finish(member_api, trial["run"])
    good = next_ok(member_api, sweep)
    start_run(member_api, good)
    log(member_api, good["run"], "loss", [0.9, 0.8, 0.5])
    r = member_api.get(f"{S}/{sweep}/trials/{good['run']}/stop").json()
    assert r["stop"] is False and "not worse" in r["reason"]


def test_stop_without_early_termination_and_for_unknown_runs(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    trial = next_ok(member_api, sweep)
    r = member_api.get(f"{S}/{sweep}/trials/{trial['run']}/stop")
    assert r.status_code == 200 and r.json()["stop"] is False
    assert member_api.get(f"{S}/{sweep}/trials/nosuchrun/stop").status_code == 404


# --------------------------------------------------------------------------- delete, access


def test_delete_removes_the_sweep_and_keeps_the_runs(member_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    trial = run_trial(member_api, sweep, "loss", 0.3)
    assert member_api.delete(f"{S}/{sweep}").status_code == 204
    assert member_api.get(f"{S}/{sweep}").status_code == 404
    assert next_trial(member_api, sweep).status_code == 404
    assert member_api.get(f"{P}/runs/{trial['run']}").status_code == 200


def test_viewer_reads_but_cannot_write(member_api, viewer_api):
    sweep = create_ok(member_api, RANDOM)["id"]
    read = viewer_api.get(f"{S}/{sweep}")
    assert read.status_code == 200 and read.json()["id"] == sweep
    for refused in (
        create(viewer_api, RANDOM),
        next_trial(viewer_api, sweep),
        viewer_api.delete(f"{S}/{sweep}"),
    ):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "permission_denied"
    # Nothing changed: no trial handed out, the sweep still there.
    assert viewer_api.get(f"{S}/{sweep}").json()["trials"] == read.json()["trials"] == []


def test_sweeps_are_isolated_between_projects_and_teams(member_api, other_team, other_admin):
    sweep = create_ok(member_api, RANDOM)["id"]
    other_project = "/api/v1/teams/team-a/projects/other"
    r = create(member_api, RANDOM, url=f"{other_project}/sweeps")
    assert r.status_code == 201
    assert [s["id"] for s in member_api.get(f"{other_project}/sweeps").json()["sweeps"]] == [
        r.json()["id"]
    ]
    assert member_api.get(f"{other_project}/sweeps/{sweep}").status_code == 404
    assert next_trial(member_api, sweep).status_code == 200
    assert post_json(member_api, f"{other_project}/sweeps/{sweep}/next", {}).status_code == 404
    # Team B: team A's sweep is not found, under team A's URL or its own.
    b = client_for(other_admin)
    assert b.get(f"{S}/{sweep}").status_code == 404
    assert next_trial(b, sweep).status_code == 404
    assert create(b, RANDOM, url="/api/v1/teams/team-b/projects/resnet/sweeps").status_code == 201
    assert b.get(f"/api/v1/teams/team-b/projects/resnet/sweeps/{sweep}").status_code == 404
    assert [s["id"] for s in member_api.get(S).json()["sweeps"]] == [sweep]
