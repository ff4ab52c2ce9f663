"""django-allauth hooks: personal team at signup, login audit, login rate limit."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from apps.core import ratelimit
from apps.core.clientip import client_ip
from apps.core.errors import DomainError
from apps.teams import audit
from apps.teams.selectors import personal_team_of


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def _email(credentials: dict) -> str:
    return str(credentials.get("email") or credentials.get("username") or "").strip().lower()


def _email_bucket(credentials: dict) -> str:
    return f"login-failed:email:{_email(credentials)}"


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from apps.teams.services import personal_team_ensure

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            personal_team_ensure(user)
        return user

    def pre_authenticate(self, request, **credentials):
        """Login rate limits (the only ones: allauth's own `login_failed` is off).

        Every attempt counts against the client IP (RATE_LIMIT_LOGIN); failures count
        against the email (RATE_LIMIT_LOGIN_FAILED, consumed in authentication_failed),
        so a password guesser is stopped per account without locking out a user who
        signs in often. A refused attempt is a 429 with Retry-After.
        """
        waits = [
            ratelimit.hit(f"login:ip:{client_ip(request)}", settings.RATE_LIMIT_LOGIN),
            ratelimit.blocked(_email_bucket(credentials), settings.RATE_LIMIT_LOGIN_FAILED),
        ]
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            raise RateLimited(
                "Too many login attempts; try again later.", detail={"retry_after": wait}
            )
        super().pre_authenticate(request, **credentials)

    def login(self, request, user):
        super().login(request, user)
        audit.audit_record(
            audit.LOGIN_SUCCEEDED,
            team=personal_team_of(user),
            actor=user,
            target=user.email,
            ip=client_ip(request),
        )

    def authentication_failed(self, request, **credentials):
        from apps.accounts.models import User

        ratelimit.hit(_email_bucket(credentials), settings.RATE_LIMIT_LOGIN_FAILED)
        email = _email(credentials)
        user = User.objects.filter(email=email).first()
        audit.audit_record(
            audit.LOGIN_FAILED,
            team=personal_team_of(user) if user else None,
            target=email,
            ip=client_ip(request),
        )
