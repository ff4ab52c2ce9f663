"""The team "require SSO" policy and its break-glass path.

Guaranteed: a member of a team whose enabled SSO configuration has `require_sso` reaches
the team's routes (web pages and session API calls) only with a session that signed in
through that team's IdP (allauth's authentication record names the team's provider id),
or, for the team's admins, after a break-glass confirmation that is audited
(`sso.break_glass`) and lasts for that session. Everyone else is sent to the team's SSO
sign-in page (web), refused with 403 `sso_required` (API), or has a WebSocket on the
team's routes closed with 4403 (`socket_satisfies`, applied by every live-event consumer).
Not guaranteed: API keys are not refused (like require-MFA: revoke keys made before the
policy if that matters); a user's other teams are unaffected.
"""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records

from apps.sso.selectors import required_sso_for_member

BREAK_GLASS_SESSION_KEY = "gradline_sso_break_glass"


def signed_in_through(request, provider_id: str) -> bool:
    return any(
        record.get("method") == "socialaccount" and record.get("provider") == provider_id
        for record in get_authentication_records(request, request.user)
    )


def break_glass_active(request, team_id: int) -> bool:
    marks = request.session.get(BREAK_GLASS_SESSION_KEY)
    return isinstance(marks, list) and str(team_id) + ":" + str(request.user.pk) in marks


def break_glass_mark(request, team_id: int) -> None:
    marks = request.session.get(BREAK_GLASS_SESSION_KEY)
    marks = list(marks) if isinstance(marks, list) else []
    marks.append(str(team_id) + ":" + str(request.user.pk))
    request.session[BREAK_GLASS_SESSION_KEY] = marks


def session_satisfies(request, config) -> bool:
    return signed_in_through(request, config.provider_id) or break_glass_active(
        request, config.team_id
    )


class _SocketSession:
    """What the checks above read of a request (its session and user), for a WebSocket's
    ASGI scope (Channels' session middleware puts the session there)."""

    def __init__(self, session, user):
        self.session = session if session is not None else {}
        self.user = user


def socket_satisfies(session, user, team_slug: str) -> bool:
    """The policy for a signed-in WebSocket on `team_slug`'s routes, as for its pages:
    True unless the team requires SSO, `user` is its member and the socket's session
    neither signed in through the team's IdP nor broke glass."""
    config = required_sso_for_member(team_slug, user)
    return config is None or session_satisfies(_SocketSession(session, user), config)
