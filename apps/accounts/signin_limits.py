"""Sign-in limits: how fast passwords and second-factor codes may be guessed.

What is limited (settings in config/settings/base.py; docs/operations.md, "Sign-in
limits"), all through the Redis-backed sliding windows of apps.core.ratelimit:
- every password attempt, per client IP (RATE_LIMIT_LOGIN), hard;
- wrong passwords for one account from one client IP (RATE_LIMIT_LOGIN_FAILED), hard:
  one address cannot keep guessing one account;
- wrong passwords for one account from anywhere (RATE_LIMIT_LOGIN_ACCOUNT), soft:
  beyond it attempts must come 1, 2, 4, … up to RATE_LIMIT_LOGIN_BACKOFF_MAX_S seconds
  apart. A guesser spread over many addresses is slowed to one guess per that many
  seconds, while the owner, from any address, waits at most that long: knowing an
  email is not enough to lock its owner out;
- second-factor attempts (TOTP and recovery codes, at sign-in and re-authentication),
  per client IP (RATE_LIMIT_MFA_IP), and wrong codes per user (RATE_LIMIT_MFA), hard:
  only someone who already knows the password gets that far.

Guarantees: a refused attempt is a 429 with Retry-After raised before any credential is
checked, so the right password or code is refused too while a limit is full; a refused
attempt is neither counted as a failure nor audited, so audit rows per client stay
bounded by these limits. Not guaranteed: protection against a guesser with more
addresses than RATE_LIMIT_LOGIN_FAILED can tell apart (the account back-off still
applies), nor limits on flows other than these (allauth limits sign-up, password reset
and the like itself, also with Retry-After).
"""

from __future__ import annotations

from django.conf import settings

from apps.core import ratelimit
from apps.core.clientip import client_ip
from apps.core.errors import DomainError


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def _refuse_if_waiting(waits: list[int | None], message: str) -> None:
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise RateLimited(message, detail={"retry_after": wait})


def _login_buckets(request, email: str) -> tuple[str, str]:
    email = email.strip().lower()
    return f"login-failed:account-ip:{email}:{client_ip(request)}", f"login-failed:{email}"


def login_check(request, email: str) -> None:
    """Count one password attempt; raise RateLimited if any login limit is full."""
    account_ip, account = _login_buckets(request, email)
    _refuse_if_waiting(
        [
            ratelimit.blocked(account_ip, settings.RATE_LIMIT_LOGIN_FAILED),
            ratelimit.backoff_blocked(
                account, settings.RATE_LIMIT_LOGIN_ACCOUNT, settings.RATE_LIMIT_LOGIN_BACKOFF_MAX_S
            ),
            ratelimit.hit(f"login:ip:{client_ip(request)}", settings.RATE_LIMIT_LOGIN),
        ],
        "Too many sign-in attempts; try again later.",
    )


def login_failed(request, email: str) -> None:
    """Count one wrong password against the account, from this IP and from anywhere."""
    account_ip, account = _login_buckets(request, email)
    ratelimit.hit(account_ip, settings.RATE_LIMIT_LOGIN_FAILED)
    ratelimit.backoff_record(
        account, settings.RATE_LIMIT_LOGIN_ACCOUNT, settings.RATE_LIMIT_LOGIN_BACKOFF_MAX_S
    )


def mfa_check(request, user) -> None:
    """Count one second-factor attempt; raise RateLimited if a second-factor limit is
    full (before the code is looked at)."""
    _refuse_if_waiting(
        [
            ratelimit.blocked(f"mfa-failed:user:{user.pk}", settings.RATE_LIMIT_MFA),
            ratelimit.hit(f"mfa:ip:{client_ip(request)}", settings.RATE_LIMIT_MFA_IP),
        ],
        "Too many two-factor attempts; try again later.",
    )


def mfa_failed(user) -> None:
    """Count one wrong second-factor code against the user."""
    ratelimit.hit(f"mfa-failed:user:{user.pk}", settings.RATE_LIMIT_MFA)
