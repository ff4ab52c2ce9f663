"""Web entry point of the team scope, and JSON errors for API paths."""

from __future__ import annotations

import logging

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import Http404
from django.shortcuts import redirect, render

from apps.core.access import MethodNotAllowed, NotAuthenticated, open_scope
from apps.core.errors import DomainError, error_response
from apps.teams.mfa import MfaRequired

logger = logging.getLogger(__name__)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


# Error codes for API responses that Django (not our code) produced as HTML.
_STATUS_CODES = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "Permission denied."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "Request body too large."),
    500: ("server_error", "Internal server error."),
}


class JsonErrorMiddleware:
    """Every error under /api/ answers in the JSON error shape (DESIGN.md §8).

    Django itself answers some requests before any view runs: DisallowedHost (400),
    CSRF failures (403), unknown URLs (404). Those arrive here as HTML and are rewritten;
    oversized bodies become 413, and unhandled exceptions a logged JSON 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if _is_api(request) and response.status_code >= 400 and not _is_json(response):
            code, message = _STATUS_CODES.get(
                response.status_code, ("error", f"HTTP {response.status_code}.")
            )
            rewritten = error_response(response.status_code, code, message)
            for header in ("Retry-After", "WWW-Authenticate", "Allow"):
                if header in response:
                    rewritten[header] = response[header]
            return rewritten
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return error_response(
                413,
                "payload_too_large",
                f"Request body exceeds {limit} bytes.",
                {"limit_bytes": limit},
            )
        if isinstance(exception, DomainError):
            retry = (
                (exception.detail or {}).get("retry_after")
                if isinstance(exception.detail, dict)
                else None
            )
            headers = {"Retry-After": str(retry)} if retry else None
            if _is_api(request):
                return error_response(
                    exception.status, exception.code, exception.message, exception.detail, headers
                )
            response = render(
                request,
                "errors/error.html",
                {"status": exception.status, "message": exception.message},
                status=exception.status,
            )
            for key, value in (headers or {}).items():
                response[key] = value
            return response
        if _is_api(request) and not isinstance(exception, Http404):
            logger.exception("Unhandled API error on %s", request.path)
            return error_response(500, "server_error", "Internal server error.")
        return None


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


class TeamScopeMiddleware:
    """Opens the team scope for web pages from the URL (API views do it themselves).

    The scope is stored as `request.team_scope`: under ASGI, `request.scope` is the ASGI
    connection scope that Django itself reads (scheme, headers) and must not be replaced.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.view_name.startswith("api:") or _is_api(request):
            return None
        try:
            request.team_scope = open_scope(
                route_name=match.view_name,
                method=request.method,
                user=request.user,
                team_slug=view_kwargs.get("team"),
                project_name=view_kwargs.get("project"),
            )
        except NotAuthenticated:
            return redirect_to_login(request.get_full_path())
        except MfaRequired as exc:
            # A require-MFA team: enrol first (apps.teams.mfa), then come back.
            messages.warning(request, exc.message)
            return redirect("mfa_index")
        except MethodNotAllowed as exc:
            return render(
                request, "errors/error.html", {"status": 405, "message": exc.message}, status=405
            )
        except DomainError as exc:
            if exc.status == 404:
                raise Http404(exc.message) from exc
            return render(
                request,
                "errors/error.html",
                {"status": exc.status, "message": exc.message},
                status=exc.status,
            )
        return None


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (policy: settings.CONTENT_SECURITY_POLICY), with this
    host's WebSocket origins added to connect-src.

    Guaranteed: every response of the app carries the policy (it sits outside
    JsonErrorMiddleware, so rewritten API errors do too); pages may then load scripts,
    styles, fonts and workers only from this origin, never run inline script, inline
    event handlers, inline styles or eval, and may connect only to this origin over
    HTTP(S) and WebSocket. Not guaranteed: anything for responses a proxy answers
    before Django runs.

    'self' covers ws:/wss: of the page's host in CSP Level 3, but not in every browser
    still in use; the explicit origins do. They come from the Host header Django has
    validated (ALLOWED_HOSTS); a request with a bad host gets the policy without them.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", ()), f"ws://{host}", f"wss://{host}"]
        parts.update = update
        return parts
