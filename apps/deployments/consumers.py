"""Live events and logs of one deployment (subscribe only).

Guarantees: admitted like the deployment's API GET (`ws:deployment-events` in the
policy table: a member of the URL's team with artifacts:read; another team's
deployment or a missing one closes with 4404); the only group joined is that
deployment's (groups.deployment_group). Messages: `{"type": "event", "event": {...}}`
as GET …/events lists them, plus the deployment's `state`. A client that reconnects
catches up with GET …/events?after=<last id>."""

from __future__ import annotations

from apps.deployments import selectors
from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer


class DeploymentEventsConsumer(SubscriberConsumer):
    route_name = "ws:deployment-events"

    async def connect(self):
        deployment = await self.admit(self._authorize)
        if deployment is not None:
            await self.join(groups.deployment_group(deployment.team_id, deployment.pk))
            await self.accept()

    def _authorize(self):
        scope = self.open_route_scope()
        deployment_id = self.scope["url_route"]["kwargs"]["deployment_id"]
        return selectors.deployment_get(scope.team, deployment_id)

    async def deployment_event(self, message):
        await self.send_json({"type": "event", "event": message["event"]})
