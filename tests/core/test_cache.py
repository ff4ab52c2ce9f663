import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


def test_cache_instances_share_one_redis_pool():
    """Under ASGI each request context gets its own cache instance; they must not each
    open their own Redis connection pool."""
    first = caches.create_connection("default")
    second = caches.create_connection("default")
    assert first is not second
    first.set("shared-pool-probe", 1, 5)
    assert second.get("shared-pool-probe") == 1
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)
