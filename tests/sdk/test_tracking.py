"""The SDK against a real server: init / log / config / summary / finish round trips,
W&B step semantics, histograms, define_metric, resume, system metrics, console, git."""

from __future__ import annotations

import math
import os
import subprocess
from datetime import timedelta

import pytest

import gradline
from gradline import Api, UsageError
from tests.sdk.conftest import stored_console, stored_points
from tests.sdk.harness import FaultProxy, gradline_cli, wait_for


def api_for(server, sdk_db) -> Api:
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def test_round_trip_init_log_config_summary_finish(server, sdk_db, sdk_settings):
    run = gradline.init(
        project="round-trip",
        name="first",
        config={"lr": 0.01, "layers": [64, 64], "opt": {"name": "adam"}},
        tags=["baseline"],
        notes="hello",
        group="g1",
        job_type="train",
        settings=sdk_settings(),
    )
    assert gradline.run is run
    assert gradline.config is run.config
    assert run.name == "first"
    assert run.url == f"{server.url}/sdk-team/round-trip/runs/{run.id}"
    for step in range(50):
        gradline.log({"loss": 1.0 / (step + 1), "acc": step / 50, "flag": step % 2 == 0})
    gradline.config.update({"batch_size": 32})
    gradline.config.epochs = 3
    run.summary["best_acc"] = 0.97
    run.summary.update({"note": "done"})
    assert run.summary["loss"] == pytest.approx(1 / 50)
    run.finish()
    assert gradline.run is None

    remote = api_for(server, sdk_db).run(f"sdk-team/round-trip/{run.id}")
    assert remote.state == "finished"
    assert remote.name == "first"
    assert remote.tags == ["baseline"]
    assert remote.notes == "hello"
    assert remote.group == "g1" and remote.job_type == "train"
    assert remote.config == {
        "lr": 0.01,
        "layers": [64, 64],
        "opt": {"name": "adam"},
        "batch_size": 32,
        "epochs": 3,
    }
    assert remote.summary["loss"] == pytest.approx(1 / 50)
    assert remote.summary["acc"] == pytest.approx(49 / 50)
    assert remote.summary["best_acc"] == 0.97
    assert remote.summary["note"] == "done"
    points = stored_points(sdk_db, run.id, "round-trip")
    assert len(points) == 150
    flags = [v for k, _, v in points if k == "flag"]
    assert flags[:4] == [1.0, 0.0, 1.0, 0.0]


def test_commit_false_and_explicit_steps_follow_wandb(server, sdk_db, sdk_settings):
    run = gradline.init(project="steps", settings=sdk_settings())
    run.log({"a": 1.0}, commit=False)
    run.log({"b": 2.0})  # joins step 0, commits it
    assert run.step == 1
    run.log({"c": 3.0}, step=5)  # jumps to 5, pending
    run.log({"d": 4.0}, step=5)  # same step, still pending
    run.log({"e": 5.0}, step=7)  # commits step 5, moves to 7
    run.log({"late": 9.0}, step=3)  # lower than current: ignored
    run.log({"f": 6.0}, step=7, commit=True)  # commits 7
    assert run.step == 8
    run.log({"g": 7.0})  # step 8
    run.log({"nested": {"x": 1.0, "y": {"z": 2.0}}})  # step 9, flattened with "/"
    run.finish()
    rows = list(api_for(server, sdk_db).run(f"sdk-team/steps/{run.id}").scan_history())
    got = {r["_step"]: {k: v for k, v in r.items() if not k.startswith("_")} for r in rows}
    assert got == {
        0: {"a": 1.0, "b": 2.0},
        5: {"c": 3.0, "d": 4.0},
        7: {"e": 5.0, "f": 6.0},
        8: {"g": 7.0},
        9: {"nested/x": 1.0, "nested/y/z": 2.0},
    }


def test_values_numpy_scalars_nan_and_inf(server, sdk_db, sdk_settings):
    np = pytest.importorskip("numpy")
    run = gradline.init(project="values", settings=sdk_settings())
    run.log(
        {
            "f32": np.float32(0.5),
            "i64": np.int64(7),
            "arr0": np.array(2.5),
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": -math.inf,
            "text": "hi",
        }
    )
    run.finish()
    points = {k: v for k, _, v in stored_points(sdk_db, run.id, "values")}
    assert points["f32"] == 0.5 and points["i64"] == 7.0 and points["arr0"] == 2.5
    assert math.isnan(points["nan"]) and points["inf"] == math.inf and points["ninf"] == -math.inf
    remote = api_for(server, sdk_db).run(f"sdk-team/values/{run.id}")
    assert remote.summary["text"] == "hi"  # strings live in the summary
    # Non-finite summary values read back as floats, as in W&B.
    assert math.isnan(remote.summary["nan"]) and remote.summary["inf"] == math.inf
    assert remote.summary["ninf"] == -math.inf


def test_histograms_from_lists_and_arrays(server, sdk_db, sdk_settings):
    np = pytest.importorskip("numpy")
    run = gradline.init(project="hist", settings=sdk_settings())
    run.log({"weights": [1, 2, 2, 3, 3, 3], "loss": 0.5})
    run.log(
        {"weights": np.arange(100.0), "grads": gradline.Histogram(np_histogram=([1, 2], [0, 1, 2]))}
    )
    run.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/hist/{run.id}")
    summary_hist = remote.summary["weights"]
    assert summary_hist["_type"] == "histogram"
    assert sum(summary_hist["values"]) == 100
    rows = remote.histograms("weights")
    assert [r["_step"] for r in rows] == [0, 1]
    assert sum(rows[0]["values"]) == 6 and len(rows[0]["bins"]) == 65
    assert remote.histograms("grads")[0]["values"] == [1, 2]
    # Histograms are not metric points; the scalar next to them is.
    assert {k for k, _, _ in stored_points(sdk_db, run.id, "hist")} == {"loss"}


def test_define_metric_summaries_globs_step_metric(server, sdk_db, sdk_settings):
    run = gradline.init(project="define", settings=sdk_settings())
    run.define_metric("loss", summary="min,max,mean,last")
    run.define_metric("val/*", step_metric="epoch", summary="max", goal="maximize")
    run.define_metric("noisy", summary="none")
    run.define_metric("best_only", summary="best", goal="minimize")
    run.define_metric("secret", hidden=True)
    for i, loss in enumerate([3.0, 1.0, 2.0]):
        run.log({"loss": loss, "noisy": float(i), "best_only": 5.0 - i, "secret": 1.0})
        run.log({"epoch": i})
        run.log({"val/acc": 0.5 + i / 10})  # step_sync adds the epoch to this row
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "last": 2.0}
    run.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/define/{run.id}")
    assert remote.summary["loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "last": 2.0}
    assert remote.summary["val/acc"] == {"max": pytest.approx(0.7)}
    assert remote.summary["best_only"] == {"best": 3.0}
    assert remote.summary["noisy"] is None
    rows = list(remote.scan_history(keys=["val/acc", "epoch"]))
    assert [(r["epoch"], r["val/acc"]) for r in rows] == [
        (0.0, 0.5),
        (1.0, pytest.approx(0.6)),
        (2.0, pytest.approx(0.7)),
    ]
    # Definitions travel with the run (hidden keys, x-axes) but stay out of Api().config.
    assert "_gradline" not in remote.config
    assert remote._data["config"]["_gradline"]["metrics"]["secret"]["hidden"] is True
    chart = remote.history(keys=["val/acc"], x_axis="epoch", pandas=False)
    assert [r["epoch"] for r in chart] == [0.0, 1.0, 2.0]


def test_resume_allow_must_never(server, sdk_db, sdk_settings):
    settings = sdk_settings(console="wrap")
    first = gradline.init(project="resume", id="resume-me", settings=settings)
    for i in range(5):
        first.log({"x": float(i)})
    print("line from the first process")
    first.config.update({"lr": 0.1})
    first.finish()

    with pytest.raises(UsageError, match="already exists"):
        gradline.init(project="resume", id="resume-me", resume="never", settings=settings)
    with pytest.raises(UsageError, match="does not exist"):
        gradline.init(project="resume", id="no-such-run", resume="must", settings=settings)

    second = gradline.init(project="resume", id="resume-me", resume="must", settings=settings)
    assert second.resumed and second.step == 5
    assert second.config["lr"] == 0.1
    print("line from the second process")
    second.log({"x": 5.0})
    second.finish()
    assert [s for _, s, _ in stored_points(sdk_db, "resume-me", "resume")] == list(range(6))
    texts = [t for _, _, t in stored_console(sdk_db, "resume-me")]
    assert texts == ["line from the first process", "line from the second process"]
    assert api_for(server, sdk_db).run("sdk-team/resume/resume-me").state == "finished"


def test_resume_continues_console_lines_without_probing(server, sdk_db, sdk_settings):
    """The resume answer says where console lines continue: no GET …/console probing."""
    settings = sdk_settings(console="wrap")
    first = gradline.init(project="resume-con", id="con-run", settings=settings)
    for i in range(3):
        print(f"first {i}")
    first.finish()
    proxy = FaultProxy(server.url)
    try:
        second = gradline.init(
            project="resume-con",
            id="con-run",
            resume="allow",
            settings={**settings, "base_url": proxy.url},
        )
        print("second 0")
        second.finish()
    finally:
        proxy.close()
    assert second._pipeline.console_seq == 4
    assert not [p for m, p in proxy.paths if m == "GET" and "/console" in p], proxy.paths
    texts = [t for _, _, t in stored_console(sdk_db, "con-run")]
    assert texts == ["first 0", "first 1", "first 2", "second 0"]


def test_system_metrics_arrive(server, sdk_db, sdk_settings):
    run = gradline.init(
        project="system", settings=sdk_settings(system_metrics=True, system_interval=0.2)
    )
    run.log({"x": 1.0})
    wait_for(lambda: run._monitor.index >= 3, 30, what="three system samples")
    run.finish()
    keys = {k for k, _, _ in stored_points(sdk_db, run.id, "system")}
    for key in ("system/cpu", "system/memory", "system/disk", "system/proc.memory.rssMB"):
        assert key in keys
    steps = sorted(s for k, s, _ in stored_points(sdk_db, run.id, "system") if k == "system/cpu")
    assert steps[:3] == [0, 1, 2]


def test_a_run_shorter_than_the_interval_gets_a_first_and_a_last_sample(
    server, sdk_db, sdk_settings
):
    run = gradline.init(
        project="system", settings=sdk_settings(system_metrics=True, system_interval=600)
    )
    run.log({"x": 1.0})
    run.finish()
    steps = sorted(s for k, s, _ in stored_points(sdk_db, run.id, "system") if k == "system/cpu")
    assert steps == [0, 1]


def test_console_capture_collapses_progress_bars(server, sdk_db, sdk_settings, capsys):
    import sys

    run = gradline.init(project="console", settings=sdk_settings(console="wrap"))
    print("epoch 1 starting")
    for pct in range(0, 101, 10):
        sys.stdout.write(f"\rtraining {pct:3d}%")
    sys.stdout.write("\n")
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline at the end")
    run.finish()
    out = capsys.readouterr()
    assert "epoch 1 starting" in out.out  # still printed
    lines = stored_console(sdk_db, run.id)
    assert [(s, t) for _, s, t in lines] == [
        ("stdout", "epoch 1 starting"),
        ("stdout", "training 100%"),
        ("stderr", "to stderr"),
        ("stdout", "no newline at the end"),
    ]
    assert [n for n, _, _ in lines] == [0, 1, 2, 3]


def test_git_commit_remote_and_diff_captured(server, sdk_db, sdk_settings, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("remote", "add", "origin", "https://user:s3cret@example.com/acme/model.git")
    (repo / "train.py").write_text("print('v1')\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "v1")
    (repo / "train.py").write_text("print('v2')\n")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    run = gradline.init(project="git", settings=sdk_settings(git=True, pip_freeze=True))
    run.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/git/{run.id}").load()
    git_state = remote._data["git"]
    assert git_state["commit"] == commit
    assert git_state["remote"] == "https://example.com/acme/model.git"  # no credentials
    assert "+print('v2')" in git_state["diff"]
    files = {f.name: f for f in remote.files()}
    assert "+print('v2')" in files["diff.patch"].read().decode()
    assert b"orjson==" in files["requirements.txt"].read()
    assert "metadata.json" in files


def test_save_policies_upload_files(server, sdk_db, sdk_settings, tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "ckpt").mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "ckpt" / "a.pt").write_bytes(b"A" * 10)
    (work / "notes.txt").write_text("v1")
    run = gradline.init(project="files", settings=sdk_settings(live_files_interval=0.2))
    assert run.save("ckpt/*.pt", policy="now") == ["ckpt/a.pt"]
    run.save(str(work / "notes.txt"), policy="live")
    run.save("final.bin", policy="end")
    (work / "final.bin").write_bytes(b"F")
    api = api_for(server, sdk_db)
    remote = api.run(f"sdk-team/files/{run.id}")
    wait_for(lambda: "notes.txt" in {f.name for f in remote.files()}, 30, what="live upload")
    (work / "notes.txt").write_text("v2 is longer")
    run.finish()
    files = {f.name: f for f in remote.files()}
    assert files["ckpt/a.pt"].read() == b"A" * 10
    assert files["notes.txt"].read() == b"v2 is longer"
    assert files["final.bin"].read() == b"F"


def _alerts(sdk_db, run_id: str) -> list[tuple]:
    return sdk_db.query(
        "SELECT a.title, a.level, a.wait_duration_s, a.notified FROM notifications_alert a"
        " JOIN runs_run r ON r.id = a.run_id WHERE r.uid = %s ORDER BY a.id",
        (run_id,),
    )


def test_alert_is_recorded(server, sdk_db, sdk_settings):
    run = gradline.init(project="alerts", settings=sdk_settings())
    gradline.alert(title="Loss exploded", text="loss is NaN", level="WARN")
    # Same title inside the default wait_duration (a minute): stored, notifies nobody.
    run.alert(title="Loss exploded", text="still NaN", level=gradline.AlertLevel.ERROR)
    run.alert(title="Slow epoch", text="epoch 3 took 20 min", wait_duration=timedelta(hours=1))
    run.finish()
    texts = [t for _, _, t in stored_console(sdk_db, run.id)]
    assert texts == [
        "[gradline alert WARN] Loss exploded: loss is NaN",
        "[gradline alert ERROR] Loss exploded: still NaN",
        "[gradline alert INFO] Slow epoch: epoch 3 took 20 min",
    ]
    assert _alerts(sdk_db, run.id) == [
        ("Loss exploded", "WARN", 60.0, True),
        ("Loss exploded", "ERROR", 60.0, False),
        ("Slow epoch", "INFO", 3600.0, True),
    ]


def test_offline_alert_reaches_the_server_once_by_sync(server, sdk_db, sdk_settings):
    run = gradline.init(
        project="alerts-offline",
        mode="offline",
        settings=sdk_settings(base_url="http://127.0.0.1:9"),
    )
    run.alert(title="Offline alert", text="raised without a server", wait_duration=0)
    run.finish()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(GRADLINE_BASE_URL=server.url, GRADLINE_API_KEY=sdk_db.seed.owner_key)
    for _ in range(2):  # a second sync sends nothing twice
        done = gradline_cli("sync", run.dir, "--no-progress", env=env)
        assert done.returncode == 0, done.stderr
    assert _alerts(sdk_db, run.id) == [("Offline alert", "INFO", 0.0, True)]


def test_context_manager_marks_failure(server, sdk_db, sdk_settings):
    with pytest.raises(RuntimeError), gradline.init(project="ctx", settings=sdk_settings()) as run:
        run.log({"x": 1.0})
        raise RuntimeError("boom")
    remote = api_for(server, sdk_db).run(f"sdk-team/ctx/{run.id}")
    assert remote.state == "failed"
    assert remote._data["exit_code"] == 1
    with gradline.init(project="ctx", settings=sdk_settings()) as ok:
        ok.log({"x": 1.0})
    assert api_for(server, sdk_db).run(f"sdk-team/ctx/{ok.id}").state == "finished"


def test_init_errors_are_clear(server, sdk_db, sdk_settings):
    with pytest.raises(UsageError, match="was not found"):
        gradline.init(project="x", entity="other-team", settings=sdk_settings())
    with pytest.raises(UsageError, match="may not create runs"):
        gradline.init(project="x", settings=sdk_settings(api_key=sdk_db.seed.viewer_key))
    with pytest.raises(UsageError, match="API key was rejected"):
        gradline.init(project="x", settings=sdk_settings(api_key="gl-" + "A" * 40))
    with pytest.raises(UsageError, match="No API key"):
        gradline.init(project="x", settings=sdk_settings(api_key=None))
    with pytest.raises(UsageError, match="cannot reach"):
        gradline.init(
            project="x",
            settings=sdk_settings(base_url="http://127.0.0.1:9", offline_fallback=False),
        )
    with pytest.raises(ValueError, match="run id"):
        gradline.init(project="x", id="Bad Id!", settings=sdk_settings())
    with pytest.raises(UsageError, match=r"before gradline\.log"):
        gradline.log({"x": 1})


def test_resume_offline_says_what_happens_to_its_steps(sdk_settings, capfd):
    run = gradline.init(
        project="x",
        id="resume-me",
        resume="allow",
        mode="offline",
        settings=sdk_settings(silent=False),
    )
    run.finish()
    err = capfd.readouterr().err
    assert "resume='allow' needs the server to continue run resume-me" in err
    assert "reports steps the server already holds for it as conflicts" in err
    gradline.init(
        project="x", id="fresh", mode="offline", settings=sdk_settings(silent=False)
    ).finish()
    assert "needs the server" not in capfd.readouterr().err  # no resume asked: no warning


def test_default_entity_and_environment(server, sdk_db, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_BASE_URL", server.url)  # W&B names work as fallbacks
    monkeypatch.setenv("GRADLINE_API_KEY", sdk_db.seed.owner_key)
    monkeypatch.setenv("GRADLINE_PROJECT", "env-project")
    monkeypatch.setenv("GRADLINE_DIR", str(tmp_path / "envruns"))
    monkeypatch.setenv("GRADLINE_SILENT", "true")
    monkeypatch.setenv("GRADLINE_CONSOLE", "off")
    monkeypatch.setenv("GRADLINE_SYSTEM_METRICS", "false")
    run = gradline.init(settings={"exit_hooks": False})
    assert run.project == "env-project"
    assert run.entity.startswith("owner")  # the personal team is the default
    assert run.dir.startswith(str(tmp_path / "envruns"))
    run.log({"x": 1.0})
    run.finish()
    assert stored_points(sdk_db, run.id, "env-project") == [("x", 0, 1.0)]


def test_disabled_mode_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = gradline.init(mode="disabled", config={"a": 1})
    run.log({"x": 1.0})
    gradline.log({"y": 2.0})
    assert run.config.a == 1
    run.finish()
    assert not (tmp_path / "gradline-runs").exists()


def test_reinit_returns_or_replaces_the_active_run(server, sdk_settings):
    first = gradline.init(project="reinit", settings=sdk_settings())
    assert gradline.init(project="reinit", settings=sdk_settings()) is first
    second = gradline.init(project="reinit", reinit=True, settings=sdk_settings())
    assert second is not first and first._finished
    second.finish()


def test_forked_child_logs_nothing_and_leaves_the_run_alone(server, sdk_db, sdk_settings):
    import os

    run = gradline.init(project="fork", settings=sdk_settings(console="wrap"))
    run.log({"x": 1.0})
    pid = os.fork()
    if pid == 0:  # a DataLoader-style worker
        try:
            run.log({"x": 99.0})
            print("from the child")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    print("from the parent")
    run.log({"x": 3.0})
    run.finish()
    assert stored_points(sdk_db, run.id, "fork") == [("x", 0, 1.0), ("x", 1, 3.0)]
    assert [t for _, _, t in stored_console(sdk_db, run.id)] == ["from the parent"]


def test_points_travel_as_binary_batches_and_fall_back_to_json_on_415(server, sdk_db, sdk_settings):
    """The uploader sends application/x-gradline-batch; a server that answers 415 gets
    the same batches as JSON from then on, and nothing is lost or stored twice."""
    from gradline.batchfmt import CONTENT_TYPE

    values = [1.5, math.nan, math.inf, -math.inf, -0.0, 2**60, True]
    for refuse in (False, True):
        proxy = FaultProxy(server.url)
        if refuse:
            proxy.refuse_types[CONTENT_TYPE] = 415
        try:
            run = gradline.init(project="binary", settings=sdk_settings(base_url=proxy.url))
            for step in range(300):
                run.log({"loss": values[step % len(values)], "acc": step / 300})
            run.log({"sys": 1.0}, step=1000)
            run.finish()
        finally:
            proxy.close()
        assert run._pipeline.failed is None
        sent = proxy.content_types
        if refuse:
            assert sent[CONTENT_TYPE] == 1 and sent["application/json"] >= 1, sent
        else:
            assert sent[CONTENT_TYPE] >= 1 and run._pipeline.engine.binary is True, sent
        stored = {(k, s): v for k, s, v in stored_points(sdk_db, run.id, "binary")}
        assert len(stored) == 601
        for step in range(300):
            want = float(values[step % len(values)])
            got = stored[("loss", step)]
            assert got == want or (math.isnan(got) and math.isnan(want))
            assert math.copysign(1, got) == math.copysign(1, want)
        assert stored[("sys", 1000)] == 1.0
