"""Publishing live events after commit (DESIGN.md §6).

Events are sent only once the transaction that produced them has committed, so a
subscriber never sees data that a rollback later removes. A failing channel layer is
logged and never fails the request: the data is stored; clients catch up on reconnect.

With the Redis channel layer, publishing never makes the request wait: events go to a
per-process publisher thread (its own event loop and Redis connections) that sends them
in order, merging consecutive ingest events of the same run while Redis is busy. A slow
or unreachable Redis therefore costs live updates, never ingest latency; when more than
MAX_QUEUED events wait, new ones are dropped (counted and logged). The in-memory layer
(no Redis configured) is not thread-safe across event loops, so there events are sent
on the caller's thread as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The consumer handler name Channels dispatches to ("run.event" -> run_event).
EVENT_TYPE = "run.event"
MAX_QUEUED = 10_000
SEND_TIMEOUT_S = 5.0  # a hung Redis delays live events by this much, never more


def merge(pending: dict | None, event: dict) -> dict:
    """Fold `event` into a pending one: latest state, max step per key, summary values,
    summed counts (used by the publisher and by each subscription's coalescing)."""
    if pending is None or pending.get("type") != event.get("type"):
        return {**event, "steps": dict(event.get("steps") or {})}
    merged = {**pending, **event}
    steps = dict(pending.get("steps") or {})
    for key, step in (event.get("steps") or {}).items():
        steps[key] = max(step, steps.get(key, step))
    merged["steps"] = steps
    merged["summary"] = {**(pending.get("summary") or {}), **(event.get("summary") or {})}
    merged["accepted"] = pending.get("accepted", 0) + event.get("accepted", 0)
    merged["console"] = pending.get("console", 0) + event.get("console", 0)
    return merged


class PendingEvents:
    """A subscription's events waiting for its next message: one merged event per run and
    type, in order of arrival. Merging per type means an `ingest` followed by a `state`
    change keeps both (`merge` of two different types keeps only the later one)."""

    def __init__(self):
        self._slots: dict[tuple, dict] = {}

    def add(self, event: dict) -> None:
        slot = (event.get("run"), event.get("type"))
        self._slots[slot] = merge(self._slots.get(slot), event)

    def take(self) -> list[dict]:
        """Everything pending, emptied."""
        events, self._slots = list(self._slots.values()), {}
        return events

    def __bool__(self) -> bool:
        return bool(self._slots)


async def _send(layer, groups: list[str], event: dict) -> None:
    message = {"type": EVENT_TYPE, "event": event}
    for group in groups:
        await layer.group_send(group, message)


class _Publisher:
    """A daemon thread per process that sends queued events in order."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._idle = threading.Condition()
        self._unsent = 0  # submitted, not yet sent (or failed)
        self.dropped = 0

    def submit(self, groups: list[str], event: dict) -> None:
        if self._queue.qsize() >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("live events dropped (publisher backlog): %d", self.dropped)
            return
        self._ensure_thread()
        with self._idle:
            self._unsent += 1
        self._queue.put((list(groups), event))

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != os.getpid():  # a forked child: the parent's queue is not ours
                self._queue = queue.SimpleQueue()
                self._idle = threading.Condition()
                self._unsent = 0
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="live-events", daemon=True)
            self._thread.start()

    def _take(self) -> tuple[list[tuple[list[str], dict]], int]:
        """The next item, plus what else is queued, consecutive ingest events of the same
        run merged into one (subscribers coalesce them anyway); and how many were taken."""
        items = [self._queue.get()]
        taken = 1
        while taken < 1000:
            try:
                groups, event = self._queue.get_nowait()
            except queue.Empty:
                break
            taken += 1
            last_groups, last = items[-1]
            if groups == last_groups and event.get("type") == last.get("type") == "ingest":
                items[-1] = (groups, merge(last, event))
            else:
                items.append((groups, event))
        return items, taken

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            items, taken = self._take()
            try:
                layer = get_channel_layer()
                for groups, event in items:
                    if layer is not None:
                        loop.run_until_complete(
                            asyncio.wait_for(_send(layer, groups, event), SEND_TIMEOUT_S)
                        )
            except Exception:  # live updates are best effort; the data is already stored
                logger.warning("live events for %s not published", items[0][0], exc_info=True)
            finally:
                with self._idle:
                    self._unsent -= taken
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once everything submitted so far was sent (or failed)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unsent <= 0, timeout)


publisher = _Publisher()


def publish(groups: list[str], event: dict) -> None:
    """Send `event` to every group (call after commit; see `publish_on_commit`)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if not isinstance(layer, InMemoryChannelLayer):
        publisher.submit(groups, event)
        return
    try:
        async_to_sync(_send)(layer, groups, event)
    except Exception:  # live updates are best effort; the data is already stored
        logger.warning("live event for %s not published", groups, exc_info=True)


def publish_on_commit(groups: list[str], event: dict) -> None:
    transaction.on_commit(lambda: publish(groups, event))
