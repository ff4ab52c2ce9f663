"""Fixed-window rate limits kept in the cache (Redis when configured, so they are
shared across processes and hosts; per process otherwise)."""

from __future__ import annotations

import time

from django.core.cache import cache


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, seconds = rate.partition("/")
    return int(count), int(seconds or 60)


def hit(bucket: str, rate: str) -> int | None:
    """Count one hit; None when allowed, else the seconds until the window resets."""
    limit, window = parse_rate(rate)
    now = time.time()
    window_start = int(now // window) * window
    key = f"rl:{bucket}:{window_start}"
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
    if count > limit:
        return max(1, int(window_start + window - now + 0.999))
    return None
