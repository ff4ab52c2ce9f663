"""Crashed and preempted trials are re-queued (docs/sweeps.md "Crashed and preempted
trials"): the next agent gets the same run id and params, the run resumes with its
history, attempts are capped by the config's `max_attempts`. Through the HTTP API on
real PostgreSQL; crashes are marked by the real crash-detection service."""

from __future__ import annotations

import pytest

from apps.runs import services as run_services
from tests.runs.conftest import P, post_json
from tests.sweeps.test_api import RANDOM, S, create, create_ok, detail, finish, log, next_ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_api(api_for, member_user, project):
    return api_for(member_user)


def start(client, trial: dict, status: int = 201):
    """What the SDK's init() does for the trial (a re-run resumes: resume='allow')."""
    body = {"id": trial["run"], "config": trial["params"]}
    if trial.get("resume"):
        body["resume"] = "allow"
    r = post_json(client, f"{P}/runs", body)
    assert r.status_code == status, r.content


def crash_silent_runs(team):
    """What the periodic crash detection does once heartbeats are older than its timeout."""
    return run_services.runs_mark_crashed(team=team, timeout_s=0)


def trial_of(client, sweep_id: str, run: str) -> dict:
    [trial] = [t for t in detail(client, sweep_id)["trials"] if t["run"] == run]
    return trial


def history_steps(client, run: str) -> list[tuple[int, float]]:
    r = client.get(f"{P}/runs/{run}/scan", {"keys": "loss"})
    assert r.status_code == 200, r.content
    return [(row["_step"], row["loss"]) for row in r.json()["rows"] if "loss" in row]


def test_a_crashed_trial_is_rerun_with_its_run_id_and_params_and_resumes(member_api, team):
    sweep_id = create_ok(member_api, {**RANDOM, "max_attempts": 3})["id"]
    first = next_ok(member_api, sweep_id)
    assert (first["attempt"], first["resume"]) == (1, False)
    start(member_api, first)
    log(member_api, first["run"], "loss", [5.0, 4.0])
    assert crash_silent_runs(team)

    trial = trial_of(member_api, sweep_id, first["run"])
    assert (trial["state"], trial["attempts"]) == ("requeued", 1)
    again = next_ok(member_api, sweep_id)
    assert (again["run"], again["params"]) == (first["run"], first["params"])
    assert (again["attempt"], again["resume"]) == (2, True)
    # Handed out again; until the run resumes it is pending (not the old crash).
    assert trial_of(member_api, sweep_id, first["run"])["state"] == "pending"
    body = detail(member_api, sweep_id)
    assert body["run_count"] == 1 and body["counts"]["pending"] == 1

    start(member_api, again, status=200)  # resumed, not created
    assert trial_of(member_api, sweep_id, first["run"])["state"] == "running"
    log(member_api, first["run"], "loss", [3.0], start=2)  # continues from its last step
    finish(member_api, first["run"])
    trial = trial_of(member_api, sweep_id, first["run"])
    assert (trial["state"], trial["attempts"], trial["metric"]) == ("finished", 2, 3.0)
    assert history_steps(member_api, first["run"]) == [(0, 5.0), (1, 4.0), (2, 3.0)]
    # The next trial is a new one.
    assert next_ok(member_api, sweep_id)["run"] != first["run"]


def test_attempts_are_capped_by_max_attempts(member_api, team):
    sweep_id = create_ok(member_api, {**RANDOM, "max_attempts": 2})["id"]
    first = next_ok(member_api, sweep_id)
    start(member_api, first)
    crash_silent_runs(team)
    again = next_ok(member_api, sweep_id)
    assert (again["run"], again["attempt"]) == (first["run"], 2)
    start(member_api, again, status=200)
    crash_silent_runs(team)
    trial = trial_of(member_api, sweep_id, first["run"])
    assert (trial["state"], trial["attempts"]) == ("crashed", 2)  # no attempt left
    third = next_ok(member_api, sweep_id)
    assert third["run"] != first["run"] and third["attempt"] == 1
    assert detail(member_api, sweep_id)["finished_count"] == 1


def test_max_attempts_1_never_requeues(member_api, team):
    sweep_id = create_ok(member_api, {**RANDOM, "max_attempts": 1})["id"]
    first = next_ok(member_api, sweep_id)
    start(member_api, first)
    crash_silent_runs(team)
    assert trial_of(member_api, sweep_id, first["run"])["state"] == "crashed"
    assert next_ok(member_api, sweep_id)["run"] != first["run"]


def test_a_preempting_run_that_ends_failed_is_requeued(member_api):
    sweep_id = create_ok(member_api, RANDOM)["id"]  # default max_attempts: 3
    first = next_ok(member_api, sweep_id)
    start(member_api, first)
    r = post_json(member_api, f"{S}/{sweep_id}/trials/{first['run']}/preempting", {})
    assert r.status_code == 200, r.content
    assert trial_of(member_api, sweep_id, first["run"])["preempting"] is True
    finish(member_api, first["run"], exit_code=143)  # SIGTERM
    assert trial_of(member_api, sweep_id, first["run"])["state"] == "requeued"
    again = next_ok(member_api, sweep_id)
    assert (again["run"], again["attempt"]) == (first["run"], 2)
    # A new attempt starts unmarked.
    assert trial_of(member_api, sweep_id, first["run"])["preempting"] is False


def test_failed_and_finished_runs_are_not_requeued(member_api):
    sweep_id = create_ok(member_api, RANDOM)["id"]
    failed = next_ok(member_api, sweep_id)
    start(member_api, failed)
    finish(member_api, failed["run"], exit_code=1)  # a bug, not a preemption
    done = next_ok(member_api, sweep_id)
    start(member_api, done)
    post_json(member_api, f"{S}/{sweep_id}/trials/{done['run']}/preempting", {})
    finish(member_api, done["run"])  # preempting, but it finished anyway
    states = {t["run"]: t["state"] for t in detail(member_api, sweep_id)["trials"]}
    assert states == {failed["run"]: "failed", done["run"]: "finished"}
    assert next_ok(member_api, sweep_id)["run"] not in states


def test_a_preempted_trial_without_attempts_left_is_preempted(member_api):
    sweep_id = create_ok(member_api, {**RANDOM, "max_attempts": 1})["id"]
    first = next_ok(member_api, sweep_id)
    start(member_api, first)
    post_json(member_api, f"{S}/{sweep_id}/trials/{first['run']}/preempting", {})
    finish(member_api, first["run"], exit_code=143)
    body = detail(member_api, sweep_id)
    assert body["trials"][0]["state"] == "preempted"
    assert body["counts"]["preempted"] == 1 and body["finished_count"] == 1


@pytest.mark.parametrize("value", [0, 101, "3", True, 2.5, None])
def test_bad_max_attempts_names_the_field(member_api, value):
    r = create(member_api, {**RANDOM, "max_attempts": value})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == "config.max_attempts"


def test_preempting_an_unknown_trial_is_404(member_api):
    sweep_id = create_ok(member_api, RANDOM)["id"]
    r = post_json(member_api, f"{S}/{sweep_id}/trials/nosuchrun/preempting", {})
    assert r.status_code == 404, r.content
