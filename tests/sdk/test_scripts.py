"""Whole training scripts in subprocesses: exit handling (atexit, sys.exit, uncaught
exceptions, Ctrl-C, SIGTERM), offline runs, and the product brief's samples run unchanged
with `import gradline as wandb`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradline import Api
from tests.sdk.conftest import stored_points
from tests.sdk.harness import gradline_cli


@pytest.fixture
def script_env(server, sdk_db, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        GRADLINE_BASE_URL=server.url,
        GRADLINE_API_KEY=sdk_db.seed.owner_key,
        GRADLINE_ENTITY="sdk-team",
        GRADLINE_DIR=str(tmp_path / "runs"),
        GRADLINE_CONFIG_DIR=str(tmp_path / "config"),
        GRADLINE_SYSTEM_METRICS="false",
        GRADLINE_GIT="false",
        GRADLINE_PIP_FREEZE="false",
    )
    return env


def run_script(
    code: str, env: dict, cwd: Path, timeout: float = 120, **kwargs
) -> subprocess.CompletedProcess:
    path = cwd / "train.py"
    path.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def gradline_sync(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`gradline sync ARGS` as a user would type it."""
    return gradline_cli("sync", *args, env=env, cwd=cwd)


def remote_run(server, sdk_db, path: str):
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url).run(path)


@pytest.mark.parametrize(
    ("ending", "returncode", "state", "exit_code"),
    [
        ("pass", 0, "finished", 0),
        ("sys.exit(3)", 3, "failed", 3),
        ("raise ValueError('diverged')", 1, "failed", 1),
        ("raise KeyboardInterrupt", -signal.SIGINT, "failed", 130),  # Python re-raises SIGINT
    ],
)
def test_exit_hooks_finish_with_the_right_state(
    script_env, tmp_path, server, sdk_db, ending, returncode, state, exit_code
):
    result = run_script(
        f"""
        import sys
        import gradline as wandb
        run = wandb.init(project="exits")
        print("RUN", run.id, flush=True)
        for i in range(100):
            wandb.log({{"loss": 1.0 / (i + 1)}})
        {ending}
    """,
        script_env,
        tmp_path,
    )
    assert result.returncode == returncode, result.stderr
    run_id = result.stdout.split("RUN ")[1].split()[0]
    remote = remote_run(server, sdk_db, f"sdk-team/exits/{run_id}")
    assert (remote.state, remote._data["exit_code"]) == (state, exit_code)
    assert len(stored_points(sdk_db, run_id, "exits")) == 100


def test_sigterm_finishes_the_run_as_failed(script_env, tmp_path, server, sdk_db):
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import time
        import gradline as wandb
        run = wandb.init(project="exits")
        wandb.log({"x": 1.0})
        print("RUN", run.id, flush=True)
        while True:
            time.sleep(0.05)
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "train.py")],
        cwd=tmp_path,
        env=script_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    run_id = line.split("RUN ")[1].strip()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    remote = remote_run(server, sdk_db, f"sdk-team/exits/{run_id}")
    assert (remote.state, remote._data["exit_code"]) == ("failed", 143)


def test_sigkilled_script_keeps_its_wal_for_sync(script_env, tmp_path, server, sdk_db):
    """A script killed outright (no atexit) loses nothing logged before the kill."""
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import os, signal
        import gradline as wandb
        # console "wrap": with fd-level capture the line printed just before the kill may
        # still sit in the capture pipe when the process dies (see sdk/README.md)
        run = wandb.init(project="killed", settings={"flush_interval": 0.01, "console": "wrap"})
        for i in range(5000):
            wandb.log({"x": float(i)})
        run._pipeline.wait_processed(30)   # everything is in the WAL (page cache) ...
        print("RUN", run.id, run.dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)   # ... and the process dies on the spot
    """)
    )
    result = subprocess.run(
        [sys.executable, str(tmp_path / "train.py")],
        cwd=tmp_path,
        env=script_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL
    _, run_id, run_dir = result.stdout.split()
    sync = gradline_sync(script_env, tmp_path, run_dir, "--no-progress")
    assert sync.returncode == 0, sync.stderr
    assert [s for _, s, _ in stored_points(sdk_db, run_id, "killed")] == list(range(5000))
    assert remote_run(server, sdk_db, f"sdk-team/killed/{run_id}").state == "failed"


def test_offline_mode_then_sync(script_env, tmp_path, server, sdk_db):
    env = {**script_env, "GRADLINE_MODE": "offline", "GRADLINE_BASE_URL": "http://127.0.0.1:9"}
    result = run_script(
        """
        import gradline as wandb
        with wandb.init(project="offline-sync", config={"lr": 0.1}) as run:
            for i in range(200):
                wandb.log({"loss": float(i)})
            print("RUN", run.id, flush=True)
    """,
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "gradline sync" in result.stderr
    run_id = result.stdout.split("RUN ")[1].split()[0]
    assert stored_points(sdk_db, run_id, "offline-sync") == []
    sync = gradline_sync(script_env, tmp_path)
    assert sync.returncode == 0, sync.stderr
    assert len(stored_points(sdk_db, run_id, "offline-sync")) == 200
    remote = remote_run(server, sdk_db, f"sdk-team/offline-sync/{run_id}")
    assert remote.state == "finished" and remote.config == {"lr": 0.1}
    nothing = gradline_sync(script_env, tmp_path)
    assert "nothing to sync" in nothing.stderr


# The product brief's samples, verbatim except `import wandb` -> `import gradline as wandb`
# (and the two whitespace-only lines of the sweeps sample left empty, for the linter).
EXPERIMENT_TRACKING = """
import wandb

# Initialize experiment
wandb.init(
    project="my-project",
    name="experiment-1",
    config={
        "learning_rate": 0.01,
        "epochs": 100,
        "batch_size": 32
    }
)

# Log metrics
wandb.log({"accuracy": 0.95, "loss": 0.05})

# Log model
wandb.log_model("model", "path/to/model.pkl")
"""
MODEL_REGISTRY = """
import wandb

# Log model to registry
wandb.log_model(
    "model",
    "path/to/model.pkl",
    aliases=["latest", "production"]
)

# Use model from registry
model = wandb.use_model("model:latest")
"""
EXPERIMENT_MANAGEMENT = """
# Compare experiments
api = wandb.Api()
runs = api.runs("my-project/my-project")

# Find best run
best_run = max(runs, key=lambda x: x.summary.get("accuracy", 0))
print(f"Best accuracy: {best_run.summary['accuracy']}")
"""
RESEARCH = """
# Academic research tracking
wandb.init(
    project="research-paper",
    tags=["research", "academic", "paper-2023"]
)

# Log research metadata
wandb.config.update({
    "dataset": "ImageNet",
    "method": "novel-architecture",
    "top1_accuracy": 0.95
})
"""
HYPERPARAMETER_SWEEPS = """
import wandb

# Define sweep configuration
sweep_config = {
    "method": "random",
    "metric": {"name": "accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"min": 0.001, "max": 0.1},
        "batch_size": {"values": [16, 32, 64]},
        "epochs": {"values": [50, 100, 200]}
    }
}

# Create sweep
sweep_id = wandb.sweep(sweep_config, project="my-project")

# Run sweep
def train():
    wandb.init()
    config = wandb.config

    # Training code with config parameters
    model = train_model(
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        epochs=config.epochs
    )

    wandb.log({"accuracy": model.accuracy})

wandb.agent(sweep_id, train, count=50)
"""
HYPERPARAMETER_OPTIMIZATION = """
# Automated hyperparameter tuning
sweep_config = {
    "method": "bayes",
    "metric": {"name": "accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"min": 0.001, "max": 0.1},
        "batch_size": {"values": [16, 32, 64]}
    }
}

sweep_id = wandb.sweep(sweep_config, project="hp-optimization")
wandb.agent(sweep_id, train_function, count=100)
"""
# What the sweep samples leave to the reader: a model whose accuracy peaks at
# learning_rate 0.03 and batch size 32.
TRAIN_MODEL = """
import math, types

def train_model(learning_rate, batch_size, epochs):
    accuracy = 0.95 - 0.1 * math.log10(learning_rate / 0.03) ** 2 - abs(batch_size - 32) / 1000
    return types.SimpleNamespace(accuracy=accuracy + epochs / 100000)
"""
TRAIN_FUNCTION = """
import gradline as wandb

def train_function():
    wandb.init()
    model = train_model(wandb.config.learning_rate, wandb.config.batch_size, epochs=0)
    wandb.log({"accuracy": model.accuracy})
"""


def as_gradline(sample: str) -> str:
    return sample.replace("import wandb", "import gradline as wandb")


def model_file(cwd: Path, content: bytes) -> bytes:
    """The samples' path/to/model.pkl, relative to the script's working directory."""
    path = cwd / "path" / "to" / "model.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return content


def test_product_brief_samples_run_unchanged(script_env, tmp_path, server, sdk_db):
    # The samples name the team "my-project" (api.runs("my-project/my-project")).
    env = {**script_env, "GRADLINE_ENTITY": "my-project"}
    weights = model_file(tmp_path, os.urandom(2048))
    tracking = run_script(as_gradline(EXPERIMENT_TRACKING), env, tmp_path)
    assert tracking.returncode == 0, tracking.stderr
    management = run_script("import gradline as wandb\n" + EXPERIMENT_MANAGEMENT, env, tmp_path)
    assert management.returncode == 0, management.stderr
    assert management.stdout.strip() == "Best accuracy: 0.95"
    research = run_script("import gradline as wandb\n" + RESEARCH, env, tmp_path)
    assert research.returncode == 0, research.stderr
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    [paper] = list(api.runs("my-project/research-paper"))
    assert paper.tags == ["research", "academic", "paper-2023"]
    assert paper.config == {
        "dataset": "ImageNet",
        "method": "novel-architecture",
        "top1_accuracy": 0.95,
    }
    assert paper.state == "finished"
    [tracked] = list(api.runs("my-project/my-project"))
    assert tracked.name == "experiment-1"
    assert tracked.config == {"learning_rate": 0.01, "epochs": 100, "batch_size": 32}
    [model] = tracked.logged_artifacts()
    assert (model.name, model.type) == ("model:v0", "model")
    assert Path(model.file(tmp_path / "check")).read_bytes() == weights


def test_product_brief_model_registry_sample_runs_unchanged(script_env, tmp_path, server, sdk_db):
    """No init(): log_model starts a run of its own; use_model gets the logged bytes."""
    env = {**script_env, "GRADLINE_ENTITY": "my-project", "GRADLINE_PROJECT": "registry-sample"}
    weights = model_file(tmp_path, os.urandom(4096))
    check = '\nprint("MODEL", model, open(model, "rb").read().hex())\n'
    result = run_script(as_gradline(MODEL_REGISTRY) + check, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "log_model() started run" in result.stderr
    _, path, content = result.stdout.split()
    assert bytes.fromhex(content) == weights
    assert Path(path) == tmp_path / "artifacts" / "model:v0" / "model.pkl"
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    [run] = list(api.runs("my-project/registry-sample"))
    assert (run.job_type, run.state) == ("log-model", "finished")
    version = api.artifact("my-project/registry-sample/model:production")
    assert version.version == "v0" and [r.id for r in version.used_by()] == [run.id]


@pytest.mark.parametrize(
    ("sample", "path", "count"),
    [
        (TRAIN_MODEL + as_gradline(HYPERPARAMETER_SWEEPS), "sdk-team/my-project", 50),
        (
            TRAIN_MODEL + TRAIN_FUNCTION + HYPERPARAMETER_OPTIMIZATION,
            "sdk-team/hp-optimization",
            100,
        ),
    ],
    ids=["hyperparameter-sweeps", "hyperparameter-optimization"],
)
def test_product_brief_sweep_samples_run_unchanged(
    script_env, tmp_path, server, sdk_db, sample, path, count
):
    """Only the train_model / train_function the samples leave undefined are added."""
    result = run_script(sample, script_env, tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    runs = list(api.runs(path, per_page=200))
    assert len(runs) == count
    assert all(run.state == "finished" and run.job_type == "sweep" for run in runs)
    sweep_id = result.stderr.split("created sweep ")[1].split()[0]
    sweep = api.sweep(f"{path}/{sweep_id}")
    params = {t["run"]: t["params"] for t in sweep.trials}
    assert {run.id: run.config for run in runs} == params
    for p in params.values():
        assert 0.001 <= p["learning_rate"] <= 0.1 and p["batch_size"] in (16, 32, 64)
    assert max(run.summary["accuracy"] for run in runs) == sweep.best["metric"]


def test_log_from_the_caller_thread_does_no_io(script_env, tmp_path):
    """log() must not touch files or sockets: audit hooks see every open/socket call."""
    result = run_script(
        """
        import sys, threading
        import gradline as wandb
        run = wandb.init(project="no-io", mode="offline")
        events = []
        main = threading.get_ident()
        def hook(event, args):
            if threading.get_ident() == main and event.split(".")[0] in ("open", "socket", "os"):
                events.append(event)
        sys.addaudithook(hook)
        for i in range(2000):
            run.log({"a": float(i), "b": {"c": i}, "h": [1, 2, 3]})
        during = sorted(set(events))
        open(__file__).close()  # the hook does see this thread's I/O
        sys.stdout.write(f"EVENTS {during} {sorted(set(events))}\\n")
        sys.stdout.flush()
    """,
        {**script_env, "GRADLINE_CONSOLE": "off"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "EVENTS [] ['open']" in result.stdout
