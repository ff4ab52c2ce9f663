"""Account and API key reads."""

from __future__ import annotations

from apps.accounts.models import ApiKey, User


def api_keys_of_user(user: User, *, caller_key: ApiKey | None = None):
    """The user's active keys; seen through a team-restricted key, only that team's."""
    keys = ApiKey.objects.filter(user=user, revoked_at__isnull=True).select_related("team")
    if caller_key is not None and caller_key.team_id is not None:
        keys = keys.filter(team_id=caller_key.team_id)
    return keys.order_by("-id")


def api_keys_active(user: User):
    """All of the user's active keys (personal and team-restricted)."""
    return api_keys_of_user(user)


def api_key_active(user: User, key_id: int) -> ApiKey | None:
    """The user's own active key with this id, or None (another user's key is None too)."""
    return api_keys_of_user(user).filter(pk=key_id).first()
