"""Sweeps from the SDK against the real server: `wandb.sweep` / `wandb.agent` in this
process, `gradline sweep` / `gradline agent` running a program per trial, locked sweep
parameters, failures, Ctrl-C and early termination (docs/sweeps.md)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

import gradline
from gradline import Api
from tests.sdk.harness import gradline_cli, wait_for


@pytest.fixture
def sweep_env(monkeypatch, server, sdk_db, tmp_path):
    """What a user's shell would hold: the SDK reads it in sweep(), agent() and init()."""
    env = {
        "GRADLINE_BASE_URL": server.url,
        "GRADLINE_API_KEY": sdk_db.seed.owner_key,
        "GRADLINE_ENTITY": "sdk-team",
        "GRADLINE_DIR": str(tmp_path / "runs"),
        "GRADLINE_CONFIG_DIR": str(tmp_path / "config"),
        "GRADLINE_SYSTEM_METRICS": "false",
        "GRADLINE_CONSOLE": "off",
        "GRADLINE_GIT": "false",
        "GRADLINE_PIP_FREEZE": "false",
        "GRADLINE_EXIT_HOOKS": "false",
        "GRADLINE_SWEEP_STOP_INTERVAL": "0.2",
        "GRADLINE_SWEEP_STOP_GRACE": "20",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def api(server, sdk_db):
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def project_name() -> str:
    return f"sweeps-{uuid.uuid4().hex[:8]}"


def runs_by_id(api: Api, project: str) -> dict:
    return {run.id: run for run in api.runs(f"sdk-team/{project}", per_page=200)}


def outcomes(api: Api, project: str, key: str) -> dict:
    """{config[key]: (state, exit_code)} of every run of the project."""
    return {
        run.config[key]: (run.state, run._data["exit_code"])
        for run in runs_by_id(api, project).values()
    }


def test_grid_sweep_runs_every_combination_once_with_its_params(sweep_env, api, capfd):
    project = project_name()
    config = {
        "method": "grid",
        "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "yy"]}},
    }
    sweep_id = gradline.sweep(config, project=project)
    assert f"created sweep {sweep_id} in sdk-team/{project}" in capfd.readouterr().err
    seen = []

    def train():
        run = gradline.init()
        config = gradline.config  # the product brief's spelling, after init()
        seen.append((run.id, config.a, config.b))
        gradline.log({"score": config.a * len(config.b)})

    gradline.agent(sweep_id, train)  # no count: returns when the grid is used up

    assert "has no more runs (exhausted)" in capfd.readouterr().err
    combos = sorted((a, b) for _, a, b in seen)
    assert combos == sorted(itertools.product([1, 2, 3], ["x", "yy"]))
    sweep = api.sweep(f"sdk-team/{project}/{sweep_id}")
    trials = {t["run"]: t for t in sweep.trials}
    runs = runs_by_id(api, project)
    assert set(runs) == set(trials) == {run_id for run_id, _, _ in seen}
    for run_id, run in runs.items():
        assert run.config == trials[run_id]["params"]
        assert (run.state, run.job_type) == ("finished", "sweep")
        assert run.summary["score"] == run.config["a"] * len(run.config["b"])
        assert trials[run_id]["state"] == "finished"
    assert sweep.best["params"] == {"a": 3, "b": "yy"}
    assert sweep.best_run().config == {"a": 3, "b": "yy"}


def test_count_bounds_the_runs_of_an_agent(sweep_env, api):
    project = project_name()
    config = {"method": "random", "parameters": {"lr": {"min": 0.001, "max": 0.1}}}
    sweep_id = gradline.sweep(config, project=project)

    def train():
        gradline.init()
        gradline.log({"loss": gradline.config.lr})

    gradline.agent(f"{project}/{sweep_id}", train, count=3)
    runs = runs_by_id(api, project)
    assert len(runs) == 3
    assert all(0.001 <= run.config["lr"] <= 0.1 for run in runs.values())
    assert len(api.sweep(f"sdk-team/{project}/{sweep_id}").trials) == 3


def test_a_swept_key_assigned_by_the_script_keeps_the_sweeps_value(sweep_env, api, capfd):
    project = project_name()
    config = {"method": "grid", "parameters": {"lr": {"values": [0.25]}}}
    sweep_id = gradline.sweep(config, project=project)
    inside = {}

    def train():
        gradline.init(config={"lr": 5.0, "layers": 2})
        gradline.config.lr = 7.0
        gradline.config.update({"lr": 9.0, "dropout": 0.1})
        inside["lr"] = gradline.config.lr

    gradline.agent(f"sdk-team/{project}/{sweep_id}", train)
    assert inside["lr"] == 0.25
    assert "config item 'lr' was locked by sweep (ignored update)" in capfd.readouterr().err
    [run] = runs_by_id(api, project).values()
    assert run.config == {"lr": 0.25, "layers": 2, "dropout": 0.1}


def test_an_exception_fails_that_run_and_the_agent_goes_on(sweep_env, api, capfd):
    project = project_name()
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}}
    sweep_id = gradline.sweep(config, project=project)

    def train():
        gradline.init()
        gradline.log({"a": gradline.config.a})
        if gradline.config.a == 2:
            raise ValueError("diverged at a=2")

    gradline.agent(sweep_id, train)
    err = capfd.readouterr().err
    assert "ValueError: diverged at a=2" in err  # the traceback is printed
    states = outcomes(api, project, "a")
    assert states == {1: ("finished", 0), 2: ("failed", 1), 3: ("finished", 0)}
    trial_states = {t["params"]["a"]: t["state"] for t in api.sweep(f"{project}/{sweep_id}").trials}
    assert trial_states == {1: "finished", 2: "failed", 3: "finished"}


def test_ctrl_c_fails_the_current_run_and_stops_the_agent(sweep_env, api, capfd):
    project = project_name()
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}}
    sweep_id = gradline.sweep(config, project=project)

    def train():
        gradline.init()
        if gradline.config.a == 2:
            raise KeyboardInterrupt

    gradline.agent(sweep_id, train)
    assert "agent stopped (Ctrl-C)" in capfd.readouterr().err
    states = outcomes(api, project, "a")
    assert states == {1: ("finished", 0), 2: ("failed", 130)}


def test_a_real_sigint_fails_the_current_run_and_stops_the_agent(sweep_env, api, tmp_path):
    """SIGINT as a terminal's Ctrl-C sends it, to a script running the agent."""
    project = project_name()
    (tmp_path / "train.py").write_text(
        textwrap.dedent(f"""
        import os, signal, time
        import gradline as wandb

        def train():
            wandb.init()
            if wandb.config.a == 2:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(60)

        config = {{"method": "grid", "parameters": {{"a": {{"values": [1, 2, 3]}}}}}}
        wandb.agent(wandb.sweep(config, project="{project}"), train)
        print("AFTER AGENT", flush=True)
        """)
    )
    env = {**os.environ, "GRADLINE_EXIT_HOOKS": "true"}
    result = subprocess.run(
        [sys.executable, "train.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AFTER AGENT" in result.stdout
    assert "agent stopped (Ctrl-C)" in result.stderr
    assert outcomes(api, project, "a") == {1: ("finished", 0), 2: ("failed", 130)}


HYPERBAND = {
    "method": "grid",
    "metric": {"name": "acc", "goal": "maximize"},
    "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
    # W&B's grid order: 0.8, 0.9, then the bad one, judged against both at milestone 3
    "parameters": {"quality": {"values": [0.8, 0.9, 0.1]}},
}
# Milestones are 3, 9, 27, ...: the good runs log 6 values. The bad run logs like a real
# training loop until it is stopped; however late the first check comes (a loaded
# machine: it may already be past 9 and 27, which only it reached), it is judged at
# milestone 3, the highest one the good runs reached too.
BAD_RUN_DEADLINE_S = 300


def test_early_termination_interrupts_a_bad_run_which_finishes(sweep_env, api, capfd):
    project = project_name()
    sweep_id = gradline.sweep(HYPERBAND, project=project)
    interrupted = {}

    def train():
        gradline.init()
        quality = gradline.config.quality
        if quality > 0.5:
            for _ in range(6):
                gradline.log({"acc": quality})
            return
        deadline = time.monotonic() + BAD_RUN_DEADLINE_S
        try:
            while time.monotonic() < deadline:
                gradline.log({"acc": quality})
                time.sleep(0.05)
        except KeyboardInterrupt:
            interrupted["by"] = "early termination"
            raise

    gradline.agent(sweep_id, train)
    assert interrupted == {"by": "early termination"}  # not the deadline
    err = capfd.readouterr().err
    assert "early termination stopped run" in err and "at milestone 3 is worse" in err
    sweep = api.sweep(f"{project}/{sweep_id}")
    trials = {t["params"]["quality"]: t for t in sweep.trials}
    assert {q: t["state"] for q, t in trials.items()} == {
        0.8: "finished",
        0.9: "finished",
        0.1: "stopped",
    }
    bad = api.run(f"sdk-team/{project}/{trials[0.1]['run']}")
    assert (bad.state, bad._data["exit_code"]) == ("finished", 0)


# -- gradline sweep / gradline agent ----------------------------------------------------


PROGRAM = """
import json, sys, time
import gradline as wandb

run = wandb.init()
with open(f"argv-{run.id}.json", "w") as fh:
    json.dump(sys.argv[1:], fh)
quality = wandb.config.quality
if quality > 0.5:
    for _ in range(6):
        wandb.log({"acc": quality})
else:
    # A bad run logs until the agent's SIGTERM (judged at milestone 3 however late).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        wandb.log({"acc": quality})
        time.sleep(0.05)
    print("NOT STOPPED", flush=True)
"""


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_gradline_agent_runs_the_program_per_trial(sweep_env, api, tmp_path, fmt):
    project = project_name()
    (tmp_path / "train.py").write_text(textwrap.dedent(PROGRAM))
    config = {**HYPERBAND, "program": "train.py"}
    if fmt == "yaml":
        import yaml

        (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    else:
        (tmp_path / "sweep.json").write_text(json.dumps(config))
    env = {**os.environ, "GRADLINE_EXIT_HOOKS": "true"}
    created = gradline_cli(
        "sweep", f"sweep.{fmt}", "--project", project, env=env, cwd=tmp_path, timeout=180
    )
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.strip()
    assert f"created sweep {sweep_id}" in created.stderr

    agent = gradline_cli("agent", f"{project}/{sweep_id}", env=env, cwd=tmp_path, timeout=180)
    assert agent.returncode == 0, agent.stderr
    assert "early termination stops run" in agent.stderr
    assert "has no more runs (exhausted)" in agent.stderr
    assert "NOT STOPPED" not in agent.stdout
    sweep = api.sweep(f"{project}/{sweep_id}")
    runs = runs_by_id(api, project)
    assert set(runs) == {t["run"] for t in sweep.trials}
    for trial in sweep.trials:
        run = runs[trial["run"]]
        assert run.config == trial["params"]
        argv = json.loads((tmp_path / f"argv-{run.id}.json").read_text())
        assert argv == [f"--quality={trial['params']['quality']}"]
        assert (run.state, run._data["exit_code"], run.job_type) == ("finished", 0, "sweep")
    assert sorted(t["state"] for t in sweep.trials) == ["finished", "finished", "stopped"]


def test_gradline_agent_count_and_a_failing_program(sweep_env, api, tmp_path):
    project = project_name()
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import sys
        import gradline as wandb
        wandb.init()
        if wandb.config.a == 1:
            sys.exit(3)
        wandb.log({"a": wandb.config.a})
        """)
    )
    config = {"method": "grid", "program": "train.py", "parameters": {"a": {"values": [1, 2, 3]}}}
    (tmp_path / "sweep.json").write_text(json.dumps(config))
    env = {**os.environ, "GRADLINE_EXIT_HOOKS": "true", "GRADLINE_PROJECT": project}
    created = gradline_cli("sweep", "sweep.json", env=env, cwd=tmp_path, timeout=180)
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.strip()
    agent = gradline_cli("agent", sweep_id, "--count", "2", env=env, cwd=tmp_path, timeout=180)
    assert agent.returncode == 0, agent.stderr
    assert "exited with code 3; the agent goes on" in agent.stderr
    states = {run.config["a"]: run.state for run in runs_by_id(api, project).values()}
    assert states == {1: "failed", 2: "finished"}


def test_gradline_sweep_rejects_a_bad_config_with_the_field(sweep_env, tmp_path):
    bad = {"method": "grid", "parameters": {"lr": {"min": 1.0}}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    env = dict(os.environ)
    result = gradline_cli(
        "sweep", "bad.json", "--project", project_name(), env=env, cwd=tmp_path, timeout=180
    )
    assert result.returncode == 1
    assert "config.parameters.lr" in result.stderr
    (tmp_path / "broken.json").write_text("{not json")
    result = gradline_cli("sweep", "broken.json", env=env, cwd=tmp_path, timeout=180)
    assert result.returncode == 1 and "not valid JSON" in result.stderr


# -- crashed and preempted trials re-run and resume --------------------------------------

RERUN_PROGRAM = """
import os, pathlib, signal, time
import gradline as wandb

run = wandb.init()
attempt = int(os.environ["GRADLINE_SWEEP_ATTEMPT"])
pathlib.Path(f"attempt-{attempt}-starts-at-{run.step}").touch()
for i in range(3):
    wandb.log({"loss": 10.0 * attempt - i})
if attempt == 1:
    # Wait until the server holds the three steps, then die as the test asks.
    api = wandb.Api()
    path = f"{run.entity}/{run.project}/{run.id}"
    deadline = time.monotonic() + 120
    while len(list(api.run(path).scan_history(keys=["loss"]))) < 3:
        assert time.monotonic() < deadline, "steps never reached the server"
        time.sleep(0.1)
    if os.environ.get("HOW") == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    pathlib.Path("ready").touch()
    time.sleep(120)  # until the agent's SIGTERM
    print("NOT PREEMPTED", flush=True)
"""


def crash_detection(sdk_db, var_dir) -> None:
    """One pass of the periodic crash detection (the beat task `runs.detect_crashed_runs`,
    tasks eager) on the SDK server's database, with a 1 s heartbeat timeout."""
    from tests.sdk.harness import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=sdk_db.url,
        GRADLINE_VAR_DIR=str(var_dir),
        RUN_CRASH_TIMEOUT_S="1",
    )
    code = "import django; django.setup(); from apps.runs import tasks; tasks.detect_crashed_runs()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def rerun_sweep(tmp_path, project: str, env: dict) -> str:
    (tmp_path / "train.py").write_text(textwrap.dedent(RERUN_PROGRAM))
    config = {
        "method": "grid",
        "program": "train.py",
        "max_attempts": 2,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"a": {"values": [1]}},
    }
    (tmp_path / "sweep.json").write_text(json.dumps(config))
    created = gradline_cli("sweep", "sweep.json", "--project", project, env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def assert_resumed(api, project: str, sweep_id: str, tmp_path) -> None:
    """One trial, two attempts, one run whose history holds both attempts' steps."""
    [trial] = api.sweep(f"{project}/{sweep_id}").trials
    assert (trial["state"], trial["attempts"]) == ("finished", 2)
    runs = runs_by_id(api, project)
    assert list(runs) == [trial["run"]]
    run = runs[trial["run"]]
    assert (run.state, run._data["exit_code"]) == ("finished", 0)
    steps = [(row["_step"], row["loss"]) for row in run.scan_history(keys=["loss"])]
    assert steps == [(0, 10.0), (1, 9.0), (2, 8.0), (3, 20.0), (4, 19.0), (5, 18.0)]
    assert (tmp_path / "attempt-1-starts-at-0").exists()
    assert (tmp_path / "attempt-2-starts-at-3").exists()  # continued from its last step


def test_a_sigkilled_trial_is_rerun_and_resumes_its_run(sweep_env, api, sdk_db, tmp_path):
    project = project_name()
    env = {**os.environ, "GRADLINE_EXIT_HOOKS": "true", "HOW": "sigkill"}
    sweep_id = rerun_sweep(tmp_path, project, env)
    first = gradline_cli("agent", f"{project}/{sweep_id}", "--count", "1", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "exited with code -9" in first.stderr

    def requeued():
        crash_detection(sdk_db, sdk_db.var_dir)
        [trial] = api.sweep(f"{project}/{sweep_id}").trials
        return trial["state"] == "requeued"

    wait_for(requeued, timeout=180, interval=0.5, what="the killed trial to be re-queued")
    second = gradline_cli("agent", f"{project}/{sweep_id}", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "has no more runs (exhausted)" in second.stderr
    assert_resumed(api, project, sweep_id, tmp_path)


def test_sigterm_to_the_agent_marks_preempting_and_the_trial_is_rerun(sweep_env, api, tmp_path):
    project = project_name()
    env = {**os.environ, "GRADLINE_EXIT_HOOKS": "true", "HOW": "sigterm"}
    sweep_id = rerun_sweep(tmp_path, project, env)
    agent = subprocess.Popen(
        [sys.executable, "-m", "gradline", "agent", f"{project}/{sweep_id}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "ready").exists(), timeout=180, what="the first attempt")
        agent.send_signal(signal.SIGTERM)  # what a preempted machine's agent receives
        out, err = agent.communicate(timeout=120)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    assert "agent preempted (SIGTERM)" in err and "NOT PREEMPTED" not in out
    [trial] = api.sweep(f"{project}/{sweep_id}").trials
    assert (trial["state"], trial["attempts"]) == ("requeued", 1)
    run = api.run(f"sdk-team/{project}/{trial['run']}")
    assert (run.state, run._data["exit_code"]) == ("failed", 143)

    second = gradline_cli("agent", f"{project}/{sweep_id}", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert_resumed(api, project, sweep_id, tmp_path)


def test_mark_preempting_in_train_requeues_and_the_same_agent_resumes_it(sweep_env, api):
    project = project_name()
    config = {"method": "grid", "max_attempts": 3, "parameters": {"a": {"values": [1]}}}
    sweep_id = gradline.sweep(config, project=project)
    seen = []

    def train():
        run = gradline.init()
        seen.append((run.id, run.step, run.resumed))
        gradline.log({"loss": float(len(seen))})
        if len(seen) == 1:
            assert run.mark_preempting() is True
            sys.exit(143)  # what the SDK's SIGTERM handling raises

    gradline.agent(sweep_id, train, count=5)  # the re-run, then the grid is used up
    first_id = seen[0][0]
    assert seen == [(first_id, 0, False), (first_id, 1, True)]
    [trial] = api.sweep(f"{project}/{sweep_id}").trials
    assert (trial["state"], trial["attempts"]) == ("finished", 2)
    run = api.run(f"sdk-team/{project}/{first_id}")
    assert [row["loss"] for row in run.scan_history(keys=["loss"])] == [1.0, 2.0]


def test_prior_runs_seed_a_new_sweep(sweep_env, api):
    project = project_name()
    earlier = []
    for lr in (0.01, 0.05):
        run = gradline.init(project=project, config={"lr": lr, "note": "kept out"})
        gradline.log({"loss": lr * 10})
        run.finish()
        earlier.append(run.id)
    config = {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"min": 0.001, "max": 0.1}},
    }
    sweep_id = gradline.sweep(config, project=project, prior_runs=earlier)
    sweep = api.sweep(f"{project}/{sweep_id}")
    trials = {t["run"]: t for t in sweep.trials}
    assert set(trials) == set(earlier)
    assert {t["params"]["lr"] for t in trials.values()} == {0.01, 0.05}
    assert all(t["prior"] and t["state"] == "finished" for t in trials.values())
    assert sweep.best["run"] == earlier[0]
