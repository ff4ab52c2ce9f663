"""The SDK's parts on their own (no server needed): WAL framing and recovery, value
encoding, config and summary semantics, define_metric matching, console collapsing,
settings resolution, batch merging/splitting, and W&B step semantics as written to the
WAL of an offline run."""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

import gradline
from gradline.console import collapse_cr
from gradline.metrics import Metric, MetricState
from gradline.run_config import Config, ConfigError
from gradline.settings import Settings, load, write_login_file
from gradline.transport import Backoff
from gradline.uploader import build_ingest, split_ingest
from gradline.values import Encoded, encode_row, merge_into
from gradline.wal import FILE_HEADER, WalWriter, encode_frame, parse, read_all
from tests.sdk.conftest import stored_points, wal_points
from tests.sdk.harness import REPO


# --------------------------------------------------------------------------- WAL
def _wal(tmp_path, payloads):
    path = str(tmp_path / "run.wal")
    writer = WalWriter(path, fsync="always")
    ends = [writer.append(orjson.dumps(p)) for p in payloads]
    writer.close()
    return path, ends


def test_wal_round_trip_and_offsets(tmp_path):
    payloads = [{"t": "b", "i": i, "p": [["k", i, i * 1.5, 1.0]]} for i in range(50)]
    path, ends = _wal(tmp_path, payloads)
    result = read_all(path)
    assert [r.data for r in result.records] == payloads
    assert [r.end for r in result.records] == ends
    assert result.records[0].start == len(FILE_HEADER)
    assert not result.truncated_tail and not result.corrupt_ranges


@pytest.mark.parametrize("cut", [1, 5, 9, 10, 25])
def test_wal_truncated_tail_keeps_every_complete_record(tmp_path, cut):
    path, ends = _wal(tmp_path, [{"t": "b", "i": i, "pad": "x" * 30} for i in range(10)])
    with open(path, "r+b") as fh:
        fh.truncate(ends[-2] + cut)  # cut inside the last frame
    result = read_all(path)
    assert [r.data["i"] for r in result.records] == list(range(9))
    assert result.truncated_tail


def test_wal_damaged_middle_record_is_skipped_and_reading_resumes(tmp_path):
    path, ends = _wal(tmp_path, [{"t": "b", "i": i, "pad": "GL" * 20} for i in range(10)])
    with open(path, "r+b") as fh:
        fh.seek(ends[3] + 15)  # inside record 4's payload
        fh.write(b"\x00\x01")
    result = read_all(path)
    assert [r.data["i"] for r in result.records] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert result.corrupt_ranges == [(ends[3], ends[4])]


def test_wal_live_tail_waits_for_an_incomplete_frame(tmp_path):
    frame = encode_frame(orjson.dumps({"t": "b", "i": 1}))
    buf = FILE_HEADER + encode_frame(orjson.dumps({"t": "b", "i": 0})) + frame[:-3]
    live = parse(buf, 0, final=False)
    assert [r.data["i"] for r in live.records] == [0] and not live.truncated_tail
    assert parse(buf, 0, final=True).truncated_tail


def test_wal_empty_and_garbage_files(tmp_path):
    (tmp_path / "empty.wal").write_bytes(b"")
    assert read_all(str(tmp_path / "empty.wal")).records == []
    (tmp_path / "junk.wal").write_bytes(os.urandom(2048))
    assert read_all(str(tmp_path / "junk.wal")).records == []


# --------------------------------------------------------------------------- values
def test_merge_flattens_nested_dicts_and_snapshots_sequences():
    np = pytest.importorskip("numpy")
    pending: dict = {}
    arr = np.arange(3.0)
    lst = [1, 2, 3]
    merge_into(pending, {"a": 1.0, "m": {"x": 2, "y": {"z": lst}}, "arr": arr})
    arr[0] = 99.0
    lst.append(4)
    assert pending["a"] == 1.0 and pending["m/x"] == 2
    assert pending["m/y/z"] == (1, 2, 3)  # copied at log() time
    assert pending["arr"][0] == 0.0


def test_encode_row_types():
    np = pytest.importorskip("numpy")
    out = Encoded()
    encode_row(
        3,
        {
            "f": 1.5,
            "i": 2,
            "b": True,
            "nan": float("nan"),
            "inf": float("-inf"),
            "np": np.float16(0.5),
            "s": "text",
            "none": None,
            "h": (1.0, 2.0, 2.0),
            "big": 2**60,
            "_step": 7,
            "obj": object(),
        },
        10.0,
        out,
    )
    points = {p[0]: p[2] for p in out.point_rows()}
    assert math.isnan(points.pop("nan"))
    assert points == {
        "f": 1.5,
        "i": 2.0,
        "b": 1.0,
        "inf": float("-inf"),  # the binary format carries IEEE values as they are
        "np": 0.5,
        "big": float(2**60),
    }
    assert all(p[1] == 3 and p[3] == 10.0 for p in out.point_rows())
    assert out.last == {"s": "text", "none": None}
    assert out.histograms[0][0] == "h" and sum(out.histograms[0][2]["values"]) == 3
    assert out.unsupported == {"obj (object)"}


def test_histogram_without_numpy_matches_shape():
    h = gradline.Histogram([0.0, 1.0, 1.0, 2.0], num_bins=4)
    assert sum(h.histogram) == 4 and len(h.bins) == 5
    with pytest.raises(ValueError):
        gradline.Histogram()


# --------------------------------------------------------------------------- config
def test_config_semantics_match_wandb():
    changes = []
    config = Config(on_change=changes.append)
    config.update({"lr": 0.1, "opt": {"name": "adam"}})
    config.batch = 32
    config["--epochs"] = 3  # argparse-style keys lose their dashes
    assert config.lr == 0.1 and config["batch"] == 32 and config.epochs == 3
    assert config.as_dict() == {"lr": 0.1, "opt": {"name": "adam"}, "batch": 32, "epochs": 3}
    config.update({"lr": 0.1})  # same value: fine, no change event
    with pytest.raises(ConfigError, match="allow_val_change"):
        config.update({"lr": 0.2})
    config.update({"lr": 0.2}, allow_val_change=True)
    config.setdefaults({"lr": 9.0, "new": 1})
    assert config.lr == 0.2 and config.new == 1
    assert changes == [
        {"lr": 0.1, "opt": {"name": "adam"}},
        {"batch": 32},
        {"epochs": 3},
        {"lr": 0.2},
        {"new": 1},
    ]
    with pytest.raises(AttributeError):
        _ = config.missing


def test_config_keys_locked_by_a_sweep_ignore_the_script(capsys):
    config = Config()
    config._lock({"lr": 0.05}, source="sweep")
    config.update({"lr": 0.1, "epochs": 2})
    config.lr = 0.3
    assert config.lr == 0.05 and config.epochs == 2
    assert "locked by sweep" in capsys.readouterr().err


# --------------------------------------------------------------------------- metrics
def test_define_metric_matching_and_aggregation():
    state = MetricState()
    state.define(Metric("val/*", step_metric="epoch", summary="max,mean"))
    state.define(Metric("val/loss", summary="min"))
    state.define(Metric("*", step_metric="global_step"))
    assert state.match("val/loss").summary == ("min",)  # exact beats glob
    assert state.match("val/acc").step_metric == "epoch"
    assert state.match("train/loss").step_metric == "global_step"
    for v in (1.0, 3.0, 2.0):
        state.observe("val/acc", v)
    assert state.summary_view()["val/acc"] == {"max": 3.0, "mean": 2.0}
    row = {"val/acc": 0.5}
    state.last["epoch"] = 4
    state.fill_step_metrics(row)
    assert row == {"val/acc": 0.5, "epoch": 4}
    with pytest.raises(ValueError):
        Metric("x", summary="median")
    with pytest.raises(ValueError):
        Metric("x", goal="up")


def test_console_collapse():
    assert collapse_cr("plain") == "plain"
    assert collapse_cr("10%\r20%\r30%") == "30%"
    assert collapse_cr("done\r") == "done"
    assert collapse_cr("\r\r") == ""


# --------------------------------------------------------------------------- settings
def test_settings_precedence_and_wandb_fallbacks(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADLINE_CONFIG_DIR", str(tmp_path / "cfg"))
    path = write_login_file(
        {"base_url": "http://login:1", "api_key": "gl-login", "entity": "from-login"}
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load().api_key == "gl-login" and load().entity == "from-login"
    monkeypatch.setenv("WANDB_API_KEY", "gl-wandb")
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert load().api_key == "gl-wandb" and load().mode == "offline"
    monkeypatch.setenv("GRADLINE_API_KEY", "gl-env")
    monkeypatch.setenv("GRADLINE_FINISH_TIMEOUT", "7.5")
    monkeypatch.setenv("GRADLINE_SYSTEM_METRICS", "off")
    resolved = load({"api_key": "gl-arg"})
    assert resolved.api_key == "gl-arg" and resolved.finish_timeout == 7.5
    assert resolved.system_metrics is False and resolved.base_url == "http://login:1"
    # W&B code passes W&B's own settings: ours under its name, the rest ignored with a warning.
    with pytest.warns(UserWarning, match="start_method"):
        translated = load({"start_method": "thread", "x_disable_stats": True, "quiet": True})
    assert translated.system_metrics is False and translated.silent is True
    with pytest.warns(UserWarning, match="nope"):
        from_class = Settings(nope=1, disable_git=True, x_stats_sampling_interval=3)
    assert from_class.git is False and from_class.system_interval == 3.0
    with pytest.raises(ValueError, match="mode"):
        load({"mode": "sometimes"})


def test_backoff_grows_with_jitter_and_honours_retry_after():
    backoff = Backoff(base=0.5, cap=4.0)
    delays = [backoff.next() for _ in range(8)]
    assert 0.25 <= delays[0] <= 0.5 and all(2.0 <= d <= 4.0 for d in delays[4:])
    assert 7.0 <= backoff.next(retry_after=7.0) <= 7.1
    backoff.reset()
    assert backoff.next() <= 0.5


# --------------------------------------------------------------------------- batching
def test_build_and_split_ingest_keep_every_record():
    parts = [
        {
            "t": "b",
            "points": [["a", 0, 1.0, 1.0]],
            "console": [["stdout", 1.0, "x"]],
            "console_offset": 0,
        },
        {
            "t": "b",
            "points": [["a", 1, 2.0, 1.0]],
            "system": [["system/cpu", 0, 5.0, 1.0]],
            "summary": {"k": 1},
            "config": {"lr": 1},
            "console": [["stdout", 1.0, "y"], ["stderr", 1.0, "z"]],
            "console_offset": 1,
        },
    ]
    body = build_ingest(parts)
    assert body["points"] == [["a", 0, 1.0, 1.0], ["a", 1, 2.0, 1.0]]
    assert body["console_offset"] == 0 and len(body["console"]) == 3
    first, second = split_ingest(body)
    items = lambda b: [(p, x) for p in ("points", "system", "console") for x in b.get(p, [])]  # noqa: E731
    assert items(first) + items(second) == items(body)
    assert second["console_offset"] == len(first.get("console", []))
    assert "summary" in first and "summary" not in second


# --------------------------------------------------------------------------- step semantics
def _offline(tmp_path, **settings):
    return gradline.init(
        project="p",
        entity="t",
        mode="offline",
        settings={
            "dir": str(tmp_path),
            "system_metrics": False,
            "console": "off",
            "silent": True,
            "exit_hooks": False,
            "git": False,
            "pip_freeze": False,
            **settings,
        },
    )


def _rows(run):
    rows: dict = {}
    for record in read_all(os.path.join(run.dir, "run.wal")).records:
        for key, step, value, _ in wal_points(record):
            rows.setdefault(step, {})[key] = value
    return rows


def test_step_semantics_offline(tmp_path):
    run = _offline(tmp_path)
    run.log({"a": 1.0}, commit=False)
    run.log({"b": 1.0}, commit=False)
    run.log({"c": 1.0})
    run.log({"d": 1.0}, step=10, commit=True)
    run.log({"e": 1.0}, step=4)  # ignored
    run.log({"f": 1.0}, step=12)
    run.log({"g": 1.0}, commit=False)  # joins pending step 12
    run.finish()  # flushes the pending row
    assert _rows(run) == {
        0: {"a": 1.0, "b": 1.0, "c": 1.0},
        10: {"d": 1.0},
        12: {"f": 1.0, "g": 1.0},
    }
    with pytest.raises(TypeError):
        run.log([1, 2])


def test_wal_write_failure_is_reported_once_and_never_raised(server, sdk_db, tmp_path):
    """Disk full, for real: RLIMIT_FSIZE makes writes past 64 KiB fail (EFBIG). The run
    keeps logging, reports the problem once, and the server still gets every point."""
    script = tmp_path / "full.py"
    script.write_text(
        textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        import gradline
        run = gradline.init(project="disk-full", entity="sdk-team",
                            settings={{"base_url": "{server.url}",
                                      "api_key": "{sdk_db.seed.owner_key}",
                                      "dir": "{tmp_path / "runs"}", "system_metrics": False,
                                      "console": "off", "git": False, "pip_freeze": False,
                                      "exit_hooks": False}})
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        for i in range(20000):
            run.log({{"x": float(i)}})
        run.finish()
        print("RUN", run.id)
    """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("cannot write") == 1, result.stderr
    run_id = result.stdout.split("RUN ")[1].strip()
    assert [s for _, s, _ in stored_points(sdk_db, run_id, "disk-full")] == list(range(20000))


def test_unwritable_run_folder_falls_back_to_a_temporary_one(tmp_path, capfd):
    # A run folder below a regular file cannot be created by anyone (ENOTDIR), root
    # included, who ignores directory permissions.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run = _offline(blocker / "runs", silent=False)
    run.log({"x": 1.0})
    run.finish()
    assert not run.dir.startswith(str(tmp_path))
    assert (Path(run.dir) / "run.wal").exists()
    err = capfd.readouterr().err
    assert "cannot write to" in err and "Not a directory" in err, err


def test_points_only_records_are_spliced_without_decoding(tmp_path):
    from gradline.uploader import POINTS_PREFIX, _points_of, _request_body

    payloads = [
        {"t": "p", "heartbeat": True, "points": [["a", i, float(i), 1.0], ["b", i, 0.5, 1.0]]}
        for i in range(3)
    ]
    path, _ = _wal(tmp_path, payloads)
    records = read_all(path).records
    assert all(r.payload.startswith(POINTS_PREFIX) for r in records)
    assert [_points_of(r) for r in records] == [2, 2, 2]
    body = _request_body(records)
    assert isinstance(body, bytes)  # spliced, never decoded on the way
    assert all(r._data is None for r in records)
    merged = orjson.loads(body)
    assert merged["points"] == [p for d in payloads for p in d["points"]]
    assert _request_body(records[:1]) == records[0].payload
