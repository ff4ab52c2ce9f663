"""Importing a sweep that ran offline (docs/sweeps.md "Offline sweeps"): the trials
follow their runs whether these were uploaded before or after, the sweep goes on online
from the same seed sequence, and a run id of another sweep's trial is refused."""

from __future__ import annotations

import pytest

from gradline.sweep_engines import history
from tests.runs.conftest import P, post_json
from tests.sweeps.test_api import RANDOM, S, detail, finish, log, next_ok, start_run

pytestmark = pytest.mark.django_db

CONFIG = {**RANDOM, "seed": 42}


@pytest.fixture
def member_api(api_for, member_user, project):
    return api_for(member_user)


def offline_params(n: int) -> list[dict]:
    """What `gradline agent --local` suggests for CONFIG (random ignores the history)."""
    return [
        history.suggest_next(CONFIG, [], [], seed=history.trial_seed(CONFIG, 0, i))
        for i in range(n)
    ]


def test_trials_follow_runs_uploaded_before_and_after_and_the_sweep_goes_on_online(member_api):
    params = offline_params(3)
    before = {"id": "r-before", "config": params[0]}
    assert post_json(member_api, f"{P}/runs", before).status_code == 201
    log(member_api, "r-before", "loss", [0.5])
    finish(member_api, "r-before")
    body = {
        "id": "off12345",
        "config": CONFIG,
        "trials": [
            {"run": "r-before", "params": params[0]},
            {"run": "r-after", "params": params[1]},
            {"run": "r-never", "params": params[2]},
        ],
    }
    made = post_json(member_api, f"{S}/import", body)
    assert made.status_code == 201, made.content
    trials = {t["run"]: t for t in made.json()["trials"]}
    assert (trials["r-before"]["state"], trials["r-before"]["metric"]) == ("finished", 0.5)
    assert trials["r-after"]["state"] == "pending"

    start_run(member_api, {"run": "r-after", "params": params[1]})
    log(member_api, "r-after", "loss", [0.25])
    finish(member_api, "r-after", exit_code=1)
    sweep = detail(member_api, "off12345")
    trials = {t["run"]: t for t in sweep["trials"]}
    assert (trials["r-after"]["state"], trials["r-after"]["metric"]) == ("failed", None)
    assert sweep["run_count"] == 3 and sweep["best"]["run"] == "r-before"

    # Online agents continue the sequence: the 4th trial is the 4th offline suggestion.
    assert next_ok(member_api, "off12345")["params"] == offline_params(4)[3]


def test_a_run_id_of_another_sweeps_trial_is_refused(member_api):
    other = post_json(member_api, S, {"config": CONFIG}).json()["id"]
    taken = next_ok(member_api, other)["run"]
    body = {"id": "off12345", "config": CONFIG, "trials": [{"run": taken, "params": {}}]}
    answer = post_json(member_api, f"{S}/import", body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["detail"]["field"] == "trials[0].run"
    other_config = {**body, "id": other, "config": RANDOM}  # its id, another config
    assert post_json(member_api, f"{S}/import", other_config).status_code == 409


def test_a_viewer_cannot_import(api_for, viewer_user, project):
    body = {"id": "off12345", "config": CONFIG, "trials": []}
    assert post_json(api_for(viewer_user), f"{S}/import", body).status_code == 403
