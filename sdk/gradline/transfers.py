"""Parallel file transfers (artifact blobs up and down). One HTTP client per worker
thread: a requests.Session is not meant to be shared between threads.

Small files travel in tar bundles (docs/registry.md): one request per thousand files
instead of one per file. A server that answers a bundle route with 404 or 405 predates
it; the client that saw that remembers it and sends those files one by one."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gradline.transport import CommError, HttpClient

T = TypeVar("T")
WORKERS = 8
SMALL_FILE = 1024 * 1024  # below this a file goes in a bundle
BUNDLE_MEMBERS = 1_000
BUNDLE_BYTES = 32 * 1024 * 1024
ROUTE_ABSENT = frozenset({404, 405})

_absent_routes: weakref.WeakKeyDictionary[HttpClient, set[str]] = weakref.WeakKeyDictionary()
_absent_lock = threading.Lock()


def in_bundles(items: Iterable[T], size: Callable[[T], int]) -> list[list[T]]:
    """Consecutive groups of at most BUNDLE_MEMBERS items and BUNDLE_BYTES bytes."""
    bundles: list[list[T]] = []
    current: list[T] = []
    current_bytes = 0
    for item in items:
        item_bytes = size(item)
        if current and (
            len(current) >= BUNDLE_MEMBERS or current_bytes + item_bytes > BUNDLE_BYTES
        ):
            bundles.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += item_bytes
    if current:
        bundles.append(current)
    return bundles


def route_absent(client: HttpClient, route: str) -> bool:
    """Whether `client` already learnt that its server lacks this bundle route."""
    with _absent_lock:
        return route in _absent_routes.get(client, ())


def note_if_route_absent(client: HttpClient, route: str, exc: CommError) -> bool:
    """True (and remembered for `client`) when `exc` says the server lacks the route."""
    if exc.status not in ROUTE_ABSENT:
        return False
    with _absent_lock:
        _absent_routes.setdefault(client, set()).add(route)
    return True


def each_in_parallel(
    client: HttpClient, items: Iterable[T], work: Callable[[HttpClient, T], None]
) -> None:
    """Run `work(thread_client, item)` for every item on up to WORKERS threads; the
    first exception is raised once every started transfer has ended."""
    items = list(items)
    if len(items) <= 1:
        for item in items:
            work(client, item)
        return
    local = threading.local()
    clients: list[HttpClient] = []
    lock = threading.Lock()

    def thread_client() -> HttpClient:
        if not hasattr(local, "client"):
            local.client = HttpClient(client.base_url, client.api_key, client.timeout)
            with lock:
                clients.append(local.client)
        return local.client

    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            futures = [pool.submit(lambda item=item: work(thread_client(), item)) for item in items]
        for future in futures:
            future.result()
    finally:
        for each in clients:
            each.session.close()
