"""The page for allauth's own rate limits (config.urls.handler429)."""

from __future__ import annotations

import math

from allauth.account import app_settings as account_settings
from allauth.core.internal.ratelimit import parse_rates
from django.shortcuts import render


def allauth_retry_after() -> int:
    """Seconds after which every allauth limit has room again: its longest window.

    allauth does not tell its 429 handler which limit refused, so this is an upper bound
    (its windows slide, so none stays full longer than its duration)."""
    durations = [
        rate.duration
        for rates in account_settings.RATE_LIMITS.values()
        for rate in parse_rates(rates)
    ]
    return max(1, math.ceil(max(durations, default=60)))


def rate_limited(request):
    """allauth's 429 (sign-up, password reset, email verification, …), in the app's error
    page and with the Retry-After header every 429 of the app carries."""
    wait = allauth_retry_after()
    response = render(
        request,
        "errors/error.html",
        {"status": 429, "message": f"Too many requests; try again in {wait} seconds."},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response
