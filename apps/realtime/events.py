"""Publishing live events after commit (DESIGN.md §6).

Events are sent only once the transaction that produced them has committed, so a
subscriber never sees data that a rollback later removes. A failing channel layer is
logged and never fails the request: the data is stored; clients catch up on reconnect.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The consumer handler name Channels dispatches to ("run.event" -> run_event).
EVENT_TYPE = "run.event"


def publish(groups: list[str], event: dict) -> None:
    """Send `event` to every group now (call after commit; see `publish_on_commit`)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "event": event}
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # live updates are best effort; the data is already stored
        logger.warning("live event for %s not published", groups, exc_info=True)


def publish_on_commit(groups: list[str], event: dict) -> None:
    transaction.on_commit(lambda: publish(groups, event))
