"""The signed-in user's notifications, live (subscribe only).

Guarantees: only a signed-in user is accepted (open_scope with the `user` route
`ws:notifications`; 4401 otherwise), and the only group joined is that user's own
(groups.user_notifications_group(user.pk)): nobody hears another user's notifications.
Messages: `{"type": "notification", "notification": {...}}` as the API lists them.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from apps.core.access import NotAuthenticated, open_scope
from apps.core.errors import DomainError
from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer


class NotificationsConsumer(SubscriberConsumer):
    route_name = "ws:notifications"

    async def connect(self):
        user = self.scope.get("user")
        try:
            await database_sync_to_async(open_scope)(
                route_name=self.route_name, method="WS", user=user
            )
        except NotAuthenticated:
            await self.close(code=4401)
            return
        except DomainError:
            await self.close(code=4403)
            return
        await self.join(groups.user_notifications_group(user.pk))
        await self.accept()

    async def receive_json(self, content, **kwargs):
        """Subscribers do not write."""

    async def run_event(self, message):  # apps.realtime.events sends "run.event" messages
        await self.send_json(message["event"])
