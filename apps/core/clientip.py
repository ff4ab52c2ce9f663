"""The client's IP address, for rate limits and the audit log.

One setting, TRUSTED_PROXIES (IP addresses or CIDR networks, empty by default), decides
whose forwarding headers are believed. The same list drives uvicorn's proxy-headers
middleware (config/server.py) and `client_ip` below, so the address uvicorn puts in the
ASGI scope and the one this module derives always agree.

Guaranteed:
- With TRUSTED_PROXIES empty, X-Forwarded-For is ignored: the client is the TCP peer
  (REMOTE_ADDR), whatever headers it sends. A client cannot choose its own rate-limit
  bucket or the address written to the audit log.
- When the peer is a trusted proxy, the client is the right-most X-Forwarded-For entry
  that is not itself a trusted proxy. Each proxy appends the address it saw, so entries
  to the left of that one were written by the client and are never used.
- Applying the rule twice gives the same answer (uvicorn applies it first, this module
  again), because the address uvicorn chose is either untrusted (then kept as is) or,
  when every entry is a trusted proxy, the left-most entry again.

Not guaranteed: a trusted proxy that passes on a client's X-Forwarded-For without
appending its own peer lets that client choose its address; configure only proxies that
append (or overwrite) the header. Malformed entries end the walk: the client is then
unknown (None) rather than a value the client wrote.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(values: list[str]) -> list[str]:
    """Normalise TRUSTED_PROXIES entries to CIDR strings ("10.0.0.5" -> "10.0.0.5/32").

    Raises ValueError naming the bad entry; "*" is refused because trusting every peer
    lets any client write its own address.
    """
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ValueError(
                f"TRUSTED_PROXIES: {value!r} is not an IP address or CIDR network"
            ) from exc
    return networks


@functools.lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from REMOTE_ADDR or one X-Forwarded-For entry ("[v6]:port", "v4:port"
    and bare addresses); None when it is not one."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request) -> str | None:
    """The client address of `request` under TRUSTED_PROXIES (see the module docstring)."""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    peer = _address(request.META.get("REMOTE_ADDR"))
    if peer is None or not networks or not _trusted(peer, networks):
        return str(peer) if peer else None
    chain = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if not chain:
        return str(peer)
    for entry in reversed(chain):
        address = _address(entry)
        if address is None:
            return None
        if not _trusted(address, networks):
            return str(address)
    # Every hop is a trusted proxy: the request started at one of them.
    return str(_address(chain[0]))
