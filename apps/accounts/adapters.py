"""django-allauth hooks: personal team at signup, login audit, sign-in limits."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied

from apps.accounts import signin_limits
from apps.core.clientip import client_ip
from apps.teams import audit
from apps.teams.selectors import personal_team_of


def _email(credentials: dict) -> str:
    return str(credentials.get("email") or credentials.get("username") or "").strip().lower()


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from apps.teams.services import personal_team_ensure

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            personal_team_ensure(user)
        return user

    def get_client_ip(self, request):
        """The address allauth's own limits (sign-up, password reset, …) count: the same
        trusted-proxy rule as everywhere else (apps.core.clientip)."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client IP address.")
        return ip

    def pre_authenticate(self, request, **credentials):
        """Password sign-in limits (apps.accounts.signin_limits; allauth's own
        `login_failed` is off): a refused attempt is a 429 with Retry-After."""
        signin_limits.login_check(request, _email(credentials))
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

        email = _email(credentials)
        signin_limits.login_failed(request, email)
        user = User.objects.filter(email=email).first()
        audit.audit_record(
            audit.LOGIN_FAILED,
            team=personal_team_of(user) if user else None,
            target=email,
            ip=client_ip(request),
        )
