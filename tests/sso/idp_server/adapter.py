"""allauth IdP adapter for the tests: a `groups` claim from the user's Django groups, and
ID tokens spoiled on demand (modes.MODE)."""

import os
from pathlib import Path

from allauth.idp.oidc.adapter import DefaultOIDCAdapter
from allauth.idp.oidc.models import PrivateKey

from tests.sso.idp_server import modes


class TestIdPAdapter(DefaultOIDCAdapter):
    def get_claims(self, purpose, user, client, scopes, email=None, **kwargs):
        claims = super().get_claims(purpose, user, client, scopes, email=email, **kwargs)
        claims["groups"] = sorted(user.groups.values_list("name", flat=True))
        if modes.MODE["value"] == "unverified_email":
            claims["email_verified"] = False
        elif modes.MODE["value"] == "no_email_verified":
            claims.pop("email_verified", None)
        return claims

    def populate_id_token(self, id_token, client, scopes, **kwargs):
        mode = modes.MODE["value"]
        if mode == "wrong_iss":
            id_token["iss"] = "https://evil-issuer.example"
        elif mode == "wrong_aud":
            id_token["aud"] = "someone-else"
        elif mode == "expired":
            id_token["iat"] = id_token["iat"] - 7200
            id_token["exp"] = id_token["iat"] + 60

    def get_signing_key(self):
        if modes.MODE["value"] == "unknown_key":
            pem = Path(os.environ["IDP_OTHER_KEY_FILE"]).read_text()
            return PrivateKey(pem=pem)
        return super().get_signing_key()
