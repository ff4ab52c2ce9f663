"""A failing channel layer closes live-event sockets cleanly (1013, a warning in the log)
instead of crashing the ASGI application: a real redis-server that is stopped while a
socket listens, a port with nothing listening, and a Redis that never answers."""

from __future__ import annotations

import logging
import socket
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from apps.realtime import groups
from apps.realtime.base import CLOSE_TRY_AGAIN_LATER
from tests.ports import free_port
from tests.realtime.test_run_events import Socket
from tests.runs.conftest import make_run


def _use_redis(settings, port: int) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }


@pytest.fixture
def redis_process(tmp_path):
    """A redis-server of this test's own, on a free port; the test may stop it."""
    port = free_port()
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "redis did not start"
        time.sleep(0.05)
    yield port, process
    if process.poll() is None:
        process.terminate()
        process.wait(10)


def _closed_cleanly(caplog) -> bool:
    return any(
        r.levelno == logging.WARNING and "channel layer failed" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.django_db(transaction=True)
async def test_redis_stopping_under_a_subscriber_closes_the_socket_with_1013(
    team, project, member_user, settings, redis_process, caplog
):
    port, redis = redis_process
    _use_redis(settings, port)
    run = await sync_to_async(make_run)(team, project, member_user)
    socket_ = Socket(member_user)
    assert (await socket_.connect())[0]
    # The real layer delivers while Redis is up.
    layer = get_channel_layer()
    event = {"type": "ingest", "run": run.uid, "steps": {"loss": 1}, "summary": {}}
    await layer.group_send(groups.run_group(team.pk, run.pk), {"type": "run.event", "event": event})
    assert (await socket_.receive_json())["steps"] == {"loss": 1}

    redis.terminate()
    await sync_to_async(redis.wait)(10)
    # The consumer's wait for the next event fails; it closes instead of raising (the
    # communicator would re-raise an exception that escaped the application).
    answer = await socket_.io.receive_output(60)
    assert answer == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
    await socket_.io.wait(10)
    assert _closed_cleanly(caplog)


@pytest.mark.django_db(transaction=True)
async def test_connecting_while_redis_is_down_is_refused_with_1013(
    team, project, member_user, settings, caplog
):
    _use_redis(settings, free_port())  # nothing listens there
    await sync_to_async(make_run)(team, project, member_user)
    socket_ = Socket(member_user)
    assert await socket_.connect() == (False, CLOSE_TRY_AGAIN_LATER)
    await socket_.io.wait(10)
    assert _closed_cleanly(caplog)


@pytest.mark.django_db(transaction=True)
async def test_a_redis_that_never_answers_is_given_up_on_with_1013(
    team, project, member_user, settings, caplog
):
    hole = socket.socket()  # accepts connections, never answers
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        _use_redis(settings, hole.getsockname()[1])
        await sync_to_async(make_run)(team, project, member_user)
        socket_ = Socket(member_user)
        await socket_.io.send_input({"type": "websocket.connect"})
        answer = await socket_.io.receive_output(60)
        assert answer == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
        await socket_.io.wait(10)
        assert _closed_cleanly(caplog)
    finally:
        hole.close()
