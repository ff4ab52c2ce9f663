"""The uploader against a server that refuses: a batch too large for the server's
request limit (a real 413 from a server started with a small MAX_REQUEST_BYTES) is split
until it fits and every point is stored once; a batch the server refuses with a 400 is
reported once and skipped, and the run still finishes."""

from __future__ import annotations

import random

import gradline
from tests.sdk.conftest import stored_points
from tests.sdk.harness import FaultProxy


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
