"""Which webhook URLs may be called (server-side request forgery guard).

Guarantees: `check_url` accepts only http(s) URLs whose host resolves, and only when
every address it resolves to is a global unicast address: loopback, link-local (cloud
metadata at 169.254.169.254 included), private (RFC 1918, fc00::/7), shared (100.64/10),
multicast, reserved and unspecified addresses are refused, as are IPv4-mapped IPv6
forms of them. It runs when an integration is saved, and `resolve` again before every attempt: the
host is resolved once per attempt and the delivery connects to exactly the addresses that
were checked (the URL's host goes in the Host header and, over TLS, as the SNI name the
certificate is verified against), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot move a delivery to an internal address. Redirects are
never followed, so a public endpoint cannot bounce a delivery to an internal one either.
settings.WEBHOOK_ALLOW_PRIVATE turns the address check off (tests, on-premise use); the
connection is still pinned to the resolved addresses.

Not guaranteed: anything about the endpoint itself (it is the team admins' choice).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from apps.core.errors import field_error

MAX_URL = 2000


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


@dataclass(frozen=True)
class Destination:
    """A webhook URL resolved once: connect only to `addresses` (all checked)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """The URL with its host replaced by `address` (the connection target)."""
        parts = urlsplit(self.url)
        netloc = f"[{address}]" if ":" in address else address
        return urlunsplit(
            (parts.scheme, f"{netloc}:{self.port}", parts.path or "/", parts.query, "")
        )

    @property
    def extensions(self) -> dict:
        # TLS: SNI and certificate verification against the URL's host, not the address.
        return {"sni_hostname": self.host} if self.scheme == "https" else {}


def _parts(url, field: str):
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
    return parts, port or (443 if parts.scheme == "https" else 80)


def _addresses(host: str, port: int, field: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise field_error(f"{field}: the host {host!r} does not resolve.", field) from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if settings.WEBHOOK_ALLOW_PRIVATE and addresses:
        return addresses
    refused = [a for a in addresses if _refused(a)]
    if not addresses or refused:
        raise field_error(
            f"{field} resolves to a loopback, link-local or private address "
            f"({', '.join(refused)}); webhooks go to public endpoints only.",
            field,
            code="address_not_allowed",
        )
    return addresses


def check_url(url, field: str = "url") -> str:
    """`url` if it may be called (400 naming `field` otherwise); when an integration is
    saved (with WEBHOOK_ALLOW_PRIVATE the host need not resolve yet)."""
    parts, port = _parts(url, field)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        _addresses(parts.hostname, port, field)
    return url


def resolve(url, field: str = "url") -> Destination:
    """`url` resolved once for one delivery attempt, every address checked (DomainError
    naming the reason otherwise); the caller connects to `addresses` only."""
    parts, port = _parts(url, field)
    return Destination(
        url, parts.scheme, parts.hostname, port, _addresses(parts.hostname, port, field)
    )
