"""The query client (Api) and the `gradline` command line, against the real server."""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys

import orjson
import pytest

import gradline
from gradline import Api
from gradline.transport import CommError
from tests.sdk.harness import gradline_cli

PROJECT = "api-query"


@pytest.fixture(scope="module")
def query_runs(request):
    """Six finished runs with distinct configs, summaries, tags and states."""
    server = request.getfixturevalue("server")
    sdk_db = request.getfixturevalue("sdk_db")
    tmp = request.getfixturevalue("tmp_path_factory").mktemp("api-runs")
    specs = [
        ("r-a", {"lr": 0.001, "opt": "sgd"}, 0.70, ["baseline"], 0),
        ("r-b", {"lr": 0.01, "opt": "adam"}, 0.80, ["baseline", "small"], 0),
        ("r-c", {"lr": 0.02, "opt": "adam"}, 0.90, ["large"], 0),
        ("r-d", {"lr": 0.05, "opt": "adamw"}, 0.85, [], 1),
        ("r-e", {"lr": 0.1, "opt": "sgd"}, 0.60, ["large"], 0),
        ("r-f", {"lr": 0.2, "opt": "lion"}, 0.95, ["large", "best"], 0),
    ]
    settings = {
        "base_url": server.url,
        "api_key": sdk_db.seed.owner_key,
        "entity": "sdk-team",
        "dir": str(tmp),
        "system_metrics": False,
        "console": "off",
        "git": False,
        "pip_freeze": False,
        "silent": True,
        "exit_hooks": False,
    }
    for run_id, config, acc, tags, code in specs:
        run = gradline.init(
            project=PROJECT,
            id=run_id,
            name=f"name-{run_id}",
            config=config,
            tags=tags,
            settings=settings,
        )
        for step in range(300):
            run.log({"accuracy": acc * step / 299, "loss": 1 - acc * step / 299})
        run.finish(exit_code=code)
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def ids(runs) -> list[str]:
    return [r.id for r in runs]


def test_runs_filters_map_onto_the_server(query_runs):
    api = query_runs
    path = f"sdk-team/{PROJECT}"
    by = lambda f: sorted(ids(api.runs(path, filters=f)))  # noqa: E731
    assert by({"config.lr": {"$gt": 0.04}}) == ["r-d", "r-e", "r-f"]
    assert by({"config.lr": {"$lt": 0.01}}) == ["r-a"]
    assert by({"config.opt": {"$in": ["adam", "lion"]}}) == ["r-b", "r-c", "r-f"]
    assert by({"config.opt": {"$regex": "^adam"}}) == ["r-b", "r-c", "r-d"]
    assert by({"summary_metrics.accuracy": {"$gte": 0.9}}) == ["r-c", "r-f"]
    assert by({"$and": [{"tags": "large"}, {"summary_metrics.accuracy": {"$gt": 0.7}}]}) == [
        "r-c",
        "r-f",
    ]
    assert by({"$or": [{"config.opt": "sgd"}, {"tags": {"$in": ["best"]}}]}) == [
        "r-a",
        "r-e",
        "r-f",
    ]
    assert by({"state": "failed"}) == ["r-d"]
    assert by({"display_name": "name-r-b"}) == ["r-b"]


def test_runs_order_and_lazy_pagination(query_runs):
    api = query_runs
    runs = api.runs(f"sdk-team/{PROJECT}", order="-summary_metrics.accuracy", per_page=2)
    assert len(runs) == 6
    assert ids(runs) == ["r-f", "r-c", "r-d", "r-b", "r-a", "r-e"]
    assert runs[0].id == "r-f"
    ascending = api.runs(f"sdk-team/{PROJECT}", order="+config.lr", per_page=4)
    assert ids(ascending) == ["r-a", "r-b", "r-c", "r-d", "r-e", "r-f"]
    # The product brief's "best run" idiom.
    best = max(api.runs(f"sdk-team/{PROJECT}"), key=lambda r: r.summary.get("accuracy", 0))
    assert best.id == "r-f" and best.summary["accuracy"] == pytest.approx(0.95)


def test_run_objects_history_scan_update_delete(query_runs):
    api = query_runs
    run = api.run(f"sdk-team/{PROJECT}/r-c")
    assert (run.name, run.state, run.tags, run.config) == (
        "name-r-c",
        "finished",
        ["large"],
        {"lr": 0.02, "opt": "adam"},
    )
    assert run.url.endswith(f"/sdk-team/{PROJECT}/runs/r-c") and run.created_at
    assert run.path == ["sdk-team", PROJECT, "r-c"]

    rows = list(run.scan_history(keys=["accuracy"], page_size=64))
    assert [r["_step"] for r in rows] == list(range(300))
    assert rows[-1]["accuracy"] == pytest.approx(0.9)
    assert {"_step", "_timestamp", "_runtime", "accuracy"} == set(rows[0])
    window = list(run.scan_history(keys=["loss"], min_step=10, max_step=19))
    assert [r["_step"] for r in window] == list(range(10, 20))

    all_rows = run.history(pandas=False)  # 300 rows <= 500 samples: every row
    assert len(all_rows) == 300 and {"accuracy", "loss"} <= set(all_rows[0])
    sampled = run.history(samples=30, keys=["accuracy"], pandas=False)
    assert 10 <= len(sampled) <= 40
    assert sampled[-1]["_step"] == 299 and sampled[-1]["accuracy"] == pytest.approx(0.9)
    steps = [r["_step"] for r in sampled]
    assert steps == sorted(steps)

    run.tags = [*run.tags, "reviewed"]
    run.summary["verdict"] = "keep"
    run.config["note"] = "edited"
    run.name = "renamed"
    run.update()
    fresh = api.run(f"sdk-team/{PROJECT}/r-c")
    assert fresh.tags == ["large", "reviewed"] and fresh.name == "renamed"
    assert fresh.summary["verdict"] == "keep" and fresh.config["note"] == "edited"
    assert [f.name for f in fresh.files()] == ["metadata.json"]

    doomed = api.run(f"sdk-team/{PROJECT}/r-e")
    doomed.delete()
    with pytest.raises(CommError) as err:
        api.run(f"sdk-team/{PROJECT}/r-e")
    assert err.value.status == 404


def test_history_without_keys_events_stream_and_non_finite_values(server, sdk_db, tmp_path):
    """W&B's defaults: every logged key (not only those in every row, nor summary-only
    values), the system stream as "events", NaN and ±Inf as floats."""
    run = gradline.init(
        project=PROJECT,
        settings={
            "base_url": server.url,
            "api_key": sdk_db.seed.owner_key,
            "entity": "sdk-team",
            "dir": str(tmp_path),
            "system_metrics": True,
            "system_interval": 600,
            "console": "off",
            "git": False,
            "pip_freeze": False,
            "silent": True,
            "exit_hooks": False,
        },
    )
    for step in range(20):
        row = {"loss": float("nan") if step == 3 else 1.0 / (step + 1)}
        if step % 5 == 4:
            row["val/acc"] = float("inf") if step == 9 else step / 20
        run.log(row)
    run.summary["best_acc"] = 0.9  # set directly, never logged: no history of its own
    run.finish()
    remote = Api(api_key=sdk_db.seed.owner_key, base_url=server.url).run(
        f"sdk-team/{PROJECT}/{run.id}"
    )

    rows = remote.history(pandas=False)
    assert [r["_step"] for r in rows] == list(range(20))
    assert all("best_acc" not in r for r in rows)
    assert [r["_step"] for r in rows if "val/acc" in r] == [4, 9, 14, 19]
    assert math.isnan(rows[3]["loss"]) and rows[9]["val/acc"] == math.inf
    assert rows[19]["loss"] == pytest.approx(1 / 20)

    sampled = remote.history(samples=5, pandas=False)  # 20 rows > 5 samples: from rollups
    assert 2 <= len(sampled) <= 10 and sampled[-1]["_step"] == 19
    assert sampled[-1]["loss"] == pytest.approx(1 / 20)

    scanned = list(remote.scan_history(keys=["loss"]))
    assert math.isnan(scanned[3]["loss"])

    events = remote.history(stream="events", pandas=False)
    assert len(events) == 2  # the first and the last sample of a short run
    assert {"system/cpu", "system/memory"} <= set(events[0]) and "loss" not in events[0]
    with pytest.raises(gradline.UsageError, match="stream"):
        remote.history(stream="bogus")


def test_projects_and_cross_team_isolation(query_runs, sdk_db, server):
    names = {p.name for p in query_runs.projects("sdk-team")}
    assert PROJECT in names
    outsider = Api(api_key=sdk_db.seed.outsider_key, base_url=server.url)
    with pytest.raises(CommError) as err:
        list(outsider.runs(f"sdk-team/{PROJECT}"))
    assert err.value.status == 404  # another team's project is not there at all
    with pytest.raises(CommError) as err:
        outsider.run(f"sdk-team/{PROJECT}/r-a")
    assert err.value.status == 404


def _cli(args: list[str], env_extra: dict, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(env_extra)
    return gradline_cli(*args, env=env, stdin=stdin)


def test_cli_login_stores_key_0600_and_runs_ls_status(query_runs, server, sdk_db, tmp_path):
    config_dir = tmp_path / "cfg"
    env = {"GRADLINE_CONFIG_DIR": str(config_dir), "GRADLINE_DIR": str(tmp_path / "runs")}
    bad = _cli(["login", "gl-" + "x" * 40, "--host", server.url], env)
    assert bad.returncode == 1 and "login failed" in bad.stderr
    assert not (config_dir / "settings.json").exists()

    ok = _cli(["login", "--host", server.url], env, stdin=sdk_db.seed.owner_key + "\n")
    assert ok.returncode == 0, ok.stderr
    stored = config_dir / "settings.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    data = orjson.loads(stored.read_bytes())
    assert data["api_key"] == sdk_db.seed.owner_key and data["base_url"] == server.url

    listing = _cli(
        [
            "runs",
            "ls",
            f"sdk-team/{PROJECT}",
            "--order=-summary_metrics.accuracy",
            "--summary",
            "accuracy",
        ],
        env,
    )
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "STATE"]
    assert lines[1].split()[0] == "r-f" and "0.95" in lines[1]
    as_json = _cli(
        ["runs", "ls", f"sdk-team/{PROJECT}", "--json", "--filters", '{"config.opt": "adam"}'], env
    )
    assert sorted(r["id"] for r in orjson.loads(as_json.stdout)) == ["r-b", "r-c"]

    status = _cli(["status"], env)
    assert status.returncode == 0
    assert "owner@sdk.example" in status.stdout and server.url in status.stdout

    # A run started with only the login file: no environment variables at all.
    script = (
        "import gradline; r = gradline.init(project='cli-login'); r.log({'x': 1.0}); print(r.id)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))},
            **env,
        },
    )
    assert run.returncode == 0, run.stderr
    run_id = run.stdout.strip().splitlines()[-1]
    remote = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    assert remote.run(f"cli-login/{run_id}").state == "finished"
