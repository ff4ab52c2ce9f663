"""The uploader against a server that refuses: a batch too large for the server's
request limit (a real 413 from a server started with a small MAX_REQUEST_BYTES) is split
until it fits and every point is stored once; a batch the server refuses with a 400 is
reported once and skipped, and the run still finishes. The same for a refused file, a
file gone from the run folder before its upload, and a refused run update (PATCH)."""

from __future__ import annotations

import random

import gradline
from tests.sdk.conftest import stored_points
from tests.sdk.harness import FaultProxy, wait_for


def test_a_batch_over_the_servers_limit_is_split_until_it_fits(
    server_factory, sdk_db, sdk_settings, monkeypatch
):
    monkeypatch.setenv("MAX_REQUEST_BYTES", "60000")  # the server process reads it
    srv = server_factory()
    run = gradline.init(
        project="up-413",
        settings=sdk_settings(base_url=srv.url, batch_max_points=20_000, flush_interval=5),
    )
    rng = random.Random(7)  # incompressible values: a full batch is far above 60 kB
    values = [rng.random() for _ in range(20_000)]
    for value in values:
        run.log({"x": value})
    run.finish()
    pipeline = run._pipeline
    assert pipeline.failed is None and pipeline.done.is_set()
    # The server's 413 made the uploader halve its batches (and keep them smaller).
    assert pipeline.engine.max_points < 20_000
    assert pipeline.engine.stats.requests > 1
    points = stored_points(sdk_db, run.id, "up-413")
    assert sorted((s, v) for _, s, v in points) == list(enumerate(values))


def test_a_batch_refused_with_400_is_reported_once_and_skipped(server, sdk_db, sdk_settings, capfd):
    proxy = FaultProxy(server.url)
    try:
        proxy.error_paths["/ingest"] = 400
        run = gradline.init(
            project="up-400",
            settings=sdk_settings(base_url=proxy.url, batch_max_points=100, silent=False),
        )
        for i in range(1000):
            run.log({"x": float(i)})
        run.finish()
    finally:
        proxy.close()
    err = capfd.readouterr().err
    assert err.count("the server refused a batch") == 1, err
    assert "HTTP 400 server_error: injected); it stays in" in err
    assert "finished: 0 records stored" in err
    assert proxy.errors_answered >= 1
    assert stored_points(sdk_db, run.id, "up-400") == []
    state = sdk_db.query("SELECT state FROM runs_run WHERE uid = %s", (run.id,))
    assert state == [("finished",)]  # the refusal did not stop the run's own requests


def test_a_refused_file_is_reported_once_and_everything_else_is_stored(
    server, sdk_db, sdk_settings, capfd, tmp_path
):
    (tmp_path / "model.bin").write_bytes(b"weights")
    (tmp_path / "notes.txt").write_text("kept")
    proxy = FaultProxy(server.url)
    try:
        proxy.error_paths["/files/model.bin"] = 400
        run = gradline.init(
            project="up-file-400", settings=sdk_settings(base_url=proxy.url, silent=False)
        )
        run.save(str(tmp_path / "model.bin"), base_path=str(tmp_path), policy="now")
        run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
        for i in range(100):
            run.log({"x": float(i)})
        run.finish()
    finally:
        proxy.close()
    err = capfd.readouterr().err
    assert err.count("file model.bin was refused") == 1, err
    assert "HTTP 400 server_error: injected" in err
    files = sdk_db.query(
        "SELECT f.path FROM runs_runfile f JOIN runs_run r ON r.id = f.run_id WHERE r.uid = %s",
        (run.id,),
    )
    assert sorted(files) == [("metadata.json",), ("notes.txt",)]  # the SDK's own, and ours
    assert sorted(s for _, s, _ in stored_points(sdk_db, run.id, "up-file-400")) == list(range(100))
    assert sdk_db.query("SELECT state FROM runs_run WHERE uid = %s", (run.id,)) == [("finished",)]


def test_a_file_gone_before_its_upload_is_reported_and_skipped(
    server, sdk_db, sdk_settings, capfd, tmp_path
):
    """The run folder's copy of a saved file disappears while the server is down for
    files (a cleanup job, a full disk): the uploader says which file it could not read,
    drops that record and carries on with the run."""
    from pathlib import Path

    (tmp_path / "ckpt.pt").write_bytes(b"checkpoint")
    proxy = FaultProxy(server.url)
    try:
        proxy.error_paths["/files/ckpt.pt"] = 503  # retryable: the record stays queued
        run = gradline.init(
            project="up-file-gone", settings=sdk_settings(base_url=proxy.url, silent=False)
        )
        run.save(str(tmp_path / "ckpt.pt"), base_path=str(tmp_path), policy="now")
        wait_for(lambda: proxy.errors_answered >= 1, 120, what="the first refused upload")
        (Path(run.dir) / "files" / "ckpt.pt").unlink()
        del proxy.error_paths["/files/ckpt.pt"]
        run.log({"x": 1.0})
        run.finish()
    finally:
        proxy.close()
    err = capfd.readouterr().err
    assert err.count("for upload: [Errno 2] No such file or directory") == 1, err
    files = sdk_db.query(
        "SELECT f.path FROM runs_runfile f JOIN runs_run r ON r.id = f.run_id WHERE r.uid = %s",
        (run.id,),
    )
    assert files == [("metadata.json",)]  # the SDK's own; the lost file is not there
    assert [s for _, s, _ in stored_points(sdk_db, run.id, "up-file-gone")] == [0]
    assert sdk_db.query("SELECT state FROM runs_run WHERE uid = %s", (run.id,)) == [("finished",)]


def test_a_refused_run_update_is_reported_once_and_the_run_goes_on(
    server, sdk_db, sdk_settings, capfd
):
    proxy = FaultProxy(server.url)
    try:
        run = gradline.init(
            id="patch-refused",
            project="up-patch-400",
            settings=sdk_settings(base_url=proxy.url, silent=False),
        )
        proxy.error_paths["/runs/patch-refused"] = 400  # PATCH of the run (and only it)
        run.name = "renamed"
        run.tags = ["a"]
        for i in range(10):
            run.log({"x": float(i)})
        run.finish()
    finally:
        proxy.close()
    err = capfd.readouterr().err
    assert err.count("run update refused") == 1, err
    patches = [m for m, p in proxy.paths if m == "PATCH" and p.endswith("/runs/patch-refused")]
    assert len(patches) == 2  # each update tried once: a 400 is not retried
    row = sdk_db.query("SELECT name, state FROM runs_run WHERE uid = %s", ("patch-refused",))
    assert row[0][1] == "finished" and row[0][0] != "renamed"
    assert len(stored_points(sdk_db, "patch-refused", "up-patch-400")) == 10
