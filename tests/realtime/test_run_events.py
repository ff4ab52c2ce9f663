"""Live events: one compact event per ingested batch, published after commit, delivered to
subscribers admitted by the same policy and selectors as HTTP."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from apps.realtime import groups
from apps.realtime.events import merge
from apps.realtime.routing import websocket_urlpatterns
from apps.runs import services
from tests.runs.conftest import make_run

T0 = 1_700_000_000.0


def test_event_is_published_after_commit_only(
    team, project, member_user, django_capture_on_commit_callbacks
):
    run = make_run(team, project, member_user)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(groups.run_group(team.pk, run.pk), channel)

    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as rolled_back,
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        services.run_ingest(run=run, body={"points": [["loss", 0, 9.0, T0]]})
        raise Abort
    assert rolled_back == []  # nothing to publish for a batch that was not stored
    with django_capture_on_commit_callbacks(execute=True) as committed:
        services.run_ingest(run=run, body={"points": [["loss", 1, 0.5, T0]], "heartbeat": True})
    assert len(committed) == 1
    message = async_to_sync(layer.receive)(channel)
    event = message["event"]
    assert message["type"] == "run.event"
    assert event == {
        "type": "ingest",
        "run": run.uid,
        "state": "running",
        "accepted": 1,
        "console": 0,
        "steps": {"loss": 1},
        "summary": {"loss": 0.5},
    }


def test_merge_coalesces_events():
    a = {"type": "ingest", "accepted": 2, "console": 0, "steps": {"a": 5}, "summary": {"a": 1}}
    b = {"type": "ingest", "accepted": 3, "console": 1, "steps": {"a": 4, "b": 9}, "summary": {}}
    assert merge(merge(None, a), b) == {
        "type": "ingest",
        "accepted": 5,
        "console": 1,
        "steps": {"a": 5, "b": 9},
        "summary": {"a": 1},
    }


class Socket:
    """A WebSocket client speaking ASGI to the routing table (channels.testing needs
    daphne, which is not a dependency)."""

    def __init__(self, user, team="team-a", project="resnet", run="run1"):
        path = f"/ws/teams/{team}/projects/{project}/runs/{run}"
        scope = {"type": "websocket", "path": path, "headers": [], "query_string": b""}
        scope |= {"subprotocols": [], "user": user}
        self.io = ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)

    async def connect(self) -> tuple[bool, int | None]:
        """(accepted, close code); a refused socket is then disconnected and its consumer
        awaited, as tests/realtime/test_project_events.Socket does (and why)."""
        await self.io.send_input({"type": "websocket.connect"})
        answer = await self.io.receive_output(10)
        accepted = answer["type"] == "websocket.accept"
        if not accepted and answer.get("code") is not None:  # one of our consumers
            await self.close()
        return accepted, answer.get("code")

    async def receive_json(self) -> dict:
        answer = await self.io.receive_output(10)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def close(self) -> None:
        await self.io.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.io.wait(5)


@pytest.mark.django_db(transaction=True)
async def test_subscriber_receives_events_and_outsiders_are_refused(
    team, project, member_user, other_admin
):
    run = await sync_to_async(make_run)(team, project, member_user)
    outsider = Socket(other_admin)
    assert await outsider.connect() == (False, 4404)
    assert await Socket(member_user, run="nope").connect() == (False, 4404)
    assert await Socket(AnonymousUser()).connect() == (False, 4401)

    socket = Socket(member_user)
    assert (await socket.connect())[0]
    await sync_to_async(services.run_ingest)(
        run=run, body={"points": [["acc", 3, 0.25, T0]], "console": [["stdout", T0, "hi"]]}
    )
    event = await socket.receive_json()
    assert event["run"] == run.uid and event["steps"] == {"acc": 3} and event["console"] == 1
    await socket.close()


@pytest.mark.django_db(transaction=True)
def test_a_hung_redis_never_delays_ingest(team, project, member_user, settings):
    """Publishing happens on a background thread: with a channel layer whose Redis
    accepts connections and never answers, ingest answers (and stores the batch) while
    its live event is still waiting for Redis."""
    import socket

    from rest_framework.test import APIClient

    from apps.realtime.events import SEND_TIMEOUT_S, publisher
    from apps.runs.models import MetricKey
    from tests.factories import make_key
    from tests.runs.conftest import ingest

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    run = make_run(team, project, member_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(member_user)}")
    try:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [f"redis://127.0.0.1:{hole.getsockname()[1]}/0"]},
            }
        }
        response = ingest(client, run.uid, {"points": [["a", 0, 1.0, T0]]})
        assert response.status_code == 200
        assert not publisher.wait_idle(0)  # the event still waits; the request did not
        assert MetricKey.objects.for_team(team).get(run=run, name="a").count == 1
    finally:
        # The publisher gives up on the hung send after SEND_TIMEOUT_S; wait for that, so
        # the next test's events are not queued behind it.
        assert publisher.wait_idle(SEND_TIMEOUT_S * 4)
        hole.close()
