"""Team OpenID Connect through allauth: a provider and OAuth2 adapter that
- answer on the team's own routes (/accounts/sso/<team>/login/ and .../oidc/callback/),
- fetch discovery, keys, token and userinfo through the outbound guard (apps.sso.outbound,
  via the social account adapter's requests session),
- require the discovery document's `issuer` to equal the configured issuer,
- always verify the ID token's signature, even when it came straight from the token
  endpoint (allauth skips that check then, which the OIDC core spec permits over TLS):
  only RSA/EC/PSS algorithms (never `none` or HMAC), the key named by `kid` in the
  issuer's JWKS (an unknown key is refused), `iss`, `aud` (== client id), `exp`, `iat`
  and `sub` required, a `jti` seen before refused (allauth's cache check).
PKCE (S256) is on for every team app (apps.sso.adapters builds the app).
"""

from __future__ import annotations

import json

import jwt
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.urls import reverse

PROVIDER = "gradline_team_oidc"
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
LEEWAY_SECONDS = 30


def _same_issuer(a: str, b: str) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.rstrip("/") == b.rstrip("/")


class TeamOIDCAdapter(OpenIDConnectOAuth2Adapter):
    def _team_slug(self) -> str:
        return self.get_provider().app.settings["team_slug"]

    @property
    def openid_config(self):
        if not hasattr(self, "_openid_config"):
            provider = self.get_provider()
            with get_adapter().get_requests_session() as session:
                response = session.get(provider.server_url)
                response.raise_for_status()
                config = response.json()
            if not isinstance(config, dict):
                raise OAuth2Error("The discovery document is not a JSON object.")
            configured = provider.app.settings["server_url"]
            if not _same_issuer(config.get("issuer"), configured):
                raise OAuth2Error(
                    f"The discovery document names issuer {config.get('issuer')!r}, "
                    f"not the configured {configured!r}."
                )
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(config.get(key), str):
                    raise OAuth2Error(f"The discovery document has no {key}.")
            self._openid_config = config
        return self._openid_config

    @property
    def profile_url(self):
        url = self.openid_config.get("userinfo_endpoint")
        if not isinstance(url, str):
            raise OAuth2Error("The discovery document has no userinfo_endpoint.")
        return url

    def get_callback_url(self, request, app):
        path = reverse("sso:oidc-callback", kwargs={"team_slug": app.settings["team_slug"]})
        return build_absolute_uri(request, path, self.redirect_uri_protocol)

    def complete_login(self, request, app, token, **kwargs):
        response = kwargs.get("response")
        if not isinstance(response, dict) or not isinstance(response.get("id_token"), str):
            raise OAuth2Error("The token response carries no id_token.")
        try:
            return super().complete_login(request, app, token, **kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuth2Error(f"Unusable identity data: {exc!r}") from exc

    def _decode_id_token(self, app, id_token: str) -> dict:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OAuth2Error("Invalid id_token.") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OAuth2Error(f"id_token algorithm {alg!r} is not accepted.")
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            keys = response.json().get("keys")
        if not isinstance(keys, list):
            raise OAuth2Error("The issuer's JWKS has no keys.")
        kid = header.get("kid")
        matching = [k for k in keys if isinstance(k, dict) and k.get("kid") == kid]
        if kid is None and len(keys) == 1:
            matching = keys
        if len(matching) != 1:
            raise OAuth2Error(f"id_token is signed by an unknown key (kid {kid!r}).")
        try:
            key = jwt.PyJWK(matching[0], algorithm=alg).key
            data = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],
                audience=app.client_id,
                issuer=self.openid_config["issuer"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise OAuth2Error(f"Invalid id_token: {exc}") from exc
        jwtkit.verify_jti(data)
        return data


class TeamOIDCProvider(OpenIDConnectProvider):
    id = PROVIDER
    name = "Team OpenID Connect"
    package = "apps.sso.allauth_provider"
    oauth2_adapter_class = TeamOIDCAdapter

    def get_login_url(self, request, **kwargs):
        return reverse("sso:login", kwargs={"team_slug": self.app.settings["team_slug"]})

    def get_callback_url(self):
        return reverse("sso:oidc-callback", kwargs={"team_slug": self.app.settings["team_slug"]})
