"""Target credentials at rest: apps.core.secretbox (Fernet, AES-128-CBC + HMAC-SHA256)
under a key derived from DEPLOYMENTS_SECRET_KEY, or SECRET_KEY when that is unset.

Guarantees: what `encrypt` returns cannot be read or altered without the key; `decrypt`
also accepts tokens made under SECRET_KEY_FALLBACKS, so rotating SECRET_KEY keeps old
credentials readable until they are saved again. Credentials leave this module only
to a target adapter inside a Celery job.

Not guaranteed: protection from someone holding the key (the server's environment).
"""

from __future__ import annotations

import json

from apps.core.secretbox import SecretBox, SecretError

_box = SecretBox(
    setting="DEPLOYMENTS_SECRET_KEY", salt=b"gradline", info=b"deployments-credentials"
)


def encrypt(credentials: dict) -> str:
    return _box.seal(json.dumps(credentials, sort_keys=True)) if credentials else ""


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_box.unseal(token))
    except SecretError:
        # A key that changed without a fallback: the credentials must be given again.
        raise ValueError(
            "the stored credentials cannot be decrypted with this server's key"
        ) from None
