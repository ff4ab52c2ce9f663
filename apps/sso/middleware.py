"""Applies the require-SSO policy (apps.sso.enforcement) to team routes.

Runs after TeamScopeMiddleware, so on web pages a non-member has had its 404 already;
on API routes it acts only for members (apps.sso.selectors.required_sso_for_member), so
a stranger still gets the API's own 404. Requests carrying an Authorization header are
left to the API's key authentication.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from apps.sso import enforcement, selectors


class RequireSSOMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("team")
        match = request.resolver_match
        if (
            not isinstance(slug, str)
            or match is None
            or match.namespace == "sso"
            or "HTTP_AUTHORIZATION" in request.META
            or not request.user.is_authenticated
        ):
            return None
        config = selectors.required_sso_for_member(slug, request.user)
        if config is None or enforcement.session_satisfies(request, config):
            return None
        login = reverse("sso:login", kwargs={"team_slug": slug})
        if match.namespace == "api":
            return JsonResponse(
                {
                    "error": {
                        "code": "sso_required",
                        "message": f"Team {slug!r} requires signing in through its identity "
                        "provider.",
                        "detail": {"team": slug, "sign_in": login},
                    }
                },
                status=403,
            )
        return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
