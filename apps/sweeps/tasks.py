"""The sweep controller's Celery task (apps/sweeps/controller.py). It takes ids, acts in
one team's scope and is idempotent: a duplicate delivery finds the queue filled for the
same history and does nothing."""

from __future__ import annotations

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction

from apps.core.tasks import team_task
from apps.sweeps import controller

# One refill computes per sweep at a time (a cache lock; it expires on its own if a
# worker dies holding it): a burst of requests would otherwise fit the same GPs in
# parallel and all but one throw their work away.
LOCK_S = 300


@team_task(name="sweeps.refill_queue")
def refill_queue(team, sweep_pk: int) -> str:
    # The database's name too: test databases reuse primary keys, the cache is shared.
    key = f"sweeps:refill:{connection.settings_dict['NAME']}:{int(sweep_pk)}"
    if not cache.add(key, 1, LOCK_S):
        cache.set(f"{key}:again", 1, LOCK_S)  # the running one looks again when done
        return "busy"
    try:
        done = controller.refill(team, int(sweep_pk))
    finally:
        cache.delete(key)
    # Asked again meanwhile, or another delivery appended while this one computed (its
    # work was dropped: it had not seen those as pending): one more pass tops up.
    again = cache.delete(f"{key}:again") or done.startswith("changed meanwhile")
    if again and not done.startswith(("full", "gone", "not running")):
        refill_queue.delay(team.pk, int(sweep_pk))
    return done


def request_refill(team, sweep) -> None:
    """Queue the controller after this transaction commits. Without a worker (tasks
    eager: no Redis) nothing is queued and `next` computes inline, as it always can."""
    if current_app.conf.task_always_eager:
        return
    team_pk, sweep_pk = team.pk, sweep.pk
    transaction.on_commit(lambda: refill_queue.delay(team_pk, sweep_pk))
