"""Secrets at rest (team IdP client secrets, deployment target credentials).

Guaranteed: a sealed value is a Fernet token (AES-128-CBC + HMAC-SHA256) under a key
derived with HKDF (SHA-256, the box's own salt and info) from the box's setting, or from
SECRET_KEY when that is unset; a token altered, or made under another key, does not
unseal (SecretError). Tokens made under SECRET_KEY_FALLBACKS still unseal, so rotating
SECRET_KEY keeps stored secrets readable until they are saved again. Each purpose has
its own salt and info: a token of one box never unseals in another.

Not guaranteed: secrecy against someone who holds the key (the server's environment).
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


@lru_cache(maxsize=16)
def _fernet(material: str, salt: bytes, info: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    def __init__(self, *, setting: str, salt: bytes, info: bytes):
        self.setting, self.salt, self.info = setting, salt, info

    def _keys(self) -> MultiFernet:
        primary = getattr(settings, self.setting, "") or settings.SECRET_KEY
        fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
        return MultiFernet([_fernet(key, self.salt, self.info) for key in (primary, *fallbacks)])

    def seal(self, plaintext: str) -> str:
        return self._keys().encrypt(plaintext.encode()).decode() if plaintext else ""

    def unseal(self, token: str) -> str:
        if not token:
            return ""
        try:
            return self._keys().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretError("The stored secret cannot be decrypted with this key.") from exc
