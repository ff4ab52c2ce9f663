"""allauth's second-factor forms with Gradline's sign-in limits and audit (MFA_FORMS).

allauth would limit these through its `login_failed` rate, which is off here (the
password limits live in apps.accounts.signin_limits), so without this override codes
could be guessed without limit. Every code allauth accepts passes through `clean_code`:
TOTP and recovery codes, at sign-in and at re-authentication.
"""

from __future__ import annotations

from allauth.core import context
from allauth.mfa.base import forms as mfa_forms
from django.core.exceptions import ValidationError

from apps.accounts import signin_limits
from apps.core.clientip import client_ip
from apps.teams import audit
from apps.teams.selectors import personal_team_of


class _LimitedCodeMixin:
    stage = "login"

    def clean_code(self) -> str:
        request = context.request
        signin_limits.mfa_check(request, self.user)
        try:
            code = super().clean_code()
        except ValidationError:
            signin_limits.mfa_failed(self.user)
            self._audit(audit.MFA_FAILED, {"stage": self.stage})
            raise
        self._audit(
            audit.MFA_SUCCEEDED, {"stage": self.stage, "authenticator": self.authenticator.type}
        )
        return code

    def _audit(self, action: str, detail: dict) -> None:
        audit.audit_record(
            action,
            team=personal_team_of(self.user),
            target=self.user.email,
            detail=detail,
            ip=client_ip(context.request),
        )


class AuthenticateForm(_LimitedCodeMixin, mfa_forms.AuthenticateForm):
    stage = "login"


class ReauthenticateForm(_LimitedCodeMixin, mfa_forms.ReauthenticateForm):
    stage = "reauthenticate"
