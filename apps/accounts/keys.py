"""API key format and digests.

Format: `gl-` + 40 base62 characters: 34 random (~202 bits) then a 6-character
checksum, so a typo is rejected without a database hit. 40 characters after the dash is
also what the W&B client accepts. The database holds only `prefix` (the first 12
characters, for lookup) and HMAC-SHA256(pepper, key); the secret is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

from django.conf import settings

KEY_PREFIX = "gl-"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LEN = 34
CHECKSUM_LEN = 6
LOOKUP_LEN = len(KEY_PREFIX) + 9


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LEN)


def generate_key() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return KEY_PREFIX + body + _checksum(body)


def is_well_formed(key: str) -> bool:
    if not key.startswith(KEY_PREFIX) or len(key) != len(KEY_PREFIX) + RANDOM_LEN + CHECKSUM_LEN:
        return False
    body, check = key[len(KEY_PREFIX) : -CHECKSUM_LEN], key[-CHECKSUM_LEN:]
    if any(ch not in ALPHABET for ch in body + check):
        return False
    return hmac.compare_digest(_checksum(body), check)


def lookup_prefix(key: str) -> str:
    return key[:LOOKUP_LEN]


def digest(key: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), key.encode(), hashlib.sha256).hexdigest()


def digest_matches(key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key), stored_digest)
