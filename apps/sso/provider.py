"""Read by allauth's provider registry (`<app>.provider.provider_classes`)."""

from apps.sso.oidc import TeamOIDCProvider
from apps.sso.saml import TeamSAMLProvider

provider_classes = [TeamOIDCProvider, TeamSAMLProvider]
