"""Target credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from DEPLOYMENTS_SECRET_KEY, or SECRET_KEY when that is unset.

Guarantees: what `encrypt` returns cannot be read or altered without the key; `decrypt`
also accepts tokens made under SECRET_KEY_FALLBACKS, so rotating SECRET_KEY keeps old
credentials readable until they are saved again. Credentials leave this module only
to a target adapter inside a Celery job.

Not guaranteed: protection from someone holding the key (the server's environment).
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gradline", info=b"deployments-credentials"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    primary = getattr(settings, "DEPLOYMENTS_SECRET_KEY", "") or settings.SECRET_KEY
    fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return MultiFernet([_fernet(primary), *(_fernet(k) for k in fallbacks)])


def encrypt(credentials: dict) -> str:
    if not credentials:
        return ""
    return _keys().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_keys().decrypt(token.encode()))
    except InvalidToken:
        # A key that changed without a fallback: the credentials must be given again.
        raise ValueError(
            "the stored credentials cannot be decrypted with this server's key"
        ) from None
