"""Team settings → Single sign-on → SCIM provisioning: the base URL, and the team's SCIM
tokens (create: the secret is shown once; revoke). Admins only (team:manage, applied by
TeamScopeMiddleware); creating and revoking ask for a recent sign-in."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from apps.core.htmx import perform
from apps.core.web_input import form_text
from apps.scim import selectors, services
from apps.teams import roles
from apps.teams.web_views import sensitive


def _page(request, status=200, fragment=False, form_data=None, **extra):
    scope = request.team_scope
    team = scope.team
    return render(
        request,
        "scim/partials/tokens.html" if fragment else "scim/settings.html",
        {
            "scope": scope,
            "team": team,
            "section": "settings",
            "tab": "sso",
            "can_manage": scope.has(roles.TEAM_MANAGE),
            "can_audit": scope.has(roles.TEAM_AUDIT),
            "tokens": selectors.scim_tokens(team),
            "base_url": request.build_absolute_uri(
                reverse("scim:root", kwargs={"team_slug": team.slug})
            ),
            "form_data": form_data,
            "fragment": fragment,
            **extra,
        },
        status=status,
    )


@sensitive
def scim_settings(request, team):
    if request.method != "POST":
        return _page(request)
    scope = request.team_scope
    return perform(
        request,
        _page,
        lambda: services.scim_token_create(
            team=scope.team, name=form_text(request, "name", max_length=100), actor=request.user
        ),
        success=lambda result: f"SCIM token {result[0].name} created.",
        redirect_to=reverse("web:team-scim", kwargs={"team": team}),
        result_context=lambda result: {"new_token": result[0], "new_secret": result[1]},
    )


@sensitive
def token_revoke(request, team, scim_token_id):
    scope = request.team_scope
    return perform(
        request,
        _page,
        lambda: services.scim_token_revoke(
            team=scope.team, token_id=scim_token_id, actor=request.user
        ),
        success="SCIM token revoked.",
        redirect_to=reverse("web:team-scim", kwargs={"team": team}),
    )
