"""Live comments of one object (subscribe only, DESIGN.md §6).

Guarantees: a connection is accepted only after `apps.core.access.open_scope` admits the
user for the route (the same policy entry kinds as the comment API's list route) and the
target is found through apps.comments.targets.resolve, i.e. the target's own selector in
the URL's team and project; otherwise it is closed with 4401 / 4403 / 4404. Messages
carry ids only (`{"type": "comment.created", "comment": 12, "parent": null}`): the page
then reads the comment through the API with its own rights.
"""

from __future__ import annotations

from apps.comments import targets
from apps.comments.api_views import TARGET_KWARGS
from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer


class CommentEventsConsumer(SubscriberConsumer):
    kind = ""
    route_name = ""

    async def connect(self):
        group = await self.admit(self._authorize)
        if group is not None:
            await self.join(group)
            await self.accept()

    def _authorize(self) -> str:
        scope = self.open_route_scope()
        kwargs = self.scope["url_route"]["kwargs"]
        target = targets.resolve(
            scope, self.kind, {k: v for k, v in kwargs.items() if k in TARGET_KWARGS}
        )
        return groups.comments_group(scope.team.pk, target.kind, target.pk)


def consumer_for(kind: str, route_name: str):
    return type(
        f"{kind.title()}CommentEvents",
        (CommentEventsConsumer,),
        {"kind": kind, "route_name": route_name},
    )
