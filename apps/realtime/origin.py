"""Origin check for WebSocket handshakes (cross-site WebSocket hijacking).

Browsers send cookies with a WebSocket handshake to any site and do not apply CORS to
it, so a page on another origin could open a socket with the victim's session. This
validator admits a handshake only when:
- its Host header is one of ALLOWED_HOSTS (as Django checks for HTTP), and
- its Origin is the same origin as the Host it connects to (the rule Django's CSRF check
  applies to unsafe requests), or matches an entry of CSRF_TRUSTED_ORIGINS, or
- it carries no Origin header at all: browsers always send one on WebSocket handshakes,
  so only non-browser clients (scripts, benchmarks), which hold their own credentials,
  omit it. `Origin: null` (sandboxed frames, file: pages) is refused.

Channels' AllowedHostsOriginValidator is not enough on its own: it admits an Origin naming
*any* allowed host (with ALLOWED_HOSTS = ["*"], any origin at all) and refuses clients
that send none. Refused handshakes are closed before accept (HTTP 403 to the client).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _trusted(origin: str) -> bool:
    """CSRF_TRUSTED_ORIGINS semantics: scheme://host[:port], '*.' for subdomains."""
    parsed = urlsplit(origin)
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        trusted = urlsplit(entry)
        if trusted.scheme != parsed.scheme:
            continue
        if is_same_domain(parsed.netloc, trusted.netloc.replace("*.", ".", 1)):
            return True
    return False


def origin_allowed(scope) -> bool:
    host = _header(scope, b"host") or ""
    domain, _ = split_domain_port(host)
    hosts = settings.ALLOWED_HOSTS or (
        ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
    )
    if host and not (domain and validate_host(domain, hosts)):
        return False
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    if host and parsed.netloc.lower() == host.lower():
        return True
    return _trusted(origin)


class SameOriginValidator:
    """ASGI middleware: refuse WebSocket handshakes from foreign origins (module doc)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
