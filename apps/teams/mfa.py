"""The team "require MFA" policy.

Guaranteed: a member of a team with `require_mfa` who has no second factor (an allauth.mfa
TOTP or WebAuthn authenticator; recovery codes alone do not count) is refused with
MfaRequired (403, code `mfa_required`) on every session request to the team's routes
(apps.core.access.open_scope), when creating an API key that reaches the team, and when
accepting an invitation to it; the web turns the refusal into a redirect to enrolment
(apps.core.middleware). Not guaranteed: API keys made before the policy was switched on
keep working (revoke them if that matters); requests with an API key are not refused.
"""

from __future__ import annotations

from apps.core.errors import DomainError


class MfaRequired(DomainError):
    status = 403
    code = "mfa_required"


def user_has_mfa(user) -> bool:
    from allauth.mfa.utils import is_mfa_enabled

    return bool(user and user.is_authenticated and is_mfa_enabled(user))


def require_mfa_for(team, user) -> None:
    """Raise MfaRequired when `team` requires MFA and `user` has none."""
    if team is not None and team.require_mfa and not user_has_mfa(user):
        raise MfaRequired(
            f"Team {team.slug!r} requires two-factor authentication: set up an "
            "authenticator app in your account's two-factor settings first.",
            detail={"team": team.slug, "enrol": "/accounts/2fa/"},
        )
