"""The sweep controller's Celery task (apps/sweeps/controller.py). It takes ids, acts in
one team's scope and is idempotent: a duplicate delivery finds the queue filled for the
same history and does nothing."""

from __future__ import annotations

from celery import current_app
from django.db import transaction

from apps.core.tasks import team_task
from apps.sweeps import controller


@team_task(name="sweeps.refill_queue")
def refill_queue(team, sweep_pk: int) -> str:
    done = controller.refill(team, int(sweep_pk))
    if done.startswith("changed meanwhile"):
        # Another delivery appended while this one computed: its work is dropped (it
        # did not see those as pending); one more pass tops up whatever is still missing.
        refill_queue.delay(team.pk, int(sweep_pk))
    return done


def request_refill(team, sweep) -> None:
    """Queue the controller after this transaction commits. Without a worker (tasks
    eager: no Redis) nothing is queued and `next` computes inline, as it always can."""
    if current_app.conf.task_always_eager:
        return
    team_pk, sweep_pk = team.pk, sweep.pk
    transaction.on_commit(lambda: refill_queue.delay(team_pk, sweep_pk))
