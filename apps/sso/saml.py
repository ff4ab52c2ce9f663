"""Team SAML 2.0 through allauth's SAML provider and python3-saml (xmlsec).

Guarantees (tests/sso/test_saml.py exercises each):
- strict validation with both the Response and its Assertion signed by the configured
  IdP certificate (wantMessagesSigned, wantAssertionsSigned), SHA-1 refused, exactly one
  assertion, audience == this team's SP entity id (its metadata URL), destination and
  recipient == this team's ACS URL, the configured IdP entity id as issuer, time
  conditions checked;
- SP-initiated only: the response must answer an AuthnRequest this browser session
  started (InResponseTo matches allauth's stashed state, consumed once); unsolicited
  responses are refused;
- an assertion id is accepted once (cache, until its NotOnOrAfter), so a replay fails
  even where the state would still be found;
- a team's ACS accepts only that team's IdP: another team's response fails the audience,
  destination and signature checks.
The IdP's entity id, sign-in URL and certificate are stored (a metadata URL is read once,
when saved, apps.sso.services); nothing is fetched at sign-in.
"""

from __future__ import annotations

import binascii
import datetime as dt

from allauth.core.internal import httpkit
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from allauth.socialaccount.sessions import LoginSession
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.settings import OneLogin_Saml2_Settings

PROVIDER = "gradline_team_saml"
ACS_SESSION = ("gradline_saml_acs", "gradline-saml-acs")
REPLAY_TTL_FALLBACK_S = 600


def _url(request, name: str, slug: str) -> str:
    return request.build_absolute_uri(reverse(name, kwargs={"team_slug": slug}))


def saml_settings(request, app) -> dict:
    slug = app.settings["team_slug"]
    idp = app.settings["idp"]
    return {
        "strict": True,
        "debug": False,
        "security": {
            "authnRequestsSigned": False,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "rejectDeprecatedAlgorithm": True,
            "allowSingleLabelDomains": False,
            "requestedAuthnContext": False,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
        "sp": {
            "entityId": _url(request, "sso:saml-metadata", slug),
            "assertionConsumerService": {
                "url": _url(request, "sso:saml-acs", slug),
                "binding": C.BINDING_HTTP_POST,
            },
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
        },
        "idp": {
            "entityId": idp["entity_id"],
            "singleSignOnService": {"url": idp["sso_url"], "binding": C.BINDING_HTTP_REDIRECT},
            "x509cert": idp["x509cert"],
        },
    }


def _django_request(request) -> dict:
    return {
        "https": "on" if request.is_secure() else "off",
        "http_host": request.META.get("HTTP_HOST", ""),
        "script_name": request.META.get("SCRIPT_NAME", ""),
        "path_info": request.META.get("PATH_INFO", request.path_info),
        "get_data": request.GET.copy(),
        "post_data": request.POST.copy(),
    }


def build_auth(request, app) -> OneLogin_Saml2_Auth:
    return OneLogin_Saml2_Auth(_django_request(request), saml_settings(request, app))


class TeamSAMLProvider(SAMLProvider):
    id = PROVIDER
    name = "Team SAML"
    package = "apps.sso.allauth_provider"

    def get_login_url(self, request, **kwargs):
        return reverse("sso:login", kwargs={"team_slug": self.app.settings["team_slug"]})

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        auth = build_auth(request, self.app)
        location = auth.login(return_to="")
        self.stash_redirect_state(
            request, process, next_url, data, state_id=auth.get_last_request_id(), **kwargs
        )
        return HttpResponseRedirect(location)


def _provider(request, config):
    from allauth.socialaccount.adapter import get_adapter

    return get_adapter(request).get_provider(request, config.provider_id)


def _refused(request, config, message: str, status: int = 403):
    return render(
        request, "sso/refused.html", {"team": config.team, "message": message}, status=status
    )


def login(request, config, next_url: str):
    return _provider(request, config).redirect(
        request, AuthProcess.LOGIN, next_url=next_url or None
    )


def acs(request, config) -> HttpResponse:
    """The IdP's POST: kept in a short-lived session of its own, then finished on a GET
    (a cross-site POST does not carry the SameSite=Lax session cookie)."""
    response = HttpResponseRedirect(
        reverse("sso:saml-finish", kwargs={"team_slug": config.team.slug})
    )
    store = LoginSession(request, *ACS_SESSION)
    store.store.update({"request": httpkit.serialize_request(request)})
    store.save(response)
    return response


def _first_use(assertion_id: str | None, not_on_or_after) -> bool:
    if not assertion_id:
        return False
    ttl = REPLAY_TTL_FALLBACK_S
    if not_on_or_after:
        ttl = max(60, int(not_on_or_after - dt.datetime.now(dt.UTC).timestamp()) + 60)
    return cache.add(f"sso:saml:assertion:{assertion_id}", True, timeout=ttl)


def finish(request, config) -> HttpResponse:
    store = LoginSession(request, *ACS_SESSION)
    data = store.store.get("request")
    store.delete()
    if not data:
        return _refused(request, config, "The sign-in response was missing; start again.", 400)
    posted = httpkit.deserialize_request(data, HttpRequest())
    provider = _provider(request, config)
    auth = build_auth(posted, provider.app)
    try:
        auth.process_response(request_id=None)  # InResponseTo is matched to the state below
    except (binascii.Error, OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError, ValueError):
        return _refused(request, config, "The identity provider's response is invalid.")
    if auth.get_errors() or not auth.is_authenticated():
        return _refused(
            request,
            config,
            f"The identity provider's response was refused "
            f"({auth.get_last_error_reason() or 'not authenticated'}).",
        )
    state_id = auth.get_last_response_in_response_to()
    if not state_id:
        return _refused(request, config, "Unsolicited responses are not accepted.")
    try:
        state = provider.unstash_redirect_state(request, state_id)
    except PermissionDenied:
        return _refused(request, config, "This response does not answer a sign-in you started.")
    if not _first_use(auth.get_last_assertion_id(), auth.get_last_assertion_not_on_or_after()):
        return _refused(request, config, "This response was used before.")
    sociallogin = provider.sociallogin_from_response(request, auth)
    sociallogin.state = state
    return complete_social_login(request, sociallogin)


def metadata(request, config) -> HttpResponse:
    provider = _provider(request, config)
    settings = OneLogin_Saml2_Settings(
        settings=saml_settings(request, provider.app), sp_validation_only=True
    )
    xml = settings.get_sp_metadata()
    return HttpResponse(xml, content_type="application/samlmetadata+xml")
