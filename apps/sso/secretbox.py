"""Encryption at rest for identity-provider secrets (OIDC client secrets).

Guaranteed: what is stored is a Fernet token (AES-128-CBC + HMAC-SHA256) under a key
derived with HKDF from settings.SSO_SECRET_KEY, or from SECRET_KEY when that is unset; a
stored value that was altered, or made under another key, does not decrypt (SecretError).
Tokens made under SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY keeps stored
secrets readable until they are saved again (the same scheme as apps/deployments/secrets.py).
Not guaranteed: secrecy against someone who holds the key.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretError(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gradline-sso", info=b"idp-secrets"
    ).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> MultiFernet:
    primary = getattr(settings, "SSO_SECRET_KEY", "") or settings.SECRET_KEY
    fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return MultiFernet([_fernet(primary), *(_fernet(k) for k in fallbacks)])


def seal(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode() if plaintext else ""


def unseal(token: str) -> str:
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretError("The stored secret cannot be decrypted with this key.") from exc
