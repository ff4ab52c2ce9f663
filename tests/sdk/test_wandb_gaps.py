"""W&B calls that used to raise AttributeError or do nothing silently: AlertLevel,
run.status(), run.log_code(), save_code, reinit="create_new", W&B-only init arguments."""

from __future__ import annotations

import textwrap

import pytest

import gradline
from gradline import Api
from tests.sdk.conftest import stored_console, stored_points
from tests.sdk.harness import wait_for
from tests.sdk.test_scripts import remote_run, run_script, script_env  # noqa: F401


def test_alert_level_enum_and_strings(server, sdk_db, sdk_settings):
    run = gradline.init(project="gaps", settings=sdk_settings())
    gradline.alert(title="Diverged", text="loss is NaN", level=gradline.AlertLevel.ERROR)
    run.alert(title="Slow", text="epoch took long", level="warn")
    with pytest.raises(ValueError, match="INFO, WARN or ERROR"):
        run.alert(title="x", text="y", level="LOUD")
    run.finish()
    assert [t for _, _, t in stored_console(sdk_db, run.id)] == [
        "[gradline alert ERROR] Diverged: loss is NaN",
        "[gradline alert WARN] Slow: epoch took long",
    ]


def test_status_reports_what_the_server_has(server, sdk_settings):
    run = gradline.init(project="gaps", settings=sdk_settings())
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
    wait_for(
        lambda: run.status().sync_items_pending == 0 and run.status().sync_time is not None,
        60,
        what="the server to acknowledge every record",
    )
    status = run.status()
    assert status.sync_items_total > 0 and status.connected is True
    run.finish()


def test_log_code_logs_source_files_as_a_code_artifact(server, sdk_db, sdk_settings, tmp_path):
    src = tmp_path / "project"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("print('train')\n")
    (src / "pkg" / "model.py").write_text("class Model: ...\n")
    (src / "notes.txt").write_text("not code\n")
    (src / ".venv" / "lib").mkdir(parents=True)
    (src / ".venv" / "lib" / "site.py").write_text("# an environment, never source\n")
    run = gradline.init(project="gaps", settings=sdk_settings())
    artifact = run.log_code(str(src))
    artifact.wait()
    yaml_too = run.log_code(
        str(src), name="with-notes", include_fn=lambda path, root: path.endswith((".py", ".txt"))
    )
    yaml_too.wait()
    assert run.log_code(str(src / "pkg"), exclude_fn=lambda path, root: True) is None
    run.finish()
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    stored = api.artifact(f"sdk-team/gaps/source-gaps-{run.id}:latest")
    assert stored.type == "code"
    assert sorted(f.name for f in stored.files()) == ["pkg/model.py", "train.py"]
    notes = api.artifact("sdk-team/gaps/with-notes:latest")
    assert sorted(f.name for f in notes.files()) == ["notes.txt", "pkg/model.py", "train.py"]


def test_save_code_stores_the_main_script(server, sdk_db, script_env, tmp_path):  # noqa: F811
    done = run_script(
        """
        import gradline as wandb
        run = wandb.init(project="gaps", save_code=True)
        wandb.log({"x": 1.0})
        print("RUN", run.id)
        run.finish()
        """,
        script_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split("RUN ")[1].split()[0]
    remote = remote_run(server, sdk_db, f"sdk-team/gaps/{run_id}")
    path = remote.file("code/train.py").download(root=str(tmp_path / "dl"))
    with open(path, encoding="utf-8") as fh:
        assert "save_code=True" in fh.read()


def test_reinit_create_new_keeps_several_runs_alive(server, sdk_db, sdk_settings):
    first = gradline.init(project="gaps", settings=sdk_settings())
    second = gradline.init(project="gaps", reinit="create_new", settings=sdk_settings())
    assert second is not first and not first._finished and gradline.run is second
    first.log({"a": 1.0})
    second.log({"b": 2.0})
    second.finish()
    first.log({"a": 3.0})
    first.finish()
    assert [(k, s, v) for k, s, v in stored_points(sdk_db, first.id)] == [
        ("a", 0, 1.0),
        ("a", 1, 3.0),
    ]
    assert [(k, s, v) for k, s, v in stored_points(sdk_db, second.id)] == [("b", 0, 2.0)]


def test_wandb_only_init_arguments_warn_once_and_config_keys_filter(server, sdk_settings):
    with pytest.warns(UserWarning, match="monitor_gym"):
        run = gradline.init(
            project="gaps",
            monitor_gym=True,
            config={"lr": 0.1, "secret": "x", "layers": 3},
            config_exclude_keys=["secret"],
            settings=sdk_settings(),
        )
    assert dict(run.config) == {"lr": 0.1, "layers": 3}
    run.finish()
    only = gradline.init(
        project="gaps",
        config={"lr": 0.1, "layers": 3},
        config_include_keys=["lr"],
        settings=sdk_settings(),
    )
    assert dict(only.config) == {"lr": 0.1}
    only.finish()


def test_script_sees_alert_level_and_settings_with_wandb_names(script_env, tmp_path):  # noqa: F811
    done = run_script(
        textwrap.dedent(
            """
            import warnings
            import gradline as wandb
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                settings = wandb.Settings(start_method="thread", x_disable_stats=True)
            assert settings.system_metrics is False
            assert any("start_method" in str(w.message) for w in caught)
            run = wandb.init(project="gaps", settings=settings)
            wandb.alert("t", "x", level=wandb.AlertLevel.INFO)
            run.finish()
            print("OK")
            """
        ),
        script_env,
        tmp_path,
    )
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr
