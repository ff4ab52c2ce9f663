"""Delivery of project live events to a subscriber that falls behind, on the real ASGI
application with the Redis channel layer.

Channel layers deliver at most once: channels-redis drops a message when the receiving
channel already holds `capacity` messages (100 by default; every consumer of a server
process shares one Redis channel), which happens whenever the subscriber's process is
busy while many runs log. Events carry the last step per key, so a later event repairs a
lost one, except at the end of a burst: the last steps were never announced (the
live-latency benchmark saw 60 of 3,000 steps missing at 100 runs). The consumer now
checks the database for the runs and keys it follows and announces, in a `catchup`
message, steps that stayed unannounced for a reconcile round.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from apps.realtime import events
from tests.conftest import client_for
from tests.realtime.test_project_events import Socket, events_of, log, session_of
from tests.runs.conftest import P, post_json

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis channel layer"),
]

CAPACITY = 2  # messages a channel holds; small so that the drop is certain


@pytest.fixture(autouse=True)
def _small_redis_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # The test blocks this event loop on purpose: a long socket timeout keeps
                # the subscriber's pending read from timing out meanwhile.
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 120}],
                "prefix": f"t{uuid.uuid4().hex}",
                "capacity": CAPACITY,
            },
        }
    }


def announced(messages: list[dict], run: str, key: str = "loss") -> int:
    """The highest step of `run` announced by events or catch-ups (-1 for none)."""
    steps = [
        e["steps"][key]
        for e in events_of(messages)
        if e["run"] == run and key in e.get("steps", {})
    ]
    steps += [
        r["steps"][key]["last"]
        for m in messages
        if m["type"] == "catchup"
        for r in m["runs"]
        if r["run"] == run and key in r["steps"]
    ]
    return max(steps, default=-1)


async def test_a_subscriber_that_fell_behind_still_hears_every_step(project, member_user):
    runs = ["busy1", "busy2", "busy3"]
    socket = Socket(session=await sync_to_async(session_of)(member_user))
    assert (await socket.connect())[0]
    api = await sync_to_async(client_for)(member_user)
    for uid in runs:
        assert (await sync_to_async(post_json)(api, f"{P}/runs", {"id": uid})).status_code == 201
        await sync_to_async(log)(api, uid, range(1))
        await socket.events_until(lambda ms, uid=uid: announced(ms, uid) == 0)

    def burst():
        try:
            for step in range(1, 6):
                for uid in runs:
                    log(api, uid, range(step, step + 1))
            assert events.publisher.wait_idle(30)
        finally:
            connection.close()  # this thread's own database connection

    # The subscriber's process is busy (this event loop blocked) while 15 events are
    # published: its Redis channel keeps CAPACITY of them and drops the rest, the last
    # steps of every run among them.
    worker = threading.Thread(target=burst)
    worker.start()
    worker.join(120)
    assert not worker.is_alive()

    messages = await socket.events_until(lambda ms: all(announced(ms, uid) == 5 for uid in runs))
    # Nothing announced twice: each run's announced steps only grow.
    for uid in runs:
        steps = [e["steps"]["loss"] for e in events_of(messages) if e["run"] == uid]
        steps += [
            r["steps"]["loss"]["last"]
            for m in messages
            if m["type"] == "catchup"
            for r in m["runs"]
            if r["run"] == uid
        ]
        assert len(steps) == len(set(steps)), (uid, steps)
    for m in messages:
        if m["type"] == "catchup":
            for r in m["runs"]:
                assert r["steps"]["loss"]["after"] < r["steps"]["loss"]["last"]
    await socket.close()
