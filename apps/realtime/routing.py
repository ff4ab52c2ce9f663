"""WebSocket routes; each is classified in apps/core/policy.py like any other route."""

websocket_urlpatterns: list = []
