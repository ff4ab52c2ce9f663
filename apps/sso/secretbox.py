"""Identity-provider secrets (OIDC client secrets) at rest: apps.core.secretbox under
settings.SSO_SECRET_KEY (or SECRET_KEY)."""

from __future__ import annotations

from apps.core.secretbox import SecretBox, SecretError

__all__ = ["SecretError", "seal", "unseal"]

_box = SecretBox(setting="SSO_SECRET_KEY", salt=b"gradline-sso", info=b"idp-secrets")
seal = _box.seal
unseal = _box.unseal
