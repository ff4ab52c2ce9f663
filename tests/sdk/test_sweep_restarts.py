"""A sweep survives its server being SIGKILLed and restarted (docs/sweeps.md): once while a
trial's run is logging, once as a trial ends (its finish, and maybe the agent's next
`next`, meet a server that is down and retry until it is back). Every grid combination
runs exactly once, every run is finished with its metric, and the sweep's trials are
exactly its runs: nothing lost or doubled."""

from __future__ import annotations

import itertools
import threading
import uuid

import gradline
from gradline import Api
from tests.sdk.harness import sdk_env_vars


def test_a_sweep_survives_server_kills_with_nothing_lost_or_doubled(
    server_factory, sdk_db, monkeypatch, tmp_path
):
    server = server_factory()
    env = sdk_env_vars(
        server.url,
        sdk_db.seed.owner_key,
        tmp_path,
        GRADLINE_EXIT_HOOKS="false",
        # A restart takes seconds on a busy box: finish() waits for it (the default gives
        # up after 60 s, leaving the rest to `gradline sync`), retries come back quickly.
        GRADLINE_FINISH_TIMEOUT="300",
        GRADLINE_RETRY_MAX_BACKOFF="2",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    project = f"sweeps-restart-{uuid.uuid4().hex[:8]}"
    config = {
        "method": "grid",
        "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "yy"]}},
    }
    sweep_id = gradline.sweep(config, project=project)
    seen: list[tuple[str, int, str]] = []
    restarting: list[threading.Thread] = []

    def train():
        run = gradline.init()
        a, b = gradline.config.a, gradline.config.b
        seen.append((run.id, a, b))
        for step in range(50):
            gradline.log({"score": a * len(b), "step_value": step})
            if len(seen) == 2 and step == 25:
                server.restart()  # SIGKILL mid-run, back before the run goes on
        if len(seen) == 4:
            # Down as the trial ends: its finish is retried until the server is back (it
            # starts in the background, taking its seconds).
            server.kill()
            thread = threading.Thread(target=server.start)
            thread.start()
            restarting.append(thread)

    gradline.agent(sweep_id, train)  # no count: returns when the grid is used up
    for thread in restarting:
        thread.join(120)
    assert server.restarts == 1 and server.ready()

    combos = sorted((a, b) for _, a, b in seen)
    assert combos == sorted(itertools.product([1, 2, 3], ["x", "yy"]))  # each exactly once
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    sweep = api.sweep(f"sdk-team/{project}/{sweep_id}")
    trials = {t["run"]: t for t in sweep.trials}
    runs = {run.id: run for run in api.runs(f"sdk-team/{project}", per_page=200)}
    assert len(sweep.trials) == 6 and set(trials) == set(runs) == {r for r, _, _ in seen}
    for run_id, run in runs.items():
        assert run.state == "finished" and trials[run_id]["state"] == "finished"
        assert run.config == trials[run_id]["params"]
        assert run.summary["score"] == run.config["a"] * len(run.config["b"])
        history = [row["step_value"] for row in run.scan_history(keys=["step_value"])]
        assert history == list(range(50))  # every point once, the killed one's included
    assert sweep.best["params"] == {"a": 3, "b": "yy"}
