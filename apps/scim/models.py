"""SCIM 2.0 provisioning per team (docs/identity.md "SCIM"): the team's bearer tokens and
what its identity provider said about each provisioned user.

A token is stored as a lookup prefix and an HMAC digest (like apps.accounts.ApiKey); the
secret is shown once. A `ScimUser` row links a user to the team's IdP (externalId) and
outlives a deactivation, so the IdP can re-activate the same SCIM id.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.tenancy import TeamOwnedModel


class ScimToken(TeamOwnedModel):
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ScimUser(TeamOwnedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=255, blank=True, default="")
    # True when this team's SCIM created the account (then SCIM may edit its name).
    created_user = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="scim_user_unique")]
