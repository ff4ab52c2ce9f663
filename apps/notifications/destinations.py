"""Which webhook URLs may be called (server-side request forgery guard).

Guarantees: `check_url` accepts only http(s) URLs whose host resolves, and only when
every address it resolves to is a global unicast address: loopback, link-local (cloud
metadata at 169.254.169.254 included), private (RFC 1918, fc00::/7), shared (100.64/10),
multicast, reserved and unspecified addresses are refused, as are IPv4-mapped IPv6
forms of them. It runs when an integration is saved and again before every attempt.
settings.WEBHOOK_ALLOW_PRIVATE turns the address check off (tests, on-premise use).

Not guaranteed: a DNS answer that changes between the check and the connection (DNS
rebinding inside one attempt); redirects are never followed, so a public endpoint cannot
bounce a delivery to an internal one.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.errors import field_error

MAX_URL = 2000


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url, field: str = "url") -> str:
    """`url` if it may be called (400 naming `field` otherwise)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL or "\x00" in url:
        raise field_error(f"{field} must be a URL of at most {MAX_URL} characters.", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise field_error(f"{field} is not a valid URL.", field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise field_error(f"{field} must be an http or https URL.", field)
    if parts.username or parts.password:
        raise field_error(f"{field} must not carry credentials; use the signing secret.", field)
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise field_error(
            f"{field}: the host {parts.hostname!r} does not resolve.", field
        ) from None
    addresses = sorted({info[4][0] for info in infos})
    refused = [a for a in addresses if _refused(a)]
    if not addresses or refused:
        raise field_error(
            f"{field} resolves to a loopback, link-local or private address "
            f"({', '.join(refused)}); webhooks go to public endpoints only.",
            field,
            code="address_not_allowed",
        )
    return url
