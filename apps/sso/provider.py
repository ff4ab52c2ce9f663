"""Read by allauth's provider registry (`<app>.provider.provider_classes`)."""

from apps.sso.oidc import TeamOIDCProvider

provider_classes = [TeamOIDCProvider]
