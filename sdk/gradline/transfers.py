"""Parallel file transfers (artifact blobs up and down). One HTTP client per worker
thread: a requests.Session is not meant to be shared between threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gradline.transport import HttpClient

T = TypeVar("T")
WORKERS = 8


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
