"""Sweep agents: the time of `POST …/sweeps/<id>/next` for parallel agents on a bayes
sweep with 1,000 finished trials, with the Celery controller (suggestions queued ahead
by a worker) against the same agents with the controller inline (no worker: every
`next` fits the GP under the sweep's lock).

    .venv/bin/python bench/sweep_agents.py [--agents 8] [--trials 1000] [--rounds 3]
                                           [--work 8]

One Gradline server (uvicorn, 2 workers, Redis: BENCH_REDIS_URL) on a fresh database;
server and worker run with single-threaded BLAS (OPENBLAS_NUM_THREADS=1: on a shared
machine numpy's threads fight each other and a GP fit gets ~10x slower).
For each phase a fresh sweep (2 continuous parameters, `controller.queue` = agents) is
seeded with `--trials` finished trials (rows written directly, as the setup). Then
`--agents` threads, started `--work`/agents seconds apart (as agents of a cluster come
up one after another; all at once they would also all finish at once), each run
`--rounds` trials the way the SDK agent does: `next`
(timed), create the run, `--work` seconds of "training", log the metric, finish.
Phase `queue` starts a Celery worker first and waits for the queue to fill; phase
`inline` runs with no worker. Also: the bayes engine's suggestion time at `--trials`
finished trials, in-process (median of 5). Prints name=value lines.

Targets (issue 14): sweep_next_queue_p95_ms <= 50; bayes_suggest_1000_s <= 0.15.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    APP_PY,
    GradlineServer,
    Http,
    emit,
    emit_context,
    emit_load,
    note,
    percentile,
    spawn,
    stop_process,
)

SEED = """
import math
from apps.projects import services as project_services
from apps.runs.models import Run, RunState
from apps.sweeps.models import Sweep, SweepTrial, TrialState
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
project = project_services.project_get_or_create(team=team, name={project!r}, actor=None)
config = {{
    "method": "bayes",
    "metric": {{"name": "loss", "goal": "minimize"}},
    "parameters": {{"x": {{"min": -5.0, "max": 10.0}}, "y": {{"min": 0.0, "max": 15.0}}}},
    "controller": {{"queue": {agents}}},
}}
def branin(x, y):
    return (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2 + 10 * (
        1 - 1 / (8 * math.pi)) * math.cos(x) + 10
sweep = Sweep.objects.for_team(team).create(
    team=team, project=project, uid={uid!r}, name={uid!r}, method="bayes", config=config,
    metric_name="loss", metric_goal="minimize")
runs, trials = [], []
for i in range({trials}):
    x, y = -5 + 15 * ((i * 0.6180339) % 1), 15 * ((i * 0.4142135) % 1)
    uid = f"{{sweep.uid}}-{{i:05d}}"
    loss = branin(x, y)
    runs.append(Run(team=team, project=project, uid=uid, name=uid, state=RunState.FINISHED,
                    config={{"x": x, "y": y}}, summary={{"loss": loss}}))
    trials.append(SweepTrial(team=team, sweep=sweep, project=project, run_uid=uid,
                             params={{"x": x, "y": y}}, state=TrialState.FINISHED, metric=loss))
Run.objects.for_team(team).bulk_create(runs, batch_size=500)
SweepTrial.objects.for_team(team).bulk_create(trials, batch_size=500)
print("SWEEP_PK=" + str(sweep.pk))
"""

SUGGEST_TIMING = """
import statistics, time
from apps.sweeps import controller, selectors
from apps.sweeps.models import Sweep
from apps.teams.models import Team
team = Team.objects.get(slug={team!r})
sweep = Sweep.objects.for_team(team).get(uid={uid!r})
trials = selectors.trials_observed(team, sweep)
finished, pending = controller.engine_inputs(trials)
times = []
for i in range(5):
    t0 = time.perf_counter()
    controller.suggest(sweep, finished, pending, len(trials) + i)
    times.append(time.perf_counter() - t0)
print("BAYES_S=" + str(statistics.median(times)))
"""


def seed_sweep(server: GradlineServer, uid: str, args) -> None:
    server.shell(
        SEED.format(
            team=server.team,
            project=server.project,
            uid=uid,
            agents=args.agents,
            trials=args.trials,
        ),
        timeout=600,
    )


def agent_loop(
    server: GradlineServer,
    uid: str,
    args,
    times: list,
    sources: list,
    errors: list,
    start_delay: float,
):
    base = f"{server.project_path}/sweeps/{uid}"
    time.sleep(start_delay)  # agents started one after another, as a cluster does
    try:
        for _ in range(args.rounds):
            # A connection per burst: the server closes idle keep-alive ones during --work.
            http = Http(server.url, server.api_key)
            t0 = time.perf_counter()
            trial = http.json("POST", f"{base}/next", {"agent": threading.current_thread().name})
            times.append(time.perf_counter() - t0)
            sources.append(trial.get("source"))
            run = trial["run"]
            http.json("POST", f"{server.project_path}/runs", {"id": run, "config": trial["params"]})
            http.close()
            time.sleep(args.work)  # the trial's training: the agents' work, not measured
            x, y = trial["params"]["x"], trial["params"]["y"]
            loss = (x - 3) ** 2 + (y - 2) ** 2
            http = Http(server.url, server.api_key)
            http.json(
                "POST",
                f"{server.project_path}/runs/{run}/ingest",
                {"points": [["loss", 0, loss, time.time()]]},
            )
            http.json("POST", f"{server.project_path}/runs/{run}/finish", {"exit_code": 0})
            http.close()
    except Exception as exc:
        errors.append(repr(exc))


def run_agents(server: GradlineServer, uid: str, args) -> tuple[list, list]:
    times: list[float] = []
    sources: list = []
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=agent_loop,
            args=(server, uid, args, times, sources, errors, i * args.work / args.agents),
            name=f"agent-{i}",
        )
        for i in range(args.agents)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return times, sources


def report(phase: str, times: list[float], sources: list) -> None:
    ms = [t * 1000 for t in times]
    emit(f"sweep_next_{phase}_n", len(ms))
    emit(f"sweep_next_{phase}_p50_ms", round(percentile(ms, 50), 1))
    emit(f"sweep_next_{phase}_p95_ms", round(percentile(ms, 95), 1))
    emit(f"sweep_next_{phase}_max_ms", round(max(ms), 1))
    emit(f"sweep_next_{phase}_from_queue", sum(1 for s in sources if s == "queue"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=float, default=8.0)
    args = parser.parse_args()
    emit_context("sweep_agents")
    emit("agents", args.agents)
    emit("finished_trials", args.trials)
    blas = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with GradlineServer(workers=2, extra_env=blas) as server:
        # Inline first: no worker has ever run, so nothing is queued.
        seed_sweep(server, "inline00", args)
        emit_load("inline")
        times, sources = run_agents(server, "inline00", args)
        report("inline", times, sources)

        seed_sweep(server, "queue000", args)
        worker_log = server.tmp / "worker.log"
        worker = spawn(
            [
                str(APP_PY),
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-P",
                "threads",
                "-c",
                "2",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=server.env,
            log=worker_log,
        )
        try:
            pk = server.sql("SELECT id FROM sweeps_sweep WHERE uid = 'queue000'")[0][0]
            # The sweep was written directly: ask the controller once, as a start does.
            server.shell(
                "from apps.sweeps import tasks; from apps.teams.models import Team\n"
                f"tasks.refill_queue.delay(Team.objects.get(slug={server.team!r}).pk, {pk})\n"
            )
            deadline = time.monotonic() + 600
            while True:
                count = server.sql(
                    "SELECT count(*) FROM sweeps_sweepsuggestion WHERE sweep_id = %s", (pk,)
                )[0][0]
                if count >= args.agents:
                    break
                if time.monotonic() > deadline or worker.poll() is not None:
                    note(worker_log.read_text(errors="replace")[-3000:])
                    raise RuntimeError("the worker never filled the queue")
                time.sleep(0.5)
            emit_load("queue")
            times, sources = run_agents(server, "queue000", args)
            report("queue", times, sources)
        finally:
            stop_process(worker)
        timing = server.shell(SUGGEST_TIMING.format(team=server.team, uid="inline00"), timeout=600)
        emit(f"bayes_suggest_{args.trials}_s", round(float(timing["BAYES_S"]), 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
