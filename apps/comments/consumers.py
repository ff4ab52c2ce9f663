"""Live comments of one object (subscribe only, DESIGN.md §6).

Guarantees: a connection is accepted only after `apps.core.access.open_scope` admits the
user for the route (the same policy entry kinds as the comment API's list route) and the
target is found through apps.comments.targets.resolve, i.e. the target's own selector in
the URL's team and project; otherwise it is closed with 4401 / 4403 / 4404. Messages
carry ids only (`{"type": "comment.created", "comment": 12, "parent": null}`): the page
then reads the comment through the API with its own rights.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from apps.comments import targets
from apps.comments.api_views import TARGET_KWARGS
from apps.core.access import NotAuthenticated, open_scope
from apps.core.errors import DomainError, NotFound
from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer


class CommentEventsConsumer(SubscriberConsumer):
    kind = ""
    route_name = ""

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
        await self.join(group)
        await self.accept()

    def _authorize(self, kwargs) -> str:
        scope = open_scope(
            route_name=self.route_name,
            method="WS",
            user=self.scope.get("user"),
            team_slug=kwargs.get("team"),
            project_name=kwargs.get("project"),
        )
        target = targets.resolve(
            scope, self.kind, {k: v for k, v in kwargs.items() if k in TARGET_KWARGS}
        )
        return groups.comments_group(scope.team.pk, target.kind, target.pk)

    async def receive_json(self, content, **kwargs):
        """Subscribers do not write."""

    async def run_event(self, message):  # apps.realtime.events sends "run.event" messages
        await self.send_json(message["event"])


def consumer_for(kind: str, route_name: str):
    return type(
        f"{kind.title()}CommentEvents",
        (CommentEventsConsumer,),
        {"kind": kind, "route_name": route_name},
    )
