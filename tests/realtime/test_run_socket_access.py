"""Who may open a run's live-events socket (ws:run-events), through config.asgi as a
browser connects: team B's admin naming team A's run, in team A's URL and in team B's own
project URL, is refused as not found (4404, the same as a missing run); an API key in an
Authorization header does not authenticate the socket (sessions only: 4401), neither
team A's nor team B's; team A's member with a session is admitted."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.factories import make_key, make_project
from tests.realtime.test_project_events import Socket, session_of
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db(transaction=True)


def _path(team: str, project: str, run: str) -> str:
    return f"/ws/teams/{team}/projects/{project}/runs/{run}"


class KeySocket(Socket):
    """The same socket, authenticated only by `Authorization: Bearer <key>`."""

    def __init__(self, path, key: str):
        super().__init__(path)
        self.io.scope["headers"].append((b"authorization", f"Bearer {key}".encode()))


async def test_team_b_naming_team_a_run_is_not_found(
    team, project, member_user, other_team, other_admin
):
    run = await sync_to_async(make_run)(team, project, member_user)
    await sync_to_async(make_project)(other_team, "resnet", actor=other_admin)
    outsider = await sync_to_async(session_of)(other_admin)
    for path in (
        _path("team-a", "resnet", run.uid),  # team A's URL
        _path("team-b", "resnet", run.uid),  # team B's own project, team A's run id
    ):
        assert await Socket(path, session=outsider).connect() == (False, 4404), path
    member = await sync_to_async(session_of)(member_user)
    socket = Socket(_path("team-a", "resnet", run.uid), session=member)
    assert (await socket.connect())[0]
    await socket.close()


async def test_api_keys_do_not_open_the_socket(team, project, member_user, other_team, other_admin):
    run = await sync_to_async(make_run)(team, project, member_user)
    path = _path("team-a", "resnet", run.uid)
    for user in (member_user, other_admin):
        key = await sync_to_async(make_key)(user)
        assert await KeySocket(path, key).connect() == (False, 4401), user.email
