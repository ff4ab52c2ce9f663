"""django-allauth hooks: personal team at signup, login audit, login rate limit."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from apps.core import ratelimit
from apps.core.errors import DomainError
from apps.teams import audit


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from apps.teams.services import personal_team_ensure

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            personal_team_ensure(user)
        return user

    def pre_authenticate(self, request, **credentials):
        email = (credentials.get("email") or credentials.get("username") or "").lower()
        for bucket in (f"login:ip:{client_ip(request)}", f"login:email:{email}"):
            wait = ratelimit.hit(bucket, settings.RATE_LIMIT_LOGIN)
            if wait is not None:
                raise RateLimited(
                    "Too many login attempts; try again later.", detail={"retry_after": wait}
                )
        super().pre_authenticate(request, **credentials)

    def login(self, request, user):
        super().login(request, user)
        from apps.accounts.services import _personal_team

        audit.audit_record(
            audit.LOGIN_SUCCEEDED,
            team=_personal_team(user),
            actor=user,
            target=user.email,
            ip=client_ip(request),
        )

    def authentication_failed(self, request, **credentials):
        from apps.accounts.models import User
        from apps.accounts.services import _personal_team

        email = (credentials.get("email") or credentials.get("username") or "").lower()
        user = User.objects.filter(email=email).first()
        audit.audit_record(
            audit.LOGIN_FAILED,
            team=_personal_team(user) if user else None,
            target=email,
            ip=client_ip(request),
        )
