"""The Celery controller (docs/sweeps.md "The controller") with a real worker on Redis
(tests/celery_worker.py): suggestions are queued when a sweep starts and after a trial
finishes, `next` serves them, the same ledger gives the same suggestions as inline,
duplicate deliveries change nothing, a worker killed mid-task leaves the sweep
consistent, and without a worker `next` computes inline."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from celery import current_app

from apps.runs import services as run_services
from apps.runs.models import Run, RunState
from apps.sweeps import controller, selectors
from apps.sweeps import services as sweep_services
from apps.sweeps import tasks as sweep_tasks
from apps.sweeps.models import Sweep, SweepSuggestion, SweepTrial, TrialState
from tests.celery_worker import celery_worker, result_of, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(celery_worker):  # noqa: F811 - the fixture imported above
    return celery_worker


RANDOM = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 0.001, "max": 0.1}, "opt": {"values": ["sgd", "adam"]}},
}
BAYES = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": -5.0, "max": 5.0}, "y": {"min": 0.0, "max": 1.0}},
}


def create(team, project, actor, config) -> Sweep:
    return sweep_services.sweep_create(
        team=team, project=project, project_name=project.name, actor=actor, data={"config": config}
    )


def queue(team, sweep) -> list[SweepSuggestion]:
    return controller.queued(team, sweep)


def fresh(team, sweep) -> Sweep:
    found = Sweep.objects.for_team(team).get(pk=sweep.pk)
    found.team, found.project = team, sweep.project
    return found


def finish_trial(team, project, actor, trial, loss: float) -> None:
    run, _, _ = run_services.run_create_or_resume(
        team=team,
        project=project,
        project_name=project.name,
        actor=actor,
        data={"id": trial.run_uid, "config": trial.params},
    )
    run_services.run_ingest(run=run, body={"points": [["loss", 0, loss, 1.7e9]]})
    run_services.run_finish(run=run, data={"exit_code": 0})


def expected_queue(team, sweep) -> list[dict]:
    """What the controller must have queued for the sweep's current ledger, computed
    here with the same engine inputs (the determinism the docs promise)."""
    sweep = fresh(team, sweep)
    trials = selectors.trials_observed(team, sweep)
    return controller.suggest_ahead(sweep, trials, controller.queue_target(sweep, trials))


def filled(team, sweep):
    """The queue once the worker has topped it up for the sweep's current ledger."""
    current = fresh(team, sweep)
    trials = selectors.trials_observed(team, current)
    rows = queue(team, sweep)
    return rows if len(rows) >= controller.queue_target(current, trials) else None


def test_queued_at_start_and_after_a_finish_and_next_serves_them(
    worker, team, project, member_user
):
    sweep = create(team, project, member_user, BAYES)
    rows = wait_until(lambda: filled(team, sweep), 120, "the first suggestions")
    assert [r.params for r in rows] == expected_queue(team, sweep)
    head = rows[0].params

    trial = sweep_services.trial_next(team=team, sweep=sweep, agent="a")
    assert (trial.served_from, trial.params) == ("queue", head)
    assert [r.params for r in queue(team, sweep)] == [r.params for r in rows[1:]]

    finish_trial(team, project, member_user, trial, 0.5)
    # The next request sees the finish (a new history) and hands out what is queued;
    # the worker then recomputes the queue for the new history.
    before = fresh(team, sweep).history_version
    second = sweep_services.trial_next(team=team, sweep=sweep, agent="a")
    assert (second.served_from, second.params) == ("queue", rows[1].params)
    assert fresh(team, sweep).history_version == before + 1
    refilled = wait_until(lambda: filled(team, sweep), 120, "the queue topped up again")
    handed = [t.params for t in SweepTrial.objects.for_team(team).filter(sweep=sweep)]
    assert all(r.params not in handed for r in refilled)  # nothing handed out twice
    third = sweep_services.trial_next(team=team, sweep=sweep, agent="a")
    assert (third.served_from, third.params) == ("queue", refilled[0].params)
    trials = SweepTrial.objects.for_team(team).filter(sweep=sweep)
    assert trials.count() == 3 and len({t.run_uid for t in trials}) == 3


def test_duplicate_deliveries_change_nothing(worker, team, project, member_user):
    sweep = create(team, project, member_user, RANDOM)
    rows = wait_until(lambda: filled(team, sweep), 120, "the first suggestions")
    ids = [r.pk for r in rows]
    answers = [sweep_tasks.refill_queue.delay(team.pk, sweep.pk) for _ in range(3)]
    # "busy": another delivery was computing at that moment (one at a time per sweep).
    assert all(result_of(a).startswith(("full", "busy")) for a in answers)
    assert [r.pk for r in queue(team, sweep)] == ids

    # With one taken, each duplicate refills the queue with the same suggestions.
    sweep_services.trial_next(team=team, sweep=sweep)
    firsts = [sweep_tasks.refill_queue.delay(team.pk, sweep.pk) for _ in range(3)]
    for answer in firsts:
        result_of(answer)  # "busy" while another computes: wait for the queue
    rows = wait_until(lambda: filled(team, sweep), 120, "the queue topped up")
    assert [r.params for r in rows] == expected_queue(team, sweep)
    assert SweepTrial.objects.for_team(team).filter(sweep=sweep).count() == 1  # no trial doubled


def _bayes_with_history(team, project, actor, n: int) -> Sweep:
    """A bayes sweep with `n` finished trials (rows written directly: the setup, not what
    is tested), so that one refill takes seconds."""
    config = {**BAYES, "controller": {"queue": 8}}
    sweep = Sweep.objects.for_team(team).create(
        team=team,
        project=project,
        uid=uuid.uuid4().hex[:8],
        method="bayes",
        config=config,
        metric_name="loss",
        metric_goal="minimize",
    )
    sweep.team, sweep.project = team, project
    runs, trials = [], []
    for i in range(n):
        x, y = -5 + 10 * ((i * 0.618) % 1), (i * 0.382) % 1
        uid = f"h{i:05d}"
        runs.append(
            Run(
                team=team,
                project=project,
                uid=uid,
                name=uid,
                state=RunState.FINISHED,
                config={"x": x, "y": y},
                summary={"loss": (x - 1) ** 2 + y},
            )
        )
        trials.append(
            SweepTrial(
                team=team,
                sweep=sweep,
                project=project,
                run_uid=uid,
                params={"x": x, "y": y},
                state=TrialState.FINISHED,
                metric=(x - 1) ** 2 + y,
            )
        )
    Run.objects.for_team(team).bulk_create(runs)
    SweepTrial.objects.for_team(team).bulk_create(trials)
    return sweep


def test_a_worker_killed_mid_task_leaves_the_sweep_consistent(worker, team, project, member_user):
    sweep = _bayes_with_history(team, project, member_user, 150)
    sweep_tasks.refill_queue.delay(team.pk, sweep.pk)
    wait_until(
        lambda: f"sweep {sweep.uid}: computing" in worker.log_text(),
        120,
        "the worker to start computing",
    )
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(30)
    assert "queued" not in worker.log_text().split(f"sweep {sweep.uid}: computing")[1]

    assert queue(team, sweep) == []  # nothing half-written
    assert SweepTrial.objects.for_team(team).filter(sweep=sweep).count() == 150
    # Not stalled: next computes inline (no lock left behind, no half queue to serve).
    trial = sweep_services.trial_next(team=team, sweep=sweep)
    assert trial.served_from == "inline" and set(trial.params) == {"x", "y"}
    assert SweepTrial.objects.for_team(team).filter(sweep=sweep).count() == 151


@pytest.fixture
def no_worker(transactional_db):
    """Tasks really queued (Redis), on a queue no worker consumes."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    saved = (current_app.conf.task_always_eager, current_app.conf.task_default_queue)
    name = f"gl-test-nobody-{uuid.uuid4().hex[:8]}"
    current_app.conf.task_always_eager = False
    current_app.conf.task_default_queue = name
    yield name
    current_app.conf.task_always_eager, current_app.conf.task_default_queue = saved
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)


def test_without_a_worker_next_computes_inline(no_worker, team, project, member_user):
    sweep = create(team, project, member_user, BAYES)
    served = []
    for loss in (3.0, 2.0, 1.0):
        expected = expected_queue(team, sweep)[0]
        trial = sweep_services.trial_next(team=team, sweep=sweep)
        served.append(trial.served_from)
        assert trial.params == expected  # the same suggestion the controller would queue
        finish_trial(team, project, member_user, trial, loss)
    assert served == ["inline"] * 3 and queue(team, sweep) == []


def test_pause_keeps_the_queue_and_resume_serves_it(worker, team, project, member_user):
    sweep = create(team, project, member_user, RANDOM)
    rows = wait_until(lambda: filled(team, sweep), 120, "the first suggestions")
    sweep_services.sweep_update_state(sweep=sweep, state="paused")
    answer = result_of(sweep_tasks.refill_queue.delay(team.pk, sweep.pk), 120)
    assert answer == "not running (paused)"
    assert [r.pk for r in queue(team, sweep)] == [r.pk for r in rows]
    sweep_services.sweep_update_state(sweep=fresh(team, sweep), state="running")
    trial = sweep_services.trial_next(team=team, sweep=sweep)
    assert (trial.served_from, trial.params) == ("queue", rows[0].params)
