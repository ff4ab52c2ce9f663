"""WebSocket consumers (DESIGN.md §6): they only subscribe, never write.

Guarantees: a connection is accepted only after `apps.core.access.open_scope` (the same
policy table and membership rules as HTTP) admits the user for the route, and the run is
found through the same team-scoped selector as the HTTP API; otherwise the socket is
closed with 4401 / 4403 / 4404. Group names come from apps.realtime.groups only.
Events are coalesced: at most one message per COALESCE_S per subscription, merging the
steps and summary values of the events in between.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.access import NotAuthenticated, open_scope
from apps.core.errors import DomainError, NotFound
from apps.realtime import groups
from apps.realtime.events import merge

COALESCE_S = 0.1  # <= 10 messages per second per subscription


class RunEventsConsumer(AsyncJsonWebsocketConsumer):
    route_name = "ws:run-events"

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        try:
            group = await database_sync_to_async(self._authorize)(kwargs)
        except NotAuthenticated:
            await self.close(code=4401)
            return
        except DomainError as exc:
            await self.close(code=4404 if isinstance(exc, NotFound) else 4403)
            return
        self.group = group
        self.pending: dict | None = None
        self.flusher: asyncio.Task | None = None
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    def _authorize(self, kwargs) -> str:
        from apps.runs.selectors.runs import run_get

        scope = open_scope(
            route_name=self.route_name,
            method="WS",
            user=self.scope.get("user"),
            team_slug=kwargs.get("team"),
            project_name=kwargs.get("project"),
        )
        run = run_get(scope.team, scope.project, kwargs["run"])
        return groups.run_group(scope.team.pk, run.pk)

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if getattr(self, "flusher", None):
            self.flusher.cancel()

    async def receive_json(self, content, **kwargs):
        """Subscribers do not write."""

    async def run_event(self, message):
        self.pending = merge(self.pending, message["event"])
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self):
        # Send now, then whatever gathered during the next COALESCE_S as one message.
        while self.pending is not None:
            message, self.pending = self.pending, None
            await self.send_json(message)
            await asyncio.sleep(COALESCE_S)
