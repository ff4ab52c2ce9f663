"""Offline sweeps against the real server (docs/sweeps.md "Offline sweeps"):
`gradline agent --local` runs a sweep with no server, `gradline sync` uploads it, and the
result is the sweep the same config gives online with the real agent; the import route's
idempotence, its 400s and another team's 404."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import requests

from gradline import Api
from gradline.sweep_engines import history
from tests.sdk.harness import gradline_cli, sdk_script_env

# A deterministic program: its loss is a function of the params only.
PROGRAM = """
import gradline as wandb

run = wandb.init()
x, y, opt = wandb.config.x, wandb.config.y, wandb.config.opt
for step in range(3):
    wandb.log({"loss": (x - 0.3) ** 2 + (y - 2) ** 2 + (0.5 if opt == "sgd" else 0.0) + step})
"""

CONFIG = {
    "method": "bayes",
    "seed": 1234,
    "run_cap": 10,
    "metric": {"name": "loss", "goal": "minimize"},
    "program": "train.py",
    "parameters": {
        "x": {"min": 0.0, "max": 1.0},
        "y": {"values": [1, 2, 3, 4]},
        "opt": {"values": ["sgd", "adam"]},
    },
}


@pytest.fixture
def env(server, sdk_db, tmp_path) -> dict:
    """A user's shell, with the server configured (the offline steps take it away)."""
    return sdk_script_env(server.url, sdk_db.seed.owner_key, tmp_path, GRADLINE_EXIT_HOOKS="true")


@pytest.fixture
def api(server, sdk_db):
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def no_server(env: dict) -> dict:
    """No key and a server address nothing listens on: any contact would fail."""
    out = {k: v for k, v in env.items() if k != "GRADLINE_API_KEY"}
    out["GRADLINE_BASE_URL"] = "http://127.0.0.1:9"
    return out


def project_name() -> str:
    return f"offline-{uuid.uuid4().hex[:8]}"


def write(tmp_path: Path, config: dict) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(PROGRAM))
    (tmp_path / "sweep.json").write_text(json.dumps(config))


def run_offline(tmp_path: Path, env: dict, project: str, *args: str) -> str:
    """`gradline agent --local`; returns the offline sweep's id (from its ledger)."""
    agent = gradline_cli(
        "agent", "--local", "sweep.json", "--project", project, *args,
        env=no_server(env), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    ledgers = sorted((tmp_path / "runs").glob("sweep-*/ledger.json"))
    assert len(ledgers) == 1, agent.stderr
    return json.loads(ledgers[0].read_text())["id"]


def ordered(trials: list[dict]) -> list[dict]:
    """Oldest first (the API lists them newest first)."""
    return list(reversed(trials))


def test_an_offline_sweep_syncs_into_the_sweep_the_same_config_gives_online(env, api, tmp_path):
    offline_dir, online_dir = tmp_path / "offline", tmp_path / "online"
    offline_dir.mkdir()
    online_dir.mkdir()
    write(offline_dir, CONFIG)
    write(online_dir, CONFIG)
    off_project, on_project = project_name(), project_name()

    # Offline: no server at all, then sync.
    sweep_id = run_offline(offline_dir, {**env, "GRADLINE_DIR": str(offline_dir / "runs")},
                           off_project)  # fmt: skip
    ledger = json.loads(next((offline_dir / "runs").glob("sweep-*/ledger.json")).read_text())
    assert [t["order"] for t in ledger["trials"]] == list(range(10))
    assert all(t["state"] == "finished" and t["metric"] is not None for t in ledger["trials"])
    synced = gradline_cli(
        "sync", env={**env, "GRADLINE_DIR": str(offline_dir / "runs")}, cwd=offline_dir,
        timeout=600,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    assert f"sweep {sweep_id}: synced" in synced.stderr

    # Online: the same config with the real agent.
    online_env = {**env, "GRADLINE_DIR": str(online_dir / "runs")}
    created = gradline_cli(
        "sweep", "sweep.json", "--project", on_project, env=online_env, cwd=online_dir
    )
    assert created.returncode == 0, created.stderr
    online_id = created.stdout.strip()
    agent = gradline_cli(
        "agent", f"{on_project}/{online_id}", env=online_env, cwd=online_dir, timeout=600
    )
    assert agent.returncode == 0, agent.stderr
    assert "has no more runs (run_cap)" in agent.stderr

    offline = api.sweep(f"sdk-team/{off_project}/{sweep_id}")
    online = api.sweep(f"sdk-team/{on_project}/{online_id}")
    off_trials, on_trials = ordered(offline.trials), ordered(online.trials)
    assert len(off_trials) == len(on_trials) == 10
    assert [t["params"] for t in off_trials] == [t["params"] for t in on_trials]
    assert [t["state"] for t in off_trials] == ["finished"] * 10
    assert [t["state"] for t in off_trials] == [t["state"] for t in on_trials]
    assert [t["metric"] for t in off_trials] == [t["metric"] for t in on_trials]
    assert [t["metric"] for t in off_trials] == [t["metric"] for t in ledger["trials"]]
    assert [t["run"] for t in off_trials] == [t["run"] for t in ledger["trials"]]
    assert offline.config == online.config == CONFIG
    for field in ("method", "metric", "state"):
        assert offline._data[field] == online._data[field]
    for field in ("run_count", "finished_count", "counts"):
        assert offline._data[field] == online._data[field]
    assert offline.best["params"] == online.best["params"]
    assert offline.best["metric"] == online.best["metric"]
    # The runs are linked to their trials (same id) and carry their params and summary.
    runs = {r.id: r for r in api.runs(f"sdk-team/{off_project}", per_page=50)}
    assert set(runs) == {t["run"] for t in off_trials}
    for trial in off_trials:
        run = runs[trial["run"]]
        assert run.config == trial["params"]
        assert run.state == "finished" and run.job_type == "sweep"
        assert run.summary["loss"] == trial["metric"]


def test_sync_twice_adds_nothing_and_the_import_is_idempotent(env, api, sdk_db, tmp_path, server):
    write(tmp_path, {**CONFIG, "method": "random", "run_cap": 3})
    project = project_name()
    sweep_id = run_offline(tmp_path, env, project)
    status = gradline_cli("status", env=env, cwd=tmp_path)
    assert "offline sweeps: 1 (1 not uploaded)" in status.stdout, status.stdout
    for _ in range(2):
        synced = gradline_cli("sync", env=env, cwd=tmp_path, timeout=600)
        assert synced.returncode == 0, synced.stderr
    status = gradline_cli("status", env=env, cwd=tmp_path)
    assert "offline sweeps: 1 (0 not uploaded)" in status.stdout, status.stdout
    assert f"sweep {sweep_id}: already" in synced.stderr
    forced = gradline_cli("sync", "--force", "--include-synced", env=env, cwd=tmp_path, timeout=600)
    assert forced.returncode == 0, forced.stderr
    sweep = api.sweep(f"sdk-team/{project}/{sweep_id}")
    assert len(sweep.trials) == 3
    assert sweep._data["run_count"] == 3 and sweep._data["counts"]["finished"] == 3
    assert len(api.runs(f"sdk-team/{project}", per_page=50)) == 3

    # The same body again straight to the route: 200, nothing added.
    ledger = json.loads(next((tmp_path / "runs").glob("sweep-*/ledger.json")).read_text())
    body = {
        "id": sweep_id,
        "config": ledger["config"],
        "trials": [{"run": t["run"], "params": t["params"]} for t in ledger["trials"]],
    }
    url = f"{server.url}/api/v1/teams/sdk-team/projects/{project}/sweeps/import"
    headers = {"Authorization": f"Bearer {sdk_db.seed.owner_key}"}
    again = requests.post(url, json=body, headers=headers, timeout=60)
    assert again.status_code == 200, again.text
    assert len(again.json()["trials"]) == 3
    # Another config under the same id is a conflict, not a merge.
    other = requests.post(
        url, json={**body, "config": {**body["config"], "seed": 1}}, headers=headers, timeout=60
    )
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "sweep_exists"


def test_a_sweep_an_agent_holds_is_skipped_and_its_runs_wait(env, api, tmp_path):
    write(tmp_path, {**CONFIG, "method": "random", "run_cap": 2})
    project = project_name()
    sweep_id = run_offline(tmp_path, env, project)
    fd = os.open(tmp_path / "runs" / f"sweep-{sweep_id}" / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running agent holds it
        held = gradline_cli("sync", env=env, cwd=tmp_path, timeout=600)
    finally:
        os.close(fd)
    assert held.returncode == 1, held.stderr
    assert f"sweep {sweep_id}: active" in held.stderr
    assert "offline-run-" not in held.stderr  # its runs were not uploaded without it
    synced = gradline_cli("sync", env=env, cwd=tmp_path, timeout=600)
    assert synced.returncode == 0, synced.stderr
    sweep = api.sweep(f"sdk-team/{project}/{sweep_id}")
    assert [t["state"] for t in sweep.trials] == ["finished", "finished"]


BAD_BODIES = [
    ({"config": CONFIG, "trials": []}, "id"),
    ({"id": "NOT-AN-ID", "config": CONFIG, "trials": []}, "id"),
    ({"id": "abcd1234", "trials": []}, "config"),
    ({"id": "abcd1234", "config": {**CONFIG, "seed": "seven"}, "trials": []}, "config.seed"),
    ({"id": "abcd1234", "config": {**CONFIG, "seed": True}, "trials": []}, "config.seed"),
    ({"id": "abcd1234", "config": {**CONFIG, "method": "magic"}, "trials": []}, "config.method"),
    ({"id": "abcd1234", "config": CONFIG, "trials": {"run": "x"}}, "trials"),
    ({"id": "abcd1234", "config": CONFIG, "trials": ["x"]}, "trials[0]"),
    ({"id": "abcd1234", "config": CONFIG, "trials": [{"run": "BAD ID", "params": {}}]},
     "trials[0].run"),
    ({"id": "abcd1234", "config": CONFIG, "trials": [{"run": "r1", "params": []}]},
     "trials[0].params"),
    ({"id": "abcd1234", "config": CONFIG,
      "trials": [{"run": "r1", "params": {}}, {"run": "r1", "params": {}}]}, "trials[1].run"),
    ({"id": "abcd1234", "config": CONFIG, "trials": [{"run": "r1", "params": {}, "agent": 3}]},
     "trials[0].agent"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_a_bad_import_body_is_a_400_naming_the_field(server, sdk_db, body, field):
    url = f"{server.url}/api/v1/teams/sdk-team/projects/{project_name()}/sweeps/import"
    headers = {"Authorization": f"Bearer {sdk_db.seed.owner_key}"}
    answer = requests.post(url, json=body, headers=headers, timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["detail"]["field"] == field


def test_a_bad_seed_in_a_new_sweep_is_a_400_naming_config_seed(server, sdk_db):
    url = f"{server.url}/api/v1/teams/sdk-team/projects/{project_name()}/sweeps"
    headers = {"Authorization": f"Bearer {sdk_db.seed.owner_key}"}
    answer = requests.post(
        url, json={"config": {**CONFIG, "seed": -1}}, headers=headers, timeout=60
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["detail"]["field"] == "config.seed"


def test_another_teams_key_gets_404_on_import(server, sdk_db):
    project = project_name()
    owner = {"Authorization": f"Bearer {sdk_db.seed.owner_key}"}
    base = f"{server.url}/api/v1/teams/sdk-team/projects/{project}/sweeps"
    made = requests.post(base, json={"config": CONFIG}, headers=owner, timeout=60)
    assert made.status_code == 201, made.text
    body = {"id": "abcd1234", "config": CONFIG, "trials": [{"run": "r1", "params": {}}]}
    outsider = {"Authorization": f"Bearer {sdk_db.seed.outsider_key}"}
    answer = requests.post(f"{base}/import", json=body, headers=outsider, timeout=60)
    assert answer.status_code == 404, answer.text
    listed = requests.get(base, headers=owner, timeout=60).json()["sweeps"]
    assert [s["id"] for s in listed] == [made.json()["id"]]


def test_the_offline_agent_says_early_termination_is_not_supported(env, tmp_path):
    config = {
        "method": "grid",
        "program": "train.py",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1},
        "parameters": {"x": {"value": 0.5}, "y": {"value": 2}, "opt": {"value": "adam"}},
    }
    write(tmp_path, config)
    agent = gradline_cli(
        "agent", "--local", "sweep.json", env=no_server(env), cwd=tmp_path, timeout=300
    )
    assert agent.returncode == 0, agent.stderr
    assert "early_terminate is not supported offline" in agent.stderr
    assert "has no more runs (exhausted)" in agent.stderr


def test_the_seed_of_a_config_does_not_depend_on_the_sweep():
    config = {"seed": 5}
    assert history.trial_seed(config, 1, 3) == history.trial_seed(config, 999, 3)
    assert history.trial_seed({}, 1, 3) != history.trial_seed({}, 2, 3)


def test_gradline_agent_local_true_runs_an_offline_sweep_in_python(env, tmp_path, monkeypatch):
    import gradline

    config = {
        "method": "grid",
        "program": "train.py",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0.1, 0.9]}, "y": {"value": 2}, "opt": {"value": "adam"}},
    }
    write(tmp_path, config)
    for key, value in no_server(env).items():
        if key.startswith("GRADLINE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("GRADLINE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    sweep_id = gradline.agent(config, local=True)
    ledger = json.loads((tmp_path / "runs" / f"sweep-{sweep_id}" / "ledger.json").read_text())
    assert [t["params"]["x"] for t in ledger["trials"]] == [0.1, 0.9]
    assert [t["state"] for t in ledger["trials"]] == ["finished", "finished"]
    assert ledger["trials"][0]["metric"] == pytest.approx((0.1 - 0.3) ** 2 + 2)
    assert isinstance(ledger["config"]["seed"], int)  # drawn, and kept for the sync
    with pytest.raises(gradline.UsageError, match="function is not supported offline"):
        gradline.agent(config, lambda: None, local=True)


def test_without_numpy_the_offline_agent_names_what_to_install(tmp_path):
    write(tmp_path, CONFIG)
    code = (
        "import sys; sys.modules['numpy'] = None\n"  # an install without the sweeps extra
        "from gradline.cli import main\n"
        "sys.exit(main(['agent', '--local', 'sweep.json']))\n"
    )
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "GRADLINE_DIR": str(runs)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "pip install 'gradline[sweeps]'" in done.stderr
    assert not runs.exists()  # nothing was created


def test_an_offline_sweep_continues_from_its_folder_with_the_same_sequence(env, tmp_path):
    config = {**CONFIG, "run_cap": 3}
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        write(folder, config)
    run_offline(one, {**env, "GRADLINE_DIR": str(one / "runs")}, "p", "--count", "3")
    sweep_id = run_offline(two, {**env, "GRADLINE_DIR": str(two / "runs")}, "p", "--count", "2")
    more = gradline_cli(
        "agent", "--local", f"runs/sweep-{sweep_id}",
        env=no_server({**env, "GRADLINE_DIR": str(two / "runs")}), cwd=two, timeout=600,
    )  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert "has no more runs (run_cap)" in more.stderr

    def trials(folder):
        ledger = next((folder / "runs").glob("sweep-*/ledger.json"))
        return json.loads(ledger.read_text())["trials"]

    assert [t["order"] for t in trials(two)] == [0, 1, 2]
    assert [t["params"] for t in trials(two)] == [t["params"] for t in trials(one)]
    assert [t["metric"] for t in trials(two)] == [t["metric"] for t in trials(one)]
