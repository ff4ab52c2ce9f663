"""The base of every live-event consumer: a failing channel layer closes the socket
cleanly instead of crashing the ASGI application.

Guarantees: a channel-layer failure (Redis refusing or dropping connections, a Redis
that does not answer within LAYER_TIMEOUT_S, a full channel) while joining or leaving a
group or while waiting for the next event never escapes as an unhandled exception
("Exception in ASGI application"). It is logged once at WARNING with the socket's path,
and the socket is closed with 1013 (Try Again Later): clients reconnect with back-off
and catch up from the database (DESIGN.md §6). Joining and leaving a group through
`join` / `leave` are bounded by LAYER_TIMEOUT_S.

Admission (`admit`): a consumer's sync `authorize` opens the route's scope
(`open_route_scope`: the same policy table and membership rules as HTTP) and finds what
the URL names; a refusal closes the socket with 4401 (not signed in), 4404 (not found,
another team's object included) or 4403 (not allowed, or the team requires SSO and this
session did not sign in through its IdP) before anything is joined.

Not guaranteed: events published while the layer was down are not delivered (the data
is stored; the client's catch-up reads it). Other exceptions (bugs) still propagate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from apps.core.access import NotAuthenticated, open_scope
from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.sso.enforcement import socket_satisfies

logger = logging.getLogger(__name__)

LAYER_TIMEOUT_S = 5.0
CLOSE_TRY_AGAIN_LATER = 1013
# What channels-redis raises when Redis is unreachable or slow (TimeoutError, from
# asyncio.wait_for too, is an OSError), and what any layer raises when a channel is full.
LAYER_ERRORS = (RedisError, OSError, ChannelFull)


CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class SubscriberConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses set `route_name`, admit the connection with `await self.admit(...)`,
    join their groups with `await self.join(group)` (left again on disconnect) and
    otherwise behave like any AsyncJsonWebsocketConsumer. Subscribers never write:
    client messages are ignored unless a subclass understands one."""

    route_name = ""

    def open_route_scope(self):
        """The scope of this route for the connecting user and the URL's team/project,
        under the team's require-SSO policy as its pages are (apps.sso.enforcement)."""
        kwargs = self.scope["url_route"]["kwargs"]
        user = self.scope.get("user")
        scope = open_scope(
            route_name=self.route_name,
            method="WS",
            user=user,
            team_slug=kwargs.get("team"),
            project_name=kwargs.get("project"),
        )
        team_slug = kwargs.get("team")
        if (
            team_slug
            and user is not None
            and user.is_authenticated
            and not socket_satisfies(self.scope.get("session"), user, team_slug)
        ):
            raise PermissionDenied(
                f"Team {team_slug!r} requires signing in through its identity provider.",
                code="sso_required",
            )
        return scope

    async def admit(self, authorize: Callable[[], Any]) -> Any | None:
        """`authorize()` in a database thread; its result, or None once a refusal has
        closed the socket (4401 / 4404 / 4403)."""
        try:
            return await database_sync_to_async(authorize)()
        except NotAuthenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
        return None

    async def receive_json(self, content, **kwargs):
        """Subscribers do not write."""

    async def run_event(self, message):  # apps.realtime.events sends "run.event" messages
        await self.send_json(message["event"])

    async def __call__(self, scope, receive, send):
        self.joined: list[str] = []
        try:
            await super().__call__(scope, receive, send)
        except LAYER_ERRORS as exc:
            logger.warning(
                "live events: channel layer failed on %s (%s: %s); closing with %d",
                scope.get("path", "?"),
                type(exc).__name__,
                exc,
                CLOSE_TRY_AGAIN_LATER,
            )
            await self._leave_all()
            try:
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            except Exception:
                logger.debug("close after a channel-layer failure not sent", exc_info=True)

    async def join(self, group: str) -> None:
        await asyncio.wait_for(
            self.channel_layer.group_add(group, self.channel_name), LAYER_TIMEOUT_S
        )
        self.joined.append(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            self.joined.remove(group)
            await asyncio.wait_for(
                self.channel_layer.group_discard(group, self.channel_name), LAYER_TIMEOUT_S
            )

    async def websocket_disconnect(self, message):
        await self._leave_all()
        await super().websocket_disconnect(message)

    async def _leave_all(self) -> None:
        """Best effort: a membership left behind expires with the layer's group expiry."""
        for group in list(self.joined):
            try:
                await self.leave(group)
            except LAYER_ERRORS as exc:
                logger.warning("live events: leaving %s failed (%s)", group, exc)
