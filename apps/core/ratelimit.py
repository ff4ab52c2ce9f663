"""Fixed-window rate limits kept in the Django cache.

Guarantees: with `REDIS_URL` set the cache is Redis, so every web process and host
shares one counter per bucket (tests/accounts/test_ratelimit.py proves it across two
processes); without it the counters are per process. A refused request learns how many
seconds remain in the window (`Retry-After`).

Not guaranteed: exactness at window edges (a fixed window admits up to twice the rate
across a boundary), nor fairness between buckets.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def parse_rate(rate: str) -> tuple[int, int]:
    """ "count/seconds" -> (count, seconds); "10" means 10 per 60 seconds."""
    count, _, seconds = rate.partition("/")
    return int(count), int(seconds or 60)


def _window(bucket: str, rate: str) -> tuple[str, int, int, float]:
    limit, window = parse_rate(rate)
    now = time.time()
    window_start = int(now // window) * window
    # Hashed, so emails and IPs never sit in the cache in clear and keys stay short.
    name = hashlib.sha256(bucket.encode()).hexdigest()[:32]
    return f"rl:{name}:{window}:{window_start}", limit, window_start + window, now


def _wait(window_end: int, now: float) -> int:
    return max(1, int(window_end - now + 0.999))


def hit(bucket: str, rate: str) -> int | None:
    """Count one hit; None when allowed, else the seconds until the window resets."""
    key, limit, window_end, now = _window(bucket, rate)
    timeout = int(window_end - now) + 2
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip: create the counter with its expiry if absent, then count.
        full_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.set(full_key, 0, ex=timeout, nx=True)
        pipe.incr(full_key)
        count = pipe.execute()[1]
    elif cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=timeout)
            count = 1
    return _wait(window_end, now) if count > limit else None


def blocked(bucket: str, rate: str) -> int | None:
    """Without counting: None when the bucket has room, else seconds until it has."""
    key, limit, window_end, now = _window(bucket, rate)
    count = cache.get(key) or 0
    return _wait(window_end, now) if count >= limit else None
