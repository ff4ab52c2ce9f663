"""Signatures: webhook bodies (HMAC-SHA256) and one-click unsubscribe links.

Webhooks: each request carries `X-Gradline-Timestamp: <unix seconds>` and
`X-Gradline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` keyed with
the integration's secret; receivers recompute it, compare in constant time and reject
old timestamps (replays). docs/collaboration.md shows a receiver.

Unsubscribe tokens: Django's signer (SECRET_KEY, salted) over "<user id>:<kind>"; they do
not expire, and name nothing but that user and kind, so a forwarded email can at worst
turn off that one kind of email for its recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.core import signing

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def unsubscribe_token(user_id: int, kind: str) -> str:
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(f"{int(user_id)}:{kind}")


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    """(user id, kind), or None for a token this server did not sign."""
    try:
        value = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    user_id, _, kind = value.partition(":")
    return (int(user_id), kind) if user_id.isdigit() else None
