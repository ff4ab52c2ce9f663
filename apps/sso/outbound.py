"""Outbound HTTP for single sign-on (discovery, JWKS, token, userinfo, SAML metadata):
the server-side request forgery guard.

Guaranteed: every connection made through `guarded_session()` goes to an address that
was checked: the host is resolved once, every address must be global unicast (the same
rule as webhooks, apps.notifications.destinations: loopback, link-local with
169.254.169.254, private, shared, multicast, reserved and IPv4-mapped forms refused), and
the socket connects to one of exactly those addresses, so a DNS answer cannot change in
between. TLS still verifies the certificate against the URL's host name. A refused
address raises AddressRefused (a requests.ConnectionError) before any connection is
attempted. Environment proxies are ignored (trust_env off), redirects are not followed.
settings.SSO_ALLOW_PRIVATE_ADDRESSES switches the address rule off (tests, on-premise
IdPs on a private network).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.core.errors import field_error
from apps.notifications.destinations import _refused as address_refused

TIMEOUT = 10
MAX_URL = 2000


class AddressRefused(requests.ConnectionError):
    """The host resolves to an address the server must not call."""


def allow_private() -> bool:
    return bool(getattr(settings, "SSO_ALLOW_PRIVATE_ADDRESSES", False))


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all allowed (AddressRefused otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"The host {host!r} does not resolve.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if allow_private():
        return addresses
    refused = [a for a in addresses if address_refused(a)]
    if not addresses or refused:
        raise AddressRefused(
            f"{host!r} resolves to a loopback, link-local or private address "
            f"({', '.join(refused)}); identity providers must be public endpoints."
        )
    return addresses


def check_url(url, field: str) -> str:
    """`url` if the server may fetch it (400 naming `field` otherwise); for the forms and
    the API, so a refused URL is reported when it is saved, not at sign-in."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL or "\x00" in url:
        raise field_error(f"{field} must be a URL of at most {MAX_URL} characters.", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise field_error(f"{field} is not a valid URL.", field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise field_error(f"{field} must be an http or https URL.", field)
    if parts.username or parts.password or parts.fragment:
        raise field_error(f"{field} must not carry credentials or a fragment.", field)
    try:
        checked_addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except AddressRefused as exc:
        raise field_error(f"{field}: {exc}", field, code="address_not_allowed") from None
    if parts.scheme == "http" and not allow_private():
        raise field_error(f"{field} must be an https URL.", field)
    return url


class _GuardedConnectionMixin:
    def _new_conn(self):
        last_error: OSError | None = None
        for address in checked_addresses(self._dns_host, self.port):
            try:
                sock = socket.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address
                )
            except OSError as exc:
                last_error = exc
                continue
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            return sock
        raise requests.ConnectionError(f"Could not connect to {self._dns_host!r}: {last_error}")


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


class _GuardedSession(requests.Session):
    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, **kwargs)


def guarded_session() -> requests.Session:
    session = _GuardedSession()
    session.trust_env = False  # HTTP(S)_PROXY would connect somewhere unchecked
    adapter = _GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
