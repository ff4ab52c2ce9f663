"""Account and API key writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts import keys
from apps.accounts.models import ApiKey, User
from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.rows import columns, instances
from apps.teams import audit
from apps.teams.models import Membership, Team
from apps.teams.selectors import personal_team_of

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
def email_mark_verified(*, email: str) -> User:
    """An operator vouches for a user's address (`manage.py verify_email`): where mail does
    not leave the server, the confirmation link never arrives, and two-factor setup
    needs a verified address. Makes it the primary address; recorded in the audit log."""
    from allauth.account.models import EmailAddress

    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise NotFound(f"No user has the email {email!r}.")
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email__iexact=email, defaults={"email": user.email}
    )
    EmailAddress.objects.filter(user=user, primary=True).exclude(pk=address.pk).update(
        primary=False
    )
    address.verified = address.primary = True
    address.save(update_fields=["verified", "primary"])
    audit.audit_record(
        audit.EMAIL_VERIFIED_BY_ADMIN, team=personal_team_of(user), target=user.email
    )
    return user


@dataclass
class BootstrapResult:
    user: User
    team: Team
    secret: str
    user_created: bool
    team_created: bool
    password_set: bool


@transaction.atomic
def bootstrap(*, email: str, team_slug: str, password: str | None = None) -> BootstrapResult:
    """Idempotent first-run setup (`manage.py bootstrap`): user, team, and a new key.

    - The user is created when missing, with `password` or else an unusable password;
      an existing user keeps its password unless one is given. Its email counts as
      verified (the operator vouches for it), so mandatory verification does not lock
      the first admin out.
    - Team `team_slug` is created when missing; the user is made its admin either way.
    - Every call makes a new personal API key and returns its secret (shown once).
    """
    from allauth.account.models import EmailAddress
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from apps.teams import services as team_services
    from apps.teams.roles import ADMIN

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(f"{email!r} is not a valid email address.") from exc
    team_services.validate_slug(team_slug)

    user = User.objects.filter(email=email).first()
    user_created = user is None
    if user is None:
        # Created without its personal team so the slug `team_slug` stays free for T.
        user = User.objects.create_user(email=email, password=password)
    elif user.is_service_account:
        raise DomainError(f"{email} is a service account.")
    elif password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )

    team = Team.objects.filter(slug=team_slug).first()
    team_created = team is None
    if team is None:
        team = team_services.team_create(creator=user, slug=team_slug, name=team_slug)
    else:
        membership = Membership.objects.for_team(team).filter(user=user).first()
        if membership is None:
            if team.is_personal:
                raise DomainError(f"Team {team_slug!r} is another user's personal team.")
            team_services.membership_add(team=team, user=user, role=ADMIN)
        elif membership.role != ADMIN:
            team_services.membership_set_role(team=team, user_id=user.pk, role=ADMIN, actor=user)
    team_services.personal_team_ensure(user)
    _, secret = api_key_create(user=user, name="bootstrap")
    return BootstrapResult(user, team, secret, user_created, team_created, password is not None)


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
        team=team or personal_team_of(user),
        actor=created_by or user,
        target=f"{name} ({api_key.prefix})",
    )
    return api_key, secret


@transaction.atomic
def personal_key_create(
    *, user: User, name: str, team_slug: str | None = None, caller_key: ApiKey | None = None
) -> tuple[ApiKey, str]:
    """A key the caller makes for itself, optionally restricted to one of its teams.

    A team-restricted key never mints a key that reaches further than itself: its new
    keys are restricted to the same team. Service accounts get keys from team admins.
    """
    if user.is_service_account:
        raise PermissionDenied(
            "Service account keys are managed by the team's admins.", code="service_account"
        )
    team = None
    if team_slug:
        membership = Membership.objects.of_user(user).filter(team__slug=team_slug).first()
        if membership is None:
            raise NotFound("No such team.", detail={"field": "team"})
        team = membership.team
    if caller_key is not None and caller_key.team_id is not None:
        if team is None:
            team = caller_key.team
        elif team.pk != caller_key.team_id:
            raise NotFound("No such team.", detail={"field": "team"})
    return api_key_create(user=user, name=name, team=team)


@transaction.atomic
def personal_key_revoke(*, user: User, key_id: int, caller_key: ApiKey | None = None) -> None:
    api_key = _own_keys(user, caller_key).filter(pk=key_id).first()
    if api_key is None:
        raise NotFound("No such API key.")
    api_key_revoke(api_key=api_key, actor=user)


def _own_keys(user: User, caller_key: ApiKey | None):
    from apps.accounts.selectors import api_keys_of_user

    return api_keys_of_user(user, caller_key=caller_key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User) -> None:
    if api_key.revoked_at is not None:
        raise NotFound("No such API key.")
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit.audit_record(
        audit.KEY_REVOKED,
        team=api_key.team or personal_team_of(api_key.user),
        actor=actor,
        target=f"{api_key.name} ({api_key.prefix})",
    )


# The key with its user and team in one round trip (runs on every API request). Column
# names come from model metadata; the prefix is bound.
_KEY_LOOKUP_SQL = f"""
    SELECT {columns(ApiKey, "k")}, {columns(User, "u")}, {columns(Team, "t")}
    FROM {ApiKey._meta.db_table} k
    JOIN {User._meta.db_table} u ON u.id = k.user_id
    LEFT JOIN {Team._meta.db_table} t ON t.id = k.team_id
    WHERE k.prefix = %s AND k.revoked_at IS NULL
"""  # noqa: S608


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The active key for this secret, or None. Constant-time digest comparison."""
    if not keys.is_well_formed(secret):
        return None
    with connection.cursor() as cur:
        cur.execute(_KEY_LOOKUP_SQL, [keys.lookup_prefix(secret)])
        row = cur.fetchone()
    api_key = None
    if row is not None:
        api_key, user, team = instances(row, ApiKey, User, Team)
        api_key.user, api_key.team = user, team
    if api_key is None or not keys.digest_matches(secret, api_key.digest):
        return None
    if not api_key.user.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
