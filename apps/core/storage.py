"""Removing stored files (run files, artifact blobs) once the rows naming them are gone."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.storage import default_storage
from django.db import transaction

logger = logging.getLogger(__name__)


def delete_stored(names: Iterable[str]) -> None:
    """Best effort: a file that cannot be removed is logged, never raised (its row is
    already gone, so retrying the request would not find it again)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)


def delete_stored_on_commit(names: Iterable[str]) -> None:
    """Delete `names` after the current transaction commits (never if it rolls back)."""
    names = list(names)
    if names:
        transaction.on_commit(lambda: delete_stored(names))
