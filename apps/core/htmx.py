"""Responses for server-rendered pages that htmx enhances (progressive enhancement).

Every form works without JavaScript; htmx only swaps the part of the page a form
changes. The rules, shared by all web views:
- success, htmx: the page's section fragment (its template includes #flash out of band);
- success, plain POST: a message and a redirect (post/redirect/get);
- DomainError, htmx: an alert fragment with the error's status (403, 404, 409 …);
  static/js/app.js swaps error responses into #flash, leaving the section intact;
- DomainError, plain POST: the full page again, with the message and the error's status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import DomainError

# Renders one page: page(request, status=200, fragment=False, **extra_context).
Page = Callable[..., HttpResponse]


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_alert(request: HttpRequest, message: str, *, status: int, level: str = "error"):
    return render(
        request, "partials/alert.html", {"level": level, "message": message}, status=status
    )


def perform(
    request: HttpRequest,
    page: Page,
    action: Callable[[], Any],
    *,
    success: str | Callable[[Any], str],
    redirect_to: str | Callable[[Any], str],
    result_context: Callable[[Any], dict] | None = None,
) -> HttpResponse:
    """Run `action` (a service call) and answer per the module rules.

    `result_context` turns the action's result into extra page context; when given, a
    plain POST renders the page instead of redirecting, because the context holds
    something shown once (an API key secret) that must not be put in a URL or session.
    `redirect_to` may be a function of the result, for URLs that exist only after the
    action succeeded (a new team or project, a renamed project).
    """
    try:
        result = action()
    except DomainError as exc:
        if is_htmx(request):
            return render_alert(request, exc.message, status=exc.status)
        messages.error(request, exc.message)
        return page(request, status=exc.status, form_data=request.POST)
    messages.success(request, success(result) if callable(success) else success)
    extra = result_context(result) if result_context else {}
    if is_htmx(request):
        return page(request, fragment=True, **extra)
    if result_context:
        return page(request, **extra)
    return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)
