"""Sliding-window rate limits, shared across processes through Redis.

A bucket remembers the time of each hit it admitted during the last `seconds` (a Redis
sorted set); a hit is admitted while fewer than `count` are remembered. There are no
window edges: whenever a request is refused, the `count` hits before it all fell within
the last `seconds`, and the answer says exactly when the oldest of them leaves the window
(`Retry-After`).

Guarantees:
- With `REDIS_URL` set the cache is Redis, and each call is one Lua script, so every
  web process and host shares one exact, atomic count per bucket
  (tests/accounts/test_ratelimit.py proves it across two processes). Bucket names are
  hashed: emails and IPs never sit in Redis in clear.
- Without Redis the buckets live in the process's own cache (per process, exact within
  it, not shared).
- Time comes from `settings.RATE_LIMIT_CLOCK` (a dotted path to a `time.time`-like
  callable), so tests can cross a window without waiting.

Not guaranteed: agreement between hosts whose clocks disagree (run NTP); fairness between
buckets. Memory is O(count) per active bucket.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string
from redis.commands.core import Script


def parse_rate(rate: str) -> tuple[int, int]:
    """ "count/seconds" -> (count, seconds); "10" means 10 per 60 seconds."""
    count, _, seconds = rate.partition("/")
    return int(count), int(seconds or 60)


@dataclass(frozen=True)
class _Window:
    count: int  # hits in the window before this call
    added: bool  # this call's hit was recorded
    room_at: float | None  # when a hit is admitted again (None: now); for `limit`
    newest: float | None  # time of the most recent hit in the window (peek only)


# Mode "peek" counts nothing; "admit" records the hit only if the window has room;
# "record" records it regardless and keeps only the newest `keep` hits.
_LUA = b"""
local key = KEYS[1]
local now, seconds, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local mode, keep = ARGV[4], tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - seconds)
local count = redis.call('ZCARD', key)
local added = 0
if mode == 'record' or (mode == 'admit' and count < limit) then
  redis.call('ZADD', key, now, ARGV[5])
  redis.call('PEXPIRE', key, math.ceil(seconds * 1000))
  added = 1
  if mode == 'record' and count + 1 > keep then
    redis.call('ZREMRANGEBYRANK', key, 0, count - keep)
  end
end
local room_at = ''
if count >= limit and count > 0 then
  room_at = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')[2]
end
local newest = ''
if mode == 'peek' and count > 0 then
  newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
end
return {count, added, room_at, newest}
"""
_SCRIPT = Script(None, _LUA)
_local_lock = threading.Lock()


@functools.cache
def _clock_named(path: str):
    return import_string(path)


def now() -> float:
    return _clock_named(getattr(settings, "RATE_LIMIT_CLOCK", "time.time"))()


def _key(bucket: str, seconds: int) -> str:
    return f"rl:{hashlib.sha256(bucket.encode()).hexdigest()[:32]}:{seconds}"


def _apply(bucket: str, seconds: int, *, limit: int, mode: str, keep: int = 0) -> _Window:
    at = now()
    backend = caches["default"]
    key = _key(bucket, seconds)
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        member = f"{at!r}:{secrets.token_hex(4)}"
        count, added, room_at, newest = _SCRIPT(
            keys=[full_key], args=[repr(at), seconds, limit, mode, member, keep], client=client
        )
        return _Window(
            count=int(count),
            added=bool(added),
            room_at=float(room_at) + seconds if room_at else None,
            newest=float(newest) if newest else None,
        )
    with _local_lock:  # the same steps as the script, atomic within this process
        hits = [t for t in backend.get(key, []) if t > at - seconds]
        count = len(hits)
        added = mode == "record" or (mode == "admit" and count < limit)
        if added:
            hits = [*hits, at][-keep:] if mode == "record" else [*hits, at]
            backend.set(key, hits, timeout=seconds + 1)
        return _Window(
            count=count,
            added=added,
            room_at=hits[count - limit] + seconds if 0 < limit <= count else None,
            newest=hits[-1] if hits else None,
        )


def _wait(until: float | None) -> int | None:
    if until is None:
        return None
    return max(1, math.ceil(until - now()))


def hit(bucket: str, rate: str) -> int | None:
    """Count one hit if the window has room: None when admitted, else the seconds until
    it has room (the refused hit is not counted)."""
    limit, seconds = parse_rate(rate)
    window = _apply(bucket, seconds, limit=limit, mode="admit")
    return None if window.added else _wait(window.room_at)


def blocked(bucket: str, rate: str) -> int | None:
    """Without counting: None when the bucket has room, else seconds until it has."""
    limit, seconds = parse_rate(rate)
    return _wait(_apply(bucket, seconds, limit=limit, mode="peek").room_at)


def backoff_delay(hits: int, free: int, max_delay: int) -> int:
    """Seconds required between hits once `hits` are in the window: 0 for the first
    `free`, then 1, 2, 4, … up to `max_delay`."""
    return 0 if hits < free else min(max_delay, 2 ** (hits - free))


def backoff_blocked(bucket: str, rate: str, max_delay: int) -> int | None:
    """Progressive back-off, never a lock: once `count` hits are in the window, the next
    one must wait `backoff_delay` after the newest. None when a hit may come now, else
    the seconds to wait (at most `max_delay`)."""
    free, seconds = parse_rate(rate)
    window = _apply(bucket, seconds, limit=free, mode="peek")
    delay = backoff_delay(window.count, free, max_delay)
    if not delay or window.newest is None:
        return None
    until = window.newest + delay
    return _wait(until) if until > now() else None


def backoff_record(bucket: str, rate: str, max_delay: int) -> None:
    """Count one hit against a back-off bucket (always; it keeps just enough hits for the
    delay to reach `max_delay`)."""
    free, seconds = parse_rate(rate)
    keep = free + max(1, math.ceil(math.log2(max(max_delay, 1)))) + 1
    _apply(bucket, seconds, limit=free, mode="record", keep=keep)
