"""ws:monitor-events on the real ASGI app: a member (and a viewer) with a session hears
that predictions and ground truth were stored, with their counts, once committed; a
batch with nothing new says nothing; team B's admin naming team A's monitor, in either
team's URL, is refused as not found (4404); API keys do not open the socket (4401)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.factories import make_key
from tests.monitoring.conftest import M, post_json
from tests.monitoring.test_ingest import record
from tests.realtime.test_project_events import Socket, session_of
from tests.realtime.test_run_socket_access import KeySocket

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/teams/team-a/monitors/fraud-prod/events"


def counts(messages: list[dict]) -> dict:
    """Accepted rows per event type over the messages."""
    total: dict = {}
    for message in messages:
        assert message["type"] == "windows", message
        for event in message["events"]:
            assert event["monitor"] == "fraud-prod"
            total[event["type"]] = total.get(event["type"], 0) + event["accepted"]
    return total


async def test_member_and_viewer_hear_stored_predictions_and_truth(
    monitor, admin_api, member_user, viewer_user
):
    sockets = [
        Socket(PATH, session=await sync_to_async(session_of)(user))
        for user in (member_user, viewer_user)
    ]
    for socket in sockets:
        assert (await socket.connect())[0]
    batch = [record(i) for i in range(5)]
    logged = await sync_to_async(post_json)(admin_api, f"{M}/fraud-prod/predictions", batch)
    assert logged.status_code == 200 and logged.json()["accepted"] == 5
    truth = [{"id": f"p{i}", "target": i % 2} for i in range(3)]
    joined = await sync_to_async(post_json)(admin_api, f"{M}/fraud-prod/ground-truth", truth)
    assert joined.status_code == 200 and joined.json()["accepted"] == 3
    for socket in sockets:
        messages = await socket.events_until(
            lambda ms: counts(ms) == {"predictions": 5, "ground_truth": 3}
        )
        assert counts(messages) == {"predictions": 5, "ground_truth": 3}

    # The same batch again stores nothing new (duplicates): no event.
    again = await sync_to_async(post_json)(admin_api, f"{M}/fraud-prod/predictions", batch)
    assert again.json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    for socket in sockets:
        assert await socket.nothing_pending()
        await socket.close()


async def test_team_b_naming_team_a_monitor_is_not_found(monitor, other_team, other_admin):
    outsider = await sync_to_async(session_of)(other_admin)
    for path in (PATH, "/ws/teams/team-b/monitors/fraud-prod/events"):
        assert await Socket(path, session=outsider).connect() == (False, 4404), path


async def test_api_keys_do_not_open_the_socket(monitor, admin_user, other_admin):
    for user in (admin_user, other_admin):
        key = await sync_to_async(make_key)(user)
        assert await KeySocket(PATH, key).connect() == (False, 4401), user.email
