"""One run's socket (`…/runs/<run>`) on the real ASGI application with the Redis layer:
events that land in the same coalescing window are merged per type, so an ingest
followed at once by a state change delivers both (it used to keep only the later one)."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from apps.runs import services
from tests.realtime.test_project_events import Socket, session_of
from tests.runs.conftest import make_run

T0 = 1_700_000_000.0
DEADLINE_S = 30.0

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis channel layer"),
]


@pytest.fixture(autouse=True)
def _redis_layer(settings):
    """The Redis layer under a prefix of this test's own (parallel pytest processes hand
    out the same ids, hence the same group names)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": f"t{uuid.uuid4().hex}"},
        }
    }


def beat_log_and_finish(run) -> None:
    """A heartbeat, an ingest and a finish committed together: their events are
    published back to back, so the ingest and the state change reach the socket while
    the heartbeat's coalescing window is open."""
    with transaction.atomic():
        services.run_heartbeat(run=run)
        services.run_ingest(
            run=run, body={"points": [["loss", s, 1.0 / (s + 1), T0] for s in range(5)]}
        )
        services.run_finish(run=run, data={"exit_code": 0})


async def test_ingest_and_state_in_one_window_both_arrive(team, project, member_user):
    run = await sync_to_async(make_run)(team, project, member_user)
    path = f"/ws/teams/{team.slug}/projects/{project.name}/runs/{run.uid}"
    socket = Socket(path, session=await sync_to_async(session_of)(member_user))
    assert (await socket.connect())[0]
    await sync_to_async(beat_log_and_finish)(run)

    events: list[dict] = []
    end = time.monotonic() + DEADLINE_S
    while not any(e["type"] == "state" for e in events):
        left = end - time.monotonic()
        assert left > 0, f"no state event; got {events}"
        events.append(await socket.receive(left))
    # Anything still in flight (an ingest after the state would be a reordering).
    while not await socket.nothing_pending():
        events.append(await socket.receive())

    ingested = [e for e in events if e["type"] == "ingest"]
    assert len(ingested) == 1, events
    assert ingested[0]["run"] == run.uid
    assert ingested[0]["steps"] == {"loss": 4} and ingested[0]["accepted"] == 5
    state = next(e for e in events if e["type"] == "state")
    assert state["state"] == "finished" and state["exit_code"] == 0
    assert [e["type"] for e in events].index("ingest") < [e["type"] for e in events].index("state")
    await socket.close()
