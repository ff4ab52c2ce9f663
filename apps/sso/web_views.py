"""Team settings → Single sign-on: the IdP configuration, verified domains, require SSO.

TeamScopeMiddleware has applied the policy table (admins only, team:manage) before these
run; saving asks for a recent sign-in like the other sensitive team forms."""

from __future__ import annotations

import json

from django.shortcuts import render
from django.urls import reverse

from apps.core.errors import field_error
from apps.core.htmx import perform
from apps.sso import selectors, services
from apps.sso.models import PROTOCOL_CHOICES
from apps.teams import roles
from apps.teams import selectors as team_selectors
from apps.teams.web_views import sensitive


def _page(request, status=200, fragment=False, form_data=None, **extra):
    scope = request.team_scope
    team = scope.team
    config = selectors.sso_config_of(team)
    base = request.build_absolute_uri("/").rstrip("/")
    role_choices = roles.ROLE_CHOICES + [
        (r.name, f"{r.name} (custom)") for r in team_selectors.team_custom_roles(team)
    ]
    return render(
        request,
        "sso/settings.html",
        {
            "scope": scope,
            "team": team,
            "section": "settings",
            "tab": "sso",
            "can_manage": scope.has(roles.TEAM_MANAGE),
            "can_audit": scope.has(roles.TEAM_AUDIT),
            "config": config,
            "domains": selectors.team_domains(team),
            "protocol_choices": PROTOCOL_CHOICES,
            "role_choices": role_choices,
            "group_roles_text": json.dumps(config.group_roles, indent=1) if config else "",
            "mapping_text": json.dumps(config.attribute_mapping, indent=1) if config else "",
            "redirect_uri": base + reverse("sso:oidc-callback", kwargs={"team_slug": team.slug}),
            "login_url": base + reverse("sso:login", kwargs={"team_slug": team.slug}),
            "saml_metadata_url": base
            + reverse("sso:saml-metadata", kwargs={"team_slug": team.slug}),
            "saml_acs_url": base + reverse("sso:saml-acs", kwargs={"team_slug": team.slug}),
            "form_data": form_data,
            **extra,
        },
        status=status,
    )


def _json_field(request, name: str):
    raw = request.POST.get(name, "").strip()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise field_error(f"{name} must be a JSON object.", name) from None


def _form_data(request) -> dict:
    data = {
        name: request.POST.get(name, "")
        for name in (
            "protocol",
            "issuer",
            "client_id",
            "client_secret",
            "saml_entity_id",
            "saml_sso_url",
            "saml_x509cert",
            "saml_metadata_url",
            "jit_role",
        )
        if name in request.POST
    }
    data["enabled"] = request.POST.get("enabled") == "on"
    data["require_sso"] = request.POST.get("require_sso") == "on"
    data["group_roles"] = _json_field(request, "group_roles")
    if request.POST.get("attribute_mapping", "").strip():
        data["attribute_mapping"] = _json_field(request, "attribute_mapping")
    return data


@sensitive
def sso_settings(request, team):
    if request.method != "POST":
        return _page(request)
    scope = request.team_scope
    return perform(
        request,
        _page,
        lambda: services.sso_config_save(
            team=scope.team, data=_form_data(request), actor=request.user
        ),
        success="Single sign-on saved.",
        redirect_to=reverse("web:team-sso", kwargs={"team": team}),
    )


@sensitive
def domain_add(request, team):
    scope = request.team_scope
    return perform(
        request,
        _page,
        lambda: services.domain_add(
            team=scope.team, domain=request.POST.get("domain", ""), actor=request.user
        ),
        success=lambda row: f"{row.domain} verified for this team.",
        redirect_to=reverse("web:team-sso", kwargs={"team": team}),
    )


@sensitive
def domain_delete(request, team, domain_id):
    scope = request.team_scope
    return perform(
        request,
        _page,
        lambda: services.domain_remove(team=scope.team, domain_id=domain_id, actor=request.user),
        success="Domain removed.",
        redirect_to=reverse("web:team-sso", kwargs={"team": team}),
    )
