"""Per-team single sign-on: one identity provider per team, and the team's email domains.

The client secret is stored encrypted (apps.sso.secretbox); nothing here holds it in
clear. A domain belongs to at most one team (unique), so no second team's IdP can speak
for its users.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.tenancy import TeamOwnedModel

OIDC = "oidc"
SAML = "saml"
PROTOCOL_CHOICES = [(OIDC, "OpenID Connect"), (SAML, "SAML 2.0")]


class TeamSSOConfig(TeamOwnedModel):
    protocol = models.CharField(max_length=8, choices=PROTOCOL_CHOICES, default=OIDC)
    enabled = models.BooleanField(default=True)
    # OIDC: the issuer (discovery at <issuer>/.well-known/openid-configuration).
    issuer = models.CharField(max_length=2000, blank=True, default="")
    client_id = models.CharField(max_length=255, blank=True, default="")
    client_secret_encrypted = models.TextField(blank=True, default="")
    # SAML: the IdP's entity id, sign-in URL and signing certificate (PEM), or a metadata
    # URL they are read from.
    saml_entity_id = models.CharField(max_length=2000, blank=True, default="")
    saml_sso_url = models.CharField(max_length=2000, blank=True, default="")
    saml_x509cert = models.TextField(blank=True, default="")
    saml_metadata_url = models.CharField(max_length=2000, blank=True, default="")
    # Claim (OIDC) or attribute (SAML) names: uid, email, email_verified, name, groups.
    attribute_mapping = models.JSONField(default=dict, blank=True)
    # Just-in-time membership for users of the team's verified domains ("" = off).
    jit_role = models.CharField(max_length=64, blank=True, default="member")
    # IdP group -> team role (a base role or a custom role's name).
    group_roles = models.JSONField(default=dict, blank=True)
    require_sso = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team"], name="sso_config_one_per_team")]

    @property
    def provider_id(self) -> str:
        """allauth's provider id for this team (stable across slug renames)."""
        return f"gl-team-{self.team_id}"


class VerifiedDomain(TeamOwnedModel):
    domain = models.CharField(max_length=253, unique=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
