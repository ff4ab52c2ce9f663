"""A monitor's live events (ws:monitor-events): the monitor page hears that predictions or
ground truth were stored and re-reads its window metrics, instead of polling."""

from __future__ import annotations

from apps.monitoring import selectors
from apps.realtime import groups
from apps.realtime.consumers import CoalescingSubscriber


class MonitorEventsConsumer(CoalescingSubscriber):
    """`{"type": "windows", "events": [{"type": "predictions" | "ground_truth",
    "accepted": n}]}`, at most one message per COALESCE_S (counts summed meanwhile)."""

    route_name = "ws:monitor-events"

    async def connect(self):
        monitor = await self.admit(self._authorize)
        if monitor is None:
            return
        self.start_coalescing()
        await self.join(groups.monitor_group(monitor.team_id, monitor.pk))
        await self.accept()

    def _authorize(self):
        scope = self.open_route_scope()
        return selectors.monitor_get(scope.team, self.scope["url_route"]["kwargs"]["monitor"])

    async def deliver(self, events: list[dict]) -> None:
        await self.send_json({"type": "windows", "events": events})
