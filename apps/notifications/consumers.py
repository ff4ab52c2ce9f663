"""The signed-in user's notifications, live (subscribe only).

Guarantees: only a signed-in user is accepted (open_scope with the `user` route
`ws:notifications`; 4401 otherwise), and the only group joined is that user's own
(groups.user_notifications_group(user.pk)): nobody hears another user's notifications.
Messages: `{"type": "notification", "notification": {...}}` as the API lists them.
"""

from __future__ import annotations

from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer


class NotificationsConsumer(SubscriberConsumer):
    route_name = "ws:notifications"

    async def connect(self):
        if await self.admit(self._authorize):
            await self.join(groups.user_notifications_group(self.scope["user"].pk))
            await self.accept()

    def _authorize(self) -> bool:
        self.open_route_scope()
        return True
