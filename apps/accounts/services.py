"""Account and API key writes."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import keys
from apps.accounts.models import ApiKey, User
from apps.core.errors import DomainError, NotFound
from apps.teams import audit
from apps.teams.models import Team

# last_used_at is written at most this often per key, to keep auth off the write path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def user_signup(*, email: str, password: str | None = None, name: str = "") -> User:
    """Create a user and its personal team of one."""
    from apps.teams.services import personal_team_ensure

    user = User.objects.create_user(email=email, password=password, name=name)
    personal_team_ensure(user)
    return user


@transaction.atomic
def api_key_create(
    *, user: User, name: str, team: Team | None = None, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key acting as `user`; returns (row, secret). The secret is not stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("name is required (at most 100 characters).", detail={"field": "name"})
    secret = keys.generate_key()
    api_key = ApiKey.objects.create(
        user=user,
        team=team,
        name=name,
        prefix=keys.lookup_prefix(secret),
        digest=keys.digest(secret),
        created_by=created_by or user,
    )
    audit.audit_record(
        audit.KEY_CREATED,
        team=team or _personal_team(user),
        actor=created_by or user,
        target=f"{name} ({api_key.prefix})",
    )
    return api_key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User) -> None:
    if api_key.revoked_at is not None:
        raise NotFound("No such API key.")
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit.audit_record(
        audit.KEY_REVOKED,
        team=api_key.team or _personal_team(api_key.user),
        actor=actor,
        target=f"{api_key.name} ({api_key.prefix})",
    )


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The active key for this secret, or None. Constant-time digest comparison."""
    if not keys.is_well_formed(secret):
        return None
    api_key = (
        ApiKey.objects.select_related("user", "team")
        .filter(prefix=keys.lookup_prefix(secret), revoked_at__isnull=True)
        .first()
    )
    if api_key is None or not keys.digest_matches(secret, api_key.digest):
        return None
    if not api_key.user.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def _personal_team(user: User) -> Team | None:
    from apps.teams.models import Membership

    membership = Membership.objects.of_user(user).filter(team__is_personal=True).first()
    return membership.team if membership else None
