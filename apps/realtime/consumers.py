"""WebSocket consumers (DESIGN.md §6): they only subscribe, never write.

Guarantees: a connection is accepted only after `apps.core.access.open_scope` (the same
policy table and membership rules as HTTP) admits the user for the route, and the run is
found through the same team-scoped selector as the HTTP API; otherwise the socket is
closed with 4401 / 4403 / 4404. Group names come from apps.realtime.groups only.
Events are coalesced (CoalescingSubscriber): at most one delivery per COALESCE_S per
subscription, the events in between merged per run and type (steps, summary values).
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from apps.realtime import groups
from apps.realtime.base import SubscriberConsumer
from apps.realtime.events import PendingEvents

COALESCE_S = 0.1  # <= 10 messages per second per subscription
# While events flow, a project subscription compares what it announced with the database
# this often (ProjectEventsConsumer._reconcile); a step still unannounced after a whole
# round was lost by the channel layer, not late.
RECONCILE_S = 2.0


class CoalescingSubscriber(SubscriberConsumer):
    """Coalescing shared by the live-event consumers: the first event is delivered at
    once, then whatever gathered during the next COALESCE_S, merged per run and type
    (PendingEvents), in one `deliver` call. Subclasses call `start_coalescing()` before
    joining their group, implement `deliver(events)`, and may set `holding` to keep
    events pending (then call `schedule()` when they release them)."""

    holding = False

    def start_coalescing(self) -> None:
        self.pending = PendingEvents()
        self.flusher: asyncio.Task | None = None

    async def deliver(self, events: list[dict]) -> None:
        raise NotImplementedError

    async def disconnect(self, code):
        # SubscriberConsumer leaves the group.
        for task in (getattr(self, "flusher", None), getattr(self, "reconciler", None)):
            if task:
                task.cancel()

    async def run_event(self, message):
        self.pending.add(message["event"])
        self.schedule()
        self.heard(message["event"])

    def heard(self, event: dict) -> None:
        """Called for every event received (subclasses may follow them)."""

    def schedule(self) -> None:
        if self.pending and not self.holding and (self.flusher is None or self.flusher.done()):
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self):
        # Send now, then whatever gathered during the next COALESCE_S.
        while self.pending and not self.holding:
            await self.deliver(self.pending.take())
            await asyncio.sleep(COALESCE_S)


class RunEventsConsumer(CoalescingSubscriber):
    """One run's live events, one event per message: at most one event of each type
    per COALESCE_S (an ingest and a state change in the same window both arrive)."""

    route_name = "ws:run-events"

    async def connect(self):
        group = await self.admit(self._authorize)
        if group is None:
            return
        self.group = group
        self.start_coalescing()
        await self.join(group)
        await self.accept()

    def _authorize(self) -> str:
        from apps.runs.selectors.runs import run_get

        scope = self.open_route_scope()
        run = run_get(scope.team, scope.project, self.scope["url_route"]["kwargs"]["run"])
        return groups.run_group(scope.team.pk, run.pk)

    async def deliver(self, events: list[dict]) -> None:
        for event in events:
            await self.send_json(event)


MAX_RESUME_RUNS = 1000


class ProjectEventsConsumer(CoalescingSubscriber):
    """Live events of every run of a project (the workspace's runs table and charts).

    Admission as for runs: `open_scope` for `ws:project-events` with the URL's team and
    project (members, and anyone on a public project; 4401 / 4403 / 4404 otherwise).

    Messages, at most one per COALESCE_S: `{"type": "events", "events": [...]}`, each
    event the merge of that run's events of one type since the previous message
    (`created`, `updated`, `state`, `heartbeat`, `ingest`). A client that reconnects
    sends `{"type": "resume", "since": {"<run>": <last step seen>}, "updated_after": t}`
    and gets one `{"type": "catchup", "runs": [...]}` read from the database; from then
    on an ingest event reports a key's step only when it is past what this connection
    already reported (catch-up included), so steps are neither missed (the group is
    joined before the database is read) nor doubled. docs/api.md has the protocol.

    Channel layers deliver at most once (channels-redis drops messages for a channel
    already holding `capacity`, e.g. while this process is busy), and a lost last event
    of a run would leave its last steps unannounced. So while events arrive, every
    RECONCILE_S the consumer reads the last stored step of each run and key it has
    announced (and each such run's state) and sends `{"type": "catchup", "runs": [...]}`
    for those still behind the database after a whole round (events merely in flight
    arrive within it). Guaranteed: every step stored for a (run, key) this connection
    has announced once is announced, at most 2 * RECONCILE_S after the flow of events
    stops, never twice. Not covered: runs whose every event was lost (the client sees
    them on its next reload or resume).
    """

    route_name = "ws:project-events"

    async def connect(self):
        admitted = await self.admit(self._authorize)
        if admitted is None:
            return
        self.team, self.project = admitted
        self.group = groups.project_group(self.team.pk, self.project.pk)
        self.start_coalescing()
        self.reported: dict[str, dict[str, int]] = {}  # run -> key -> last step reported
        self.floor: dict[str, int] = {}  # run -> the step the client said it had seen
        self.states: dict[str, str] = {}  # run -> last state announced
        self.behind: dict[str, dict] = {}  # run -> what the last reconcile found unannounced
        self.heard_since_reconcile = False
        self.reconciler: asyncio.Task | None = None
        self.sending = asyncio.Lock()  # the flusher and a reconcile send one at a time
        await self.join(self.group)
        await self.accept()

    def _authorize(self):
        scope = self.open_route_scope()
        return scope.team, scope.project

    async def receive_json(self, content, **kwargs):
        """The only client message: resume. Subscribers never write."""
        if not isinstance(content, dict) or content.get("type") != "resume":
            await self.send_json(_error("Only {'type': 'resume', ...} is understood."))
            return
        since = content.get("since") or {}
        updated_after = content.get("updated_after")
        if (
            not isinstance(since, dict)
            or len(since) > MAX_RESUME_RUNS
            or not all(isinstance(k, str) and type(v) is int and v >= -1 for k, v in since.items())
        ):
            await self.send_json(
                _error(f"since maps at most {MAX_RESUME_RUNS} run ids to steps (>= -1).")
            )
            return
        if updated_after is not None and (
            isinstance(updated_after, bool) or not isinstance(updated_after, int | float)
        ):
            await self.send_json(_error("updated_after is Unix seconds."))
            return
        # Channels handles this connection's messages one at a time, so no live event is
        # taken in while the database is read; the flusher holds what is pending.
        self.holding = True  # live events wait in `pending` until the catch-up is sent
        try:
            runs = await database_sync_to_async(self._catch_up)(since, updated_after)
            for run in runs:
                uid = run["run"]
                reported = self.reported.setdefault(uid, {})
                self.floor[uid] = max(self.floor.get(uid, -1), run["since"])
                steps = {}
                for key, last in run["steps"].items():
                    after = max(self.floor[uid], reported.get(key, -1))
                    if last > after:
                        steps[key] = {"after": after, "last": last}
                        reported[key] = last
                run["steps"] = steps
                self.states[uid] = run["state"]
            async with self.sending:
                await self.send_json({"type": "catchup", "runs": runs})
        finally:
            self.holding = False
        self.schedule()

    def _catch_up(self, since, updated_after):
        from apps.runs.selectors.runs import runs_catch_up

        return runs_catch_up(self.team, self.project, since=since, updated_after=updated_after)

    def _unreported(self, event: dict) -> dict | None:
        """An ingest event keeps only the steps past what was reported for its run's
        keys; None when nothing new is left (everything was in a catch-up already)."""
        if event.get("type") != "ingest" or not event.get("steps"):
            return event
        reported = self.reported.setdefault(event["run"], {})
        floor = self.floor.get(event["run"], -1)
        steps = {}
        for key, step in event["steps"].items():
            if step > max(floor, reported.get(key, -1)):
                steps[key] = step
                reported[key] = step
        if not steps and not event.get("console"):
            return None
        return {**event, "steps": steps}

    async def deliver(self, events: list[dict]) -> None:
        events = [e for e in map(self._unreported, events) if e is not None]
        for event in events:
            if event.get("state"):
                self.states[event["run"]] = event["state"]
        if events:
            async with self.sending:
                await self.send_json({"type": "events", "events": events})

    # -- reconciliation with the database (see the class docstring) ---------------------

    def heard(self, event: dict) -> None:
        self.heard_since_reconcile = True
        if self.reconciler is None or self.reconciler.done():
            self.reconciler = asyncio.create_task(self._reconcile_while_active())

    async def _reconcile_while_active(self) -> None:
        # A round follows every event heard (the database then holds what a lost event
        # announced: events are published after commit), and rounds go on while the
        # last one found something behind (to confirm it is lost, not in flight).
        while self.heard_since_reconcile or self.behind:
            self.heard_since_reconcile = False
            await asyncio.sleep(RECONCILE_S)
            await self._reconcile()

    def _followed(self) -> dict[str, int]:
        """run -> the lowest step announced over its keys (the catch-up's `since`)."""
        runs = {uid: min(keys.values(), default=-1) for uid, keys in self.reported.items()}
        for uid in self.states:
            runs.setdefault(uid, -1)
        return dict(list(runs.items())[:MAX_RESUME_RUNS])

    async def _reconcile(self) -> None:
        followed = self._followed()
        if not followed:
            return
        runs = await database_sync_to_async(self._catch_up)(followed, None)
        # From here to taking the send lock nothing awaits, as in `deliver`: what a
        # message announces is marked in `reported` and sent in that order (the lock is
        # FIFO), so no step goes out twice and none out of order.
        behind, lost = {}, []
        for run in runs:
            uid = run["run"]
            reported = self.reported.get(uid, {})
            steps = {
                key: last
                for key, last in run["steps"].items()
                if key in reported and last > reported[key]
            }
            changed = uid in self.states and run["state"] != self.states[uid]
            state = run["state"] if changed else None
            if not steps and state is None:
                continue
            before = self.behind.get(uid, {})
            # Lost: behind in this round and the previous one, whatever arrived between.
            lost_steps = {
                key: {"after": reported[key], "last": last}
                for key, last in steps.items()
                if key in before.get("steps", {})
            }
            lost_state = state is not None and before.get("state") == state
            if lost_steps or lost_state:
                for key, announced in lost_steps.items():
                    reported[key] = announced["last"]
                self.states[uid] = run["state"]
                lost.append({**run, "since": followed[uid], "steps": lost_steps})
            remaining = {key: last for key, last in steps.items() if key not in lost_steps}
            if remaining or (state is not None and not lost_state):
                behind[uid] = {"steps": remaining, "state": None if lost_state else state}
        self.behind = behind
        if lost:
            async with self.sending:
                await self.send_json({"type": "catchup", "runs": lost})


def _error(message: str) -> dict:
    return {"type": "error", "code": "invalid", "message": message}
