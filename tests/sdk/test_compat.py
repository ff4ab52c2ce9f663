"""W&B compatibility bugs public examples hit (issue 18), each through the public SDK
against a live server: login() with the key already configured, whole numbers read back
as ints, join, Run.sweep_id, registered-model names with spaces, a bare link target,
artifact tags/ttl said instead of lost, figures and DataFrames logged, not dropped."""

from __future__ import annotations

import datetime
import os
import sys
import warnings

import pytest

import gradline
from gradline import Api, UsageError


def api_for(server, sdk_db) -> Api:
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def test_login_uses_the_key_from_the_environment(server, sdk_db, monkeypatch, capfd):
    monkeypatch.setenv("GRADLINE_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", sdk_db.seed.owner_key)
    assert gradline.login() is True
    assert "logged in" in capfd.readouterr().err


def test_login_uses_a_saved_gradline_login(server, sdk_db, monkeypatch):
    assert gradline.login(key=sdk_db.seed.owner_key, host=server.url) is True  # stores it
    assert gradline.login() is True  # nothing in the environment: the saved file


def test_login_reads_netrc_for_the_host_as_wandb_writes_it(
    server, sdk_db, sdk_settings, monkeypatch, tmp_path
):
    netrc = tmp_path / "netrc"
    host = server.url.split("//", 1)[1]
    netrc.write_text(f"machine {host}\n  login user\n  password {sdk_db.seed.owner_key}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("GRADLINE_BASE_URL", server.url)
    assert gradline.login() is True
    settings = sdk_settings()
    del settings["api_key"]
    run = gradline.init(project="compat", settings=settings)  # the netrc key, too
    run.log({"x": 1})
    run.finish()
    assert api_for(server, sdk_db).run(f"sdk-team/compat/{run.id}").summary["x"] == 1


def test_login_with_an_unreachable_server_does_not_raise(monkeypatch, capfd):
    monkeypatch.setenv("GRADLINE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GRADLINE_API_KEY", "gl_some_key")
    assert gradline.login() is True
    assert "not reachable" in capfd.readouterr().err


def test_login_with_a_refused_key_says_so_and_returns_false(server, monkeypatch, capfd):
    monkeypatch.setenv("GRADLINE_BASE_URL", server.url)
    monkeypatch.setenv("GRADLINE_API_KEY", "gl_not_a_real_key")
    assert gradline.login() is False
    assert "refused" in capfd.readouterr().err


def test_login_without_any_key_says_where_one_goes(monkeypatch, tmp_path):
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - not a terminal
    with pytest.raises(UsageError, match="GRADLINE_API_KEY"):
        gradline.login()


def test_whole_numbers_come_back_as_ints(server, sdk_db, sdk_settings):
    run = gradline.init(project="compat", settings=sdk_settings())
    for step in range(3):
        run.log({"epoch": step, "score": 81, "loss": 0.5, "mixed": 1 if step < 2 else 1.5})
    gradline.join()  # W&B's old name for finish
    assert gradline.run is None
    remote = api_for(server, sdk_db).run(f"sdk-team/compat/{run.id}")
    rows = remote.history(pandas=False)
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert all(type(r["epoch"]) is int and type(r["score"]) is int for r in rows)
    assert all(type(r["loss"]) is float for r in rows)
    assert all(type(r["mixed"]) is float for r in rows)  # one non-integral value: floats
    assert remote.summary["score"] == 81 and type(remote.summary["score"]) is int
    assert type(remote.summary["loss"]) is float
    scanned = list(remote.scan_history(keys=["score"]))
    assert [type(r["score"]) for r in scanned] == [int, int, int]


def test_sweep_id_of_a_sweep_run(server, sdk_db, monkeypatch, tmp_path):
    for key, value in {
        "GRADLINE_BASE_URL": server.url,
        "GRADLINE_API_KEY": sdk_db.seed.owner_key,
        "GRADLINE_ENTITY": "sdk-team",
        "GRADLINE_DIR": str(tmp_path / "runs"),
        "GRADLINE_SYSTEM_METRICS": "false",
        "GRADLINE_CONSOLE": "off",
        "GRADLINE_GIT": "false",
        "GRADLINE_PIP_FREEZE": "false",
        "GRADLINE_EXIT_HOOKS": "false",
        "GRADLINE_SILENT": "true",
    }.items():
        monkeypatch.setenv(key, value)
    config = {"method": "grid", "parameters": {"a": {"values": [1]}}}
    sweep_id = gradline.sweep(config, project="compat-sweep")
    seen = []

    def train():
        run = gradline.init()
        seen.append(run.sweep_id)
        run.finish()

    gradline.agent(sweep_id, train, count=1)
    assert seen == [sweep_id]
    assert gradline.init(mode="disabled").sweep_id is None


def test_registered_model_name_with_spaces_and_bare_link_target(
    server, sdk_db, sdk_settings, tmp_path
):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    run = gradline.init(project="compat", settings=sdk_settings())
    run.link_model(str(weights), "My Registered Model", name="quickstart-model")
    artifact = gradline.Artifact("trained", type="model")
    artifact.add_file(str(weights))
    run.log_artifact(artifact)
    run.link_artifact(artifact, "best-model")  # bare: the run's own project, as W&B
    used = run.use_artifact("best-model:latest")
    assert used.type == "model"
    folder = used.download(root=str(tmp_path / "d"))
    with open(os.path.join(folder, "model.bin"), "rb") as fh:
        assert fh.read() == b"weights"
    run.finish()
    model = api_for(server, sdk_db).artifact("sdk-team/model-registry/My Registered Model:latest")
    assert [e.path for e in model.manifest] == ["model.bin"]


def test_artifact_tags_are_stored_and_filter_api_artifacts(server, sdk_db, sdk_settings):
    artifact = gradline.Artifact("tagged", type="dataset")
    artifact.tags = ["gold"]
    artifact.ttl = datetime.timedelta(hours=1)  # stored (tests/sdk/test_artifact_ttl.py)
    assert artifact.tags == ["gold"] and artifact.ttl == datetime.timedelta(hours=1)
    run = gradline.init(project="compat", settings=sdk_settings())
    artifact.add_file(__file__, name="data.py")
    run.log_artifact(artifact, tags=["silver"])
    artifact.wait()
    second = gradline.Artifact("tagged", type="dataset")
    with second.new_file("other.txt") as fh:
        fh.write("v1")
    run.log_artifact(second, tags=["silver", "with space"])
    second.wait()
    run.finish()

    api = api_for(server, sdk_db)
    assert api.artifact("sdk-team/compat/tagged:v0").tags == ["gold", "silver"]
    by = lambda tags: [  # noqa: E731
        v.version for v in api.artifacts("dataset", "sdk-team/compat/tagged", tags=tags)
    ]
    assert by(None) == ["v1", "v0"]
    assert by(["silver"]) == ["v1", "v0"]
    assert by("gold") == ["v0"]
    assert by(["silver", "with space"]) == ["v1"]
    assert by(["x"]) == []
    # Tags change with save(), as W&B's do.
    v1 = api.artifact("sdk-team/compat/tagged:v1")
    v1.tags = ["bronze"]
    v1.save()
    assert api.artifact("sdk-team/compat/tagged:v1").tags == ["bronze"]
    bad = api.artifact("sdk-team/compat/tagged:v1")
    bad.tags = ["no/slash"]
    with pytest.raises(gradline.CommError, match="tag"):
        bad.save()


def test_figures_and_dataframes_passed_to_log_are_stored(server, sdk_db, sdk_settings):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    run = gradline.init(project="compat", settings=sdk_settings())
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [3, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing dropped with a warning
        run.log({"figure": figure, "frame": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})})
        run.log({"pyplot": plt})
    run.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/compat/{run.id}")
    kinds = {m.key: m.type for m in remote.logged_media()}
    assert kinds["frame"] == "table"
    assert kinds["figure"] in ("image", "plotly") and kinds["pyplot"] in ("image", "plotly")
    assert remote.table("frame").data == [[1, "x"], [2, "y"]]


def test_use_artifact_of_a_registered_model_with_spaces_records_lineage(
    server, sdk_db, sdk_settings, tmp_path
):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"spaced weights")
    producer = gradline.init(project="compat", settings=sdk_settings())
    producer.link_model(str(weights), "Spaced Model Name", name="spaced-model")
    producer.finish()
    consumer = gradline.init(project="compat", settings=sdk_settings())
    used = consumer.use_artifact("model-registry/Spaced Model Name:latest")
    assert used.name == "Spaced Model Name:v0"
    consumer.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/compat/{consumer.id}")
    assert [a.source_name for a in remote.used_artifacts()] == ["spaced-model:v0"]


@pytest.mark.parametrize("argument", ["fork_from", "resume_from"])
def test_fork_from_and_resume_from_warn_naming_the_argument(sdk_settings, monkeypatch, argument):
    monkeypatch.setattr(gradline, "_warned_not_built", set())
    with pytest.warns(UserWarning, match=rf"init\({argument}=\.\.\.\) is not supported yet"):
        run = gradline.init(
            project="compat", settings=sdk_settings(), **{argument: "abc123?_step=10"}
        )
    run.finish()


def test_old_wandb_plots_roc_and_precision_recall_log_charts(
    server, sdk_db, sdk_settings, monkeypatch
):
    """wandb/examples' binary_classification.py: `wandb.plots.ROC(y, probas, labels)` with
    all three iris names for a binary model (the old helpers ignored extra labels)."""
    run = gradline.init(project="compat", settings=sdk_settings())
    y_true = [0, 1, 1, 0, 1, 0, 1, 1]
    probas = [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6], [0.9, 0.1],
              [0.2, 0.8], [0.55, 0.45]]  # fmt: skip
    labels = ["setosa", "versicolor", "virginica"]
    monkeypatch.setattr(gradline.plots, "_warned", set())
    with pytest.warns(DeprecationWarning, match=r"wandb.plots.ROC .*wandb.plot.roc_curve"):
        roc = gradline.plots.ROC(y_true, probas, labels)
    with pytest.warns(DeprecationWarning, match="wandb.plot.pr_curve"):
        pr = gradline.plots.precision_recall(y_true, probas, labels)
    run.log({"roc": roc, "pr": pr})
    run.finish()
    remote = api_for(server, sdk_db).run(f"sdk-team/compat/{run.id}")
    charts = {m.key: m for m in remote.logged_media(type="chart")}
    assert set(charts) == {"roc", "pr"}
    assert {row[0] for row in charts["roc"].table().data} == {"setosa", "versicolor"}
