"""Account and API key writes.

Below apps.teams.services (service accounts get their keys here), so nothing here creates
teams or memberships: flows that do (signup with its personal team, the first-run
bootstrap) are in apps.accounts.onboarding, above both."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts import keys
from apps.accounts.models import ApiKey, User
from apps.accounts.selectors import api_keys_of_user
from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.rows import columns, instances
from apps.projects.services import NAME_RE as PROJECT_NAME_RE
from apps.teams import audit
from apps.teams.mfa import require_mfa_for
from apps.teams.models import Membership, Team
from apps.teams.selectors import personal_team_of

# last_used_at is written at most this often per key, to keep auth off the write path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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


def _key_scopes(team: Team | None, read_only, projects, expires_at) -> dict:
    """Validated scopes of a new key. Projects need a team (names are per team); the
    names need not exist yet (a run may create the project later)."""
    if not isinstance(read_only, bool):
        raise DomainError("read_only must be true or false.", detail={"field": "read_only"})
    projects = list(projects or [])
    if projects:
        if team is None:
            raise DomainError(
                "A key limited to projects must be restricted to a team.",
                detail={"field": "projects"},
            )
        if len(projects) > 100 or not all(
            isinstance(p, str) and PROJECT_NAME_RE.match(p) for p in projects
        ):
            raise DomainError(
                "projects must be at most 100 valid project names.", detail={"field": "projects"}
            )
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("expires_at must be in the future.", detail={"field": "expires_at"})
    return {"read_only": read_only, "projects": sorted(set(projects)), "expires_at": expires_at}


def _require_mfa_for_key(user: User, team: Team | None, actor: User) -> None:
    """Creating a key that reaches a require-MFA team needs the creator to have MFA
    (an unrestricted personal key reaches all of the user's teams)."""
    teams = [team] if team is not None else [m.team for m in Membership.objects.of_user(user)]
    for reached in teams:
        require_mfa_for(reached, actor)


@transaction.atomic
def api_key_create(
    *,
    user: User,
    name: str,
    team: Team | None = None,
    created_by: User | None = None,
    read_only: bool = False,
    projects=(),
    expires_at=None,
) -> tuple[ApiKey, str]:
    """Create a key acting as `user`; returns (row, secret). The secret is not stored.
    Scopes: `read_only`, `projects` (names in `team`), `expires_at` (apps.core.access)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("name is required (at most 100 characters).", detail={"field": "name"})
    scopes = _key_scopes(team, read_only, projects, expires_at)
    _require_mfa_for_key(user, team, created_by or user)
    secret = keys.generate_key()
    api_key = ApiKey.objects.create(
        user=user,
        team=team,
        name=name,
        prefix=keys.lookup_prefix(secret),
        digest=keys.digest(secret),
        created_by=created_by or user,
        **scopes,
    )
    audit.audit_record(
        audit.KEY_CREATED,
        team=team or personal_team_of(user),
        actor=created_by or user,
        target=f"{name} ({api_key.prefix})",
        detail={
            "read_only": scopes["read_only"],
            "projects": scopes["projects"],
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return api_key, secret


@transaction.atomic
def personal_key_create(
    *,
    user: User,
    name: str,
    team_slug: str | None = None,
    caller_key: ApiKey | None = None,
    read_only: bool = False,
    projects=(),
    expires_at=None,
) -> tuple[ApiKey, str]:
    """A key the caller makes for itself, optionally restricted to one of its teams.

    A scoped key never mints a key that reaches further than itself: its new keys are
    restricted to the same team, read-only if it is, within its projects and expiring no
    later than it does. Service accounts get keys from team admins.
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
    if caller_key is not None:
        read_only = read_only or caller_key.read_only
        if caller_key.projects:
            projects = [p for p in (projects or caller_key.projects) if p in caller_key.projects]
            if not projects:
                raise DomainError(
                    "This key may only make keys for its own projects.",
                    detail={"field": "projects"},
                )
        if caller_key.expires_at is not None:
            expires_at = min(expires_at or caller_key.expires_at, caller_key.expires_at)
    return api_key_create(
        user=user,
        name=name,
        team=team,
        read_only=read_only,
        projects=projects,
        expires_at=expires_at,
    )


@transaction.atomic
def personal_key_revoke(*, user: User, key_id: int, caller_key: ApiKey | None = None) -> None:
    api_key = _own_keys(user, caller_key).filter(pk=key_id).first()
    if api_key is None:
        raise NotFound("No such API key.")
    api_key_revoke(api_key=api_key, actor=user)


def _own_keys(user: User, caller_key: ApiKey | None):
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
    WHERE k.prefix = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
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
