"""Redis cache backend whose connection pools are shared by the whole process.

Django makes a cache instance per async context, so under ASGI every request built a
new RedisCacheClient with a new connection pool, i.e. a new TCP connection to Redis
per request (the API-key rate limit pays it on every call). redis-py pools are
thread-safe, so one pool per server URL per process is enough.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[str, object] = {}
_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        url = self._servers[self._get_connection_pool_index(write)]
        pool = _pools.get(url)
        if pool is None:
            with _lock:
                pool = _pools.get(url)
                if pool is None:
                    pool = _pools[url] = self._pool_class.from_url(url, **self._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
