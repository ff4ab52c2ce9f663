"""DRF authentication by API key: `Authorization: Bearer <key>` or Basic `api:<key>`.

Guarantees: a revoked, malformed or unknown key is refused with 401 and never falls
through to anonymous access; the key is compared by HMAC digest in constant time.
Sets `request.auth` to the ApiKey so team-restricted keys can be enforced by the API
base class.
"""

from __future__ import annotations

import base64
import binascii

from rest_framework import authentication, exceptions

from apps.accounts import services


def key_from_header(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        if username == "api" and password:
            return password
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = key_from_header(header)
        if key is None:
            if header.lower().startswith(("bearer", "basic")):
                raise exceptions.AuthenticationFailed("Malformed Authorization header.")
            return None
        api_key = services.api_key_authenticate(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
