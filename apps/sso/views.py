"""The public single sign-on routes of a team: the sign-in page, the OIDC callback and the
admins' break-glass confirmation (apps.sso.enforcement). A team without an enabled SSO
configuration answers 404 on all of them, like a team that does not exist."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from requests import RequestException

from apps.core.clientip import client_ip
from apps.core.errors import DomainError
from apps.sso import enforcement, saml, selectors, services
from apps.sso.models import OIDC, SAML
from apps.sso.oidc import TeamOIDCAdapter
from apps.teams.roles import TEAM_MANAGE, membership_permissions


def _config(team: str, protocol: str | None = None):
    config = selectors.enabled_config_for_slug(team, protocol)
    if config is None:
        raise Http404("No single sign-on for this team.")
    return config


def _next(request) -> str:
    value = request.POST.get("next") or request.GET.get("next") or ""
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return value
    return ""


def _can_break_glass(request, config) -> bool:
    if not request.user.is_authenticated or not config.require_sso:
        return False
    membership = selectors.membership_of(config.team, request.user)
    return membership is not None and TEAM_MANAGE in membership_permissions(membership)


def _idp_unreachable(request, config, exc):
    return render(
        request,
        "sso/refused.html",
        {
            "team": config.team,
            "message": f"The team's identity provider could not be reached or answered "
            f"unexpectedly ({type(exc).__name__}). Try again later or ask a team admin.",
        },
        status=502,
    )


@require_http_methods(["GET", "POST"])
def login(request, team_slug):
    config = _config(team_slug)
    if request.method == "GET":
        return render(
            request,
            "sso/login.html",
            {
                "team": config.team,
                "config": config,
                "next": _next(request),
                "can_break_glass": _can_break_glass(request, config),
            },
        )
    if config.protocol == SAML:
        return saml.login(request, config, _next(request))
    try:
        return OAuth2LoginView.adapter_view(TeamOIDCAdapter(request, config.provider_id))(request)
    except (RequestException, OAuth2Error) as exc:
        return _idp_unreachable(request, config, exc)


@csrf_exempt  # the IdP's POST; the response's signature and stashed state protect it
@require_http_methods(["POST"])
def saml_acs(request, team_slug):
    return saml.acs(request, _config(team_slug, SAML))


@require_http_methods(["GET"])
def saml_finish(request, team_slug):
    return saml.finish(request, _config(team_slug, SAML))


@require_http_methods(["GET"])
def saml_metadata(request, team_slug):
    return saml.metadata(request, _config(team_slug, SAML))


@require_http_methods(["GET"])
def oidc_callback(request, team_slug):
    config = _config(team_slug, OIDC)
    try:
        return OAuth2CallbackView.adapter_view(TeamOIDCAdapter(request, config.provider_id))(
            request
        )
    except (RequestException, OAuth2Error) as exc:
        return _idp_unreachable(request, config, exc)


def _reauthentication_enabled(request) -> bool:
    return settings.REAUTHENTICATE_SENSITIVE_ACTIONS


def _break_glass(request, team):
    # The policy table let only the team's admins (team:manage) through to here.
    config = selectors.enabled_config_for_slug(team)
    if config is None or not config.require_sso:
        return render(
            request,
            "errors/error.html",
            {"status": 409, "message": "This team does not require single sign-on."},
            status=409,
        )
    if not _can_break_glass(request, config):  # a replay after reauthentication
        raise Http404("No single sign-on for this team.")
    try:
        services.break_glass_record(
            team=config.team,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            ip=client_ip(request),
        )
    except DomainError as exc:
        return render(
            request,
            "sso/login.html",
            {
                "team": config.team,
                "config": config,
                "next": _next(request),
                "can_break_glass": True,
                "error": exc.message,
            },
            status=400,
        )
    enforcement.break_glass_mark(request, config.team_id)
    return redirect(_next(request) or f"/{config.team.slug}/")


break_glass = require_http_methods(["POST"])(
    reauthentication_required(_break_glass, enabled=_reauthentication_enabled)
)
