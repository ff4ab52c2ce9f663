"""Project live events on the real ASGI application (config.asgi: origin check, session
auth, routing) with the Redis channel layer; runs are logged through the HTTP API.

Members receive their project's events (new runs, points, state); another team's user
is refused and receives nothing; anyone may watch a public project; a foreign Origin is
refused on every WebSocket route; a reconnecting client catches up from the last step
it saw with nothing missed or doubled."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from apps.projects import services as project_services
from config.asgi import application
from tests.conftest import client_for
from tests.factories import make_project
from tests.runs.conftest import P, ingest, post_json, run_url

T0 = 1_700_000_000.0
EVENTS = "/ws/teams/team-a/projects/resnet/events"
DEADLINE_S = 30.0

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis channel layer"),
]


@pytest.fixture(autouse=True)
def _redis_layer(settings):
    """The Redis layer under a prefix of this test's own: parallel pytest processes (whose
    databases hand out the same ids, hence the same group names) never cross-talk."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": f"t{uuid.uuid4().hex}"},
        }
    }


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """A WebSocket client speaking ASGI to config.asgi.application, as a browser on
    http://testserver would (Host, Origin, session cookie)."""

    def __init__(self, path=EVENTS, *, session=None, origin="http://testserver"):
        headers = [(b"host", b"testserver")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if session is not None:
            headers.append((b"cookie", f"sessionid={session}".encode()))
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
            "scheme": "ws",
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.io = ApplicationCommunicator(application, scope)

    async def connect(self) -> tuple[bool, int | None]:
        """(accepted, close code). A socket our consumer refused (44xx) is then disconnected
        as a server would do, and the consumer awaited: one left running (listening on the
        channel layer) is cancelled when the test's event loop closes, which hung there for
        five minutes once on a busy box. (The origin check's refusal, which has no code, is
        left as it was.)"""
        await self.io.send_input({"type": "websocket.connect"})
        answer = await self.io.receive_output(DEADLINE_S)
        accepted = answer["type"] == "websocket.accept"
        if not accepted and answer.get("code") is not None:  # one of our consumers
            await self.close()
        return accepted, answer.get("code")

    async def send(self, message: dict) -> None:
        await self.io.send_input({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self, timeout=DEADLINE_S) -> dict:
        answer = await self.io.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def events_until(self, done) -> list[dict]:
        """Messages until `done(messages)` holds (or the deadline passes)."""
        messages: list[dict] = []
        end = time.monotonic() + DEADLINE_S
        while not done(messages):
            left = end - time.monotonic()
            assert left > 0, f"condition not met; got {messages}"
            messages.append(await self.receive(left))
        return messages

    async def nothing_pending(self) -> bool:
        return await self.io.receive_nothing(timeout=0.5)

    async def close(self) -> None:
        await self.io.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.io.wait(DEADLINE_S)


def events_of(messages: list[dict]) -> list[dict]:
    return [e for m in messages if m["type"] == "events" for e in m["events"]]


def last_step(messages: list[dict], run: str, key: str) -> int:
    steps = [
        e["steps"][key]
        for e in events_of(messages)
        if e["run"] == run and key in e.get("steps", {})
    ]
    return max(steps, default=-1)


def log(client, uid: str, steps: range):
    points = [["loss", s, 1.0 / (s + 1), T0 + s] for s in steps]
    response = ingest(client, uid, {"points": points})
    assert response.status_code == 200 and response.json()["accepted"] == len(points)


async def test_member_receives_project_events(project, member_user):
    socket = Socket(session=await sync_to_async(session_of)(member_user))
    assert (await socket.connect())[0]
    api = await sync_to_async(client_for)(member_user)
    created = await sync_to_async(post_json)(api, f"{P}/runs", {"id": "live1", "group": "g"})
    assert created.status_code == 201
    await sync_to_async(log)(api, "live1", range(3))
    finished = await sync_to_async(post_json)(api, run_url("live1", "/finish"), {"exit_code": 0})
    assert finished.status_code == 200

    messages = await socket.events_until(
        lambda ms: any(e["type"] == "state" and e["state"] == "finished" for e in events_of(ms))
    )
    events = events_of(messages)
    assert {e["type"] for e in events} >= {"created", "ingest", "state"}
    new = next(e for e in events if e["type"] == "created")
    assert new["run"] == "live1" and new["group"] == "g" and new["state"] == "running"
    ingested = [e for e in events if e["type"] == "ingest"]
    assert ingested[-1]["steps"] == {"loss": 2} and ingested[-1]["summary"]["loss"] == 1 / 3
    final = next(e for e in events if e["type"] == "state")
    assert final["exit_code"] == 0 and final["runtime"] >= 0 and final["finished_at"]
    await socket.close()


async def test_other_team_cannot_subscribe_and_receives_nothing(
    project, member_user, other_team, other_admin
):
    outsider = Socket(session=await sync_to_async(session_of)(other_admin))
    assert await outsider.connect() == (False, 4404)
    assert await Socket().connect() == (False, 4401)  # anonymous, team project
    missing = Socket("/ws/teams/team-a/projects/nope/events", session=None)
    assert (await missing.connect())[0] is False
    # Team B's own project of the same name: its socket hears nothing of team A's runs.
    await sync_to_async(make_project)(other_team, "resnet", actor=other_admin)
    own = Socket(
        "/ws/teams/team-b/projects/resnet/events",
        session=await sync_to_async(session_of)(other_admin),
    )
    assert (await own.connect())[0]
    api = await sync_to_async(client_for)(member_user)
    await sync_to_async(post_json)(api, f"{P}/runs", {"id": "secret"})
    await sync_to_async(log)(api, "secret", range(2))
    # A member's socket sees the events, so they were published; team B's did not get them.
    member = Socket(session=await sync_to_async(session_of)(member_user))
    assert (await member.connect())[0]
    await sync_to_async(log)(api, "secret", range(2, 4))
    await member.events_until(lambda ms: last_step(ms, "secret", "loss") == 3)
    assert await own.nothing_pending()
    await member.close()
    await own.close()


async def test_anyone_may_watch_a_public_project(
    team, project, admin_user, member_user, other_admin
):
    await sync_to_async(project_services.project_update)(
        project=project, actor=admin_user, visibility="public"
    )
    anonymous = Socket()
    stranger = Socket(session=await sync_to_async(session_of)(other_admin))
    assert (await anonymous.connect())[0]
    assert (await stranger.connect())[0]
    api = await sync_to_async(client_for)(member_user)
    await sync_to_async(post_json)(api, f"{P}/runs", {"id": "open1"})
    await sync_to_async(log)(api, "open1", range(5))
    for socket in (anonymous, stranger):
        await socket.events_until(lambda ms: last_step(ms, "open1", "loss") == 4)
        await socket.close()


async def test_a_foreign_origin_is_refused_on_every_route(project, member_user):
    api = await sync_to_async(client_for)(member_user)
    await sync_to_async(post_json)(api, f"{P}/runs", {"id": "run1"})
    session = await sync_to_async(session_of)(member_user)
    run_path = "/ws/teams/team-a/projects/resnet/runs/run1"
    for path in (EVENTS, run_path):
        for origin in ("http://evil.example", "http://testserver.evil.example", "null"):
            refused = Socket(path, session=session, origin=origin)
            # Closed before accept by the origin check (the consumers close with 44xx).
            assert await refused.connect() == (False, None), (path, origin)
        same = Socket(path, session=session)
        assert (await same.connect())[0]
        await same.close()
        no_origin = Socket(path, session=session, origin=None)  # not a browser
        assert (await no_origin.connect())[0]
        await no_origin.close()


async def test_reconnecting_client_catches_up_with_nothing_missed_or_doubled(project, member_user):
    session = await sync_to_async(session_of)(member_user)
    api = await sync_to_async(client_for)(member_user)
    await sync_to_async(post_json)(api, f"{P}/runs", {"id": "r1"})

    first = Socket(session=session)
    assert (await first.connect())[0]
    await sync_to_async(log)(api, "r1", range(5))
    seen = last_step(
        await first.events_until(lambda ms: last_step(ms, "r1", "loss") == 4), "r1", "loss"
    )
    await first.close()

    # Logged while the client is away, and (below) while it is catching up.
    await sync_to_async(log)(api, "r1", range(5, 10))
    await sync_to_async(post_json)(api, f"{P}/runs", {"id": "r2"})

    second = Socket(session=session)
    assert (await second.connect())[0]
    await second.send(
        {"type": "resume", "since": {"r1": seen}, "updated_after": time.time() - 3600}
    )
    await sync_to_async(log)(api, "r1", range(10, 15))
    messages = await second.events_until(
        lambda ms: max(_catchup_last(ms), last_step(ms, "r1", "loss")) == 14
    )
    catchup = next(m for m in messages if m["type"] == "catchup")
    runs = {r["run"]: r for r in catchup["runs"]}
    assert set(runs) == {"r1", "r2"}  # r2 was created while the client was away
    assert runs["r1"]["steps"]["loss"]["after"] == seen == 4
    # The announced ranges (after, last] then each later step tile 5..14 exactly: every
    # step is covered once, none twice.
    # (On a slow box a step may also come in a later catch-up: the consumer's reconcile.)
    announced = [runs["r1"]["steps"]["loss"]["last"]]
    for m in messages[messages.index(catchup) + 1 :]:
        if m["type"] == "events":
            found = [e["steps"] for e in m["events"] if e["run"] == "r1"]
            announced += [steps["loss"] for steps in found if "loss" in steps]
        elif m["type"] == "catchup":
            found = [r["steps"] for r in m["runs"] if r["run"] == "r1"]
            announced += [steps["loss"]["last"] for steps in found if "loss" in steps]
    assert announced == sorted(set(announced)) and announced[-1] == 14
    before = [m for m in messages[: messages.index(catchup)] if m["type"] == "events"]
    assert before == []  # nothing delivered ahead of the catch-up on this connection
    # What the client fetches for the announced ranges is exactly what it missed.
    history = await sync_to_async(api.get)(run_url("r1", "/scan?keys=loss&min_step=5&max_step=14"))
    assert [row["_step"] for row in history.json()["rows"]] == list(range(5, 15))
    await second.close()


def _catchup_last(messages: list[dict]) -> int:
    return max(
        (
            run["steps"]["loss"]["last"]
            for m in messages
            if m["type"] == "catchup"
            for run in m["runs"]
            if run["run"] == "r1" and "loss" in run["steps"]
        ),
        default=-1,
    )


async def test_resume_rejects_bad_input(project, member_user):
    socket = Socket(session=await sync_to_async(session_of)(member_user))
    assert (await socket.connect())[0]
    for bad in (
        {"type": "resume", "since": {"r1": "x"}},
        {"type": "resume", "since": [1]},
        {"type": "resume", "since": {}, "updated_after": "yesterday"},
        {"type": "write", "run": "r1"},
    ):
        await socket.send(bad)
        answer = await socket.receive()
        assert answer["type"] == "error" and answer["code"] == "invalid"
    await socket.send({"type": "resume", "since": {"unknown": 3}})
    assert await socket.receive() == {"type": "catchup", "runs": []}
    await socket.close()
