"""Stored files (run files, artifact blobs): receiving an upload, and removing files once
the rows naming them are gone."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files.storage import default_storage
from django.db import transaction

from apps.core.errors import TooLarge

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


@dataclass
class Upload:
    spool: BinaryIO  # positioned at the start
    sha256: str
    size: int


@contextlib.contextmanager
def spooled_upload(stream: BinaryIO | None, limit: int) -> Iterator[Upload]:
    """The request body copied into a temporary spool (memory, then disk) and hashed on
    the way, never held whole in memory; 413 past `limit` bytes."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        while stream is not None:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"File exceeds {limit} bytes.", detail={"limit_bytes": limit})
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        yield Upload(spool, digest.hexdigest(), size)
