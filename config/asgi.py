"""ASGI entry: HTTP through Django, WebSockets through Channels (apps/realtime/routing)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.realtime.origin import SameOriginValidator  # noqa: E402
from apps.realtime.routing import websocket_urlpatterns  # noqa: E402

# Every WebSocket route: a foreign Origin is refused before any consumer runs.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Request handling allocates many short-lived objects (an ingest batch decodes into
# hundreds of thousands), so CPython's default gen-0 threshold (700) triggers
# collections that walk every object Django left alive at startup. Freezing the
# startup heap and raising the threshold made ingest ~1.3-2x faster in bench/ingest.py
# (docs/benchmarks.md). GRADLINE_GC_THRESHOLD="g0,g1,g2" overrides; "default" keeps
# CPython's.
_gc_threshold = os.environ.get("GRADLINE_GC_THRESHOLD", "50000,20,100")
if _gc_threshold != "default":
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*(int(part) for part in _gc_threshold.split(",")))
