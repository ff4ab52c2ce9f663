"""Team, membership, invitation and service-account writes. Each is atomic."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import services as account_services
from apps.accounts.models import ApiKey, User
from apps.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from apps.core.storage import delete_stored_on_commit
from apps.registry.models import ArtifactBlob
from apps.runs.models import RunFile
from apps.teams import audit
from apps.teams.mfa import MfaRequired, require_mfa_for, user_has_mfa
from apps.teams.models import CustomRole, Invitation, Membership, ServiceAccount, Team
from apps.teams.roles import ADMIN, ALL_PERMISSIONS, ROLE_PERMISSIONS

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# First URL segments that belong to the application, not to a team.
RESERVED_SLUGS = frozenset(
    {
        "api",
        "accounts",
        "admin",
        "static",
        "media",
        "healthz",
        "ws",
        "sdk",
        "teams",
        "settings",
        "invitations",
        "login",
        "logout",
        "signup",
        "new",
        "docs",
        "help",
        "about",
    }
)
INVITATION_TTL = timedelta(days=7)


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise DomainError(
            "Team slug must be 1-64 lowercase letters, digits or dashes, not starting or "
            "ending with a dash.",
            code="invalid_slug",
            detail={"field": "slug"},
        )
    if slug in RESERVED_SLUGS:
        raise DomainError(
            f"Team slug {slug!r} is reserved.", code="invalid_slug", detail={"field": "slug"}
        )
    return slug


def validate_role(role: str) -> str:
    if role not in ROLE_PERMISSIONS:
        raise DomainError(
            f"Unknown role {role!r}; one of {sorted(ROLE_PERMISSIONS)}.",
            code="invalid_role",
            detail={"field": "role"},
        )
    return role


def _role_of(team: Team, role: str) -> tuple[str, CustomRole | None]:
    """(base role, custom role or None) for a role name as set through the API and forms:
    a base role name or the name of one of `team`'s custom roles."""
    if role in ROLE_PERMISSIONS:
        return role, None
    custom = CustomRole.objects.for_team(team).filter(name=role).first() if role else None
    if custom is None:
        choices = sorted(ROLE_PERMISSIONS) + list(
            CustomRole.objects.for_team(team).values_list("name", flat=True)
        )
        raise DomainError(
            f"Unknown role {role!r}; one of {choices}.",
            code="invalid_role",
            detail={"field": "role"},
        )
    return custom.base_role, custom


def _permission_list(values, field: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DomainError(f"{field} must be a list of permission strings.", detail={"field": field})
    unknown = sorted(set(values) - ALL_PERMISSIONS)
    if unknown:
        raise DomainError(
            f"Unknown permissions {unknown}; known: {sorted(ALL_PERMISSIONS)}.",
            code="invalid_permission",
            detail={"field": field},
        )
    return sorted(set(values))


def _custom_role_fields(*, name: str, base_role: str, added, removed) -> dict:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 64:
        raise DomainError("name is required (at most 64 characters).", detail={"field": "name"})
    if name in ROLE_PERMISSIONS:
        raise DomainError(
            f"{name!r} is a built-in role.", code="invalid_role", detail={"field": "name"}
        )
    if base_role not in ROLE_PERMISSIONS:
        raise DomainError(
            f"base_role must be one of {sorted(ROLE_PERMISSIONS)}.",
            code="invalid_role",
            detail={"field": "base_role"},
        )
    return {
        "name": name,
        "base_role": base_role,
        "added": _permission_list(added, "added"),
        "removed": _permission_list(removed, "removed"),
    }


def _role_detail(role: CustomRole) -> dict:
    return {"base_role": role.base_role, "added": role.added, "removed": role.removed}


@transaction.atomic
def custom_role_create(
    *, team: Team, name: str, base_role: str, added=(), removed=(), actor: User
) -> CustomRole:
    fields = _custom_role_fields(
        name=name, base_role=base_role, added=list(added), removed=list(removed)
    )
    if CustomRole.objects.for_team(team).filter(name=fields["name"]).exists():
        raise Conflict(
            f"A role named {fields['name']!r} exists.", code="role_exists", detail={"field": "name"}
        )
    role = CustomRole.objects.for_team(team).create(team=team, **fields)
    audit.audit_record(
        audit.ROLE_CREATED, team=team, actor=actor, target=role.name, detail=_role_detail(role)
    )
    return role


def _custom_role(team: Team, role_id: int, *, lock: bool = False) -> CustomRole:
    roles = CustomRole.objects.for_team(team)
    role = (roles.select_for_update() if lock else roles).filter(pk=role_id).first()
    if role is None:
        raise NotFound("No such role.")
    return role


@transaction.atomic
def custom_role_update(*, team: Team, role_id: int, changes: dict, actor: User) -> CustomRole:
    """Change a custom role's name, base role or permissions; its members follow at once
    (their base role is kept in step)."""
    role = _custom_role(team, role_id, lock=True)
    before = _role_detail(role)
    fields = _custom_role_fields(
        name=changes.get("name", role.name),
        base_role=changes.get("base_role", role.base_role),
        added=changes.get("added", role.added),
        removed=changes.get("removed", role.removed),
    )
    clash = CustomRole.objects.for_team(team).filter(name=fields["name"]).exclude(pk=role.pk)
    if clash.exists():
        raise Conflict(
            f"A role named {fields['name']!r} exists.", code="role_exists", detail={"field": "name"}
        )
    for key, value in fields.items():
        setattr(role, key, value)
    role.save()
    Membership.objects.for_team(team).filter(custom_role=role).update(role=role.base_role)
    Invitation.objects.for_team(team).filter(custom_role=role).update(role=role.base_role)
    audit.audit_record(
        audit.ROLE_UPDATED,
        team=team,
        actor=actor,
        target=role.name,
        detail={"from": before, "to": _role_detail(role)},
    )
    return role


@transaction.atomic
def custom_role_delete(*, team: Team, role_id: int, actor: User) -> None:
    role = _custom_role(team, role_id, lock=True)
    if Membership.objects.for_team(team).filter(custom_role=role).exists():
        raise Conflict(
            "This role is assigned to members; give them another role first.", code="role_in_use"
        )
    pending = Invitation.objects.for_team(team).filter(
        custom_role=role, accepted_at__isnull=True, expires_at__gt=timezone.now()
    )
    if pending.exists():
        raise Conflict(
            "A pending invitation grants this role; revoke it first.", code="role_in_use"
        )
    name = role.name
    role.delete()
    audit.audit_record(audit.ROLE_DELETED, team=team, actor=actor, target=name)


@transaction.atomic
def team_set_require_mfa(*, team: Team, require_mfa: bool, actor: User) -> Team:
    """Switch the require-MFA policy (apps.teams.mfa). The admin switching it on must
    have a second factor, so the change cannot lock its own author out."""
    if not isinstance(require_mfa, bool):
        raise DomainError("require_mfa must be true or false.", detail={"field": "require_mfa"})
    if require_mfa == team.require_mfa:
        return team
    if require_mfa and not user_has_mfa(actor):
        raise MfaRequired(
            "Set up two-factor authentication yourself before requiring it of the team.",
            detail={"field": "require_mfa"},
        )
    Team.objects.filter(pk=team.pk).update(require_mfa=require_mfa)
    team.require_mfa = require_mfa
    audit.audit_record(
        audit.POLICY_CHANGED, team=team, actor=actor, detail={"require_mfa": require_mfa}
    )
    return team


@transaction.atomic
def team_create(*, creator: User, slug: str, name: str = "", is_personal: bool = False) -> Team:
    if creator.is_service_account:
        # A service account is a member of exactly one team, by design.
        raise PermissionDenied("Service accounts cannot create teams.", code="service_account")
    validate_slug(slug)
    try:
        with transaction.atomic():
            team = Team.objects.create(slug=slug, name=name or slug, is_personal=is_personal)
    except IntegrityError as exc:
        raise Conflict(
            f"Team slug {slug!r} is taken.", code="slug_taken", detail={"field": "slug"}
        ) from exc
    Membership.objects.for_team(team).create(team=team, user=creator, role=ADMIN)
    return team


@transaction.atomic
def team_update(*, team: Team, name: str, actor: User | None = None) -> Team:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise DomainError("name is required (at most 128 characters).", detail={"field": "name"})
    Team.objects.filter(pk=team.pk).update(name=name)
    team.name = name
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    """Delete a team and everything it owns. A personal team lives as long as its user."""
    if team.is_personal:
        raise Conflict("A personal team cannot be deleted.", code="personal_team")
    with transaction.atomic():
        delete_stored_on_commit(
            [
                *RunFile.objects.for_team(team).values_list("storage_name", flat=True),
                *ArtifactBlob.objects.for_team(team).values_list("storage_name", flat=True),
            ]
        )
        team.delete()


def _free_personal_slug(email: str) -> str:
    """A free slug from the email's local part ("ada.lovelace" -> "ada-lovelace").

    slugify() alone keeps "_" and drops ".", and "_" does not match SLUG_RE, so the
    team's pages would be unreachable; collapse every other character to a dash.
    """
    local = slugify(email.split("@")[0].replace(".", "-").replace("+", "-"))
    base = re.sub(r"[^a-z0-9]+", "-", local)[:50].strip("-") or "user"
    if base in RESERVED_SLUGS:
        base = f"{base}-team"
    candidate = base
    while Team.objects.filter(slug=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def personal_team_ensure(user: User) -> Team:
    """Every human user has exactly one personal team (created at signup)."""
    membership = Membership.objects.of_user(user).filter(team__is_personal=True).first()
    if membership:
        return membership.team
    return team_create(
        creator=user, slug=_free_personal_slug(user.email), name=user.display_name, is_personal=True
    )


def _admin_count(team: Team) -> int:
    """Members with the plain admin role: a team always keeps one (custom roles built on
    admin may drop team:manage, so they do not count)."""
    return Membership.objects.for_team(team).filter(role=ADMIN, custom_role=None).count()


def _is_plain_admin(membership: Membership) -> bool:
    return membership.role == ADMIN and membership.custom_role_id is None


def _membership(team: Team, user_id: int) -> Membership:
    membership = Membership.objects.for_team(team).filter(user_id=user_id).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


@transaction.atomic
def membership_add(*, team: Team, user: User, role: str, actor: User | None = None) -> Membership:
    validate_role(role)
    if team.is_personal:
        raise Conflict("A personal team has exactly one member.", code="personal_team")
    membership, created = Membership.objects.for_team(team).get_or_create(
        team=team, user=user, defaults={"role": role}
    )
    if created:
        audit.audit_record(
            audit.MEMBER_ADDED, team=team, actor=actor, target=user.email, detail={"role": role}
        )
    return membership


@transaction.atomic
def membership_set_role(*, team: Team, user_id: int, role: str, actor: User) -> Membership:
    # Lock the team's admin rows so two concurrent demotions cannot both pass the check.
    list(Membership.objects.for_team(team).select_for_update().filter(role=ADMIN))
    membership = _membership(team, user_id)  # another team's member: 404 before 400
    base_role, custom = _role_of(team, role)
    if membership.role_name == role:
        return membership
    if _is_plain_admin(membership) and _admin_count(team) <= 1:
        raise Conflict("The last admin of a team cannot be demoted.", code="last_admin")
    old = membership.role_name
    membership.role, membership.custom_role = base_role, custom
    membership.save(update_fields=["role", "custom_role"])
    audit.audit_record(
        audit.ROLE_CHANGED,
        team=team,
        actor=actor,
        target=membership.user.email,
        detail={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, team: Team, user_id: int, actor: User | None, via: str = "") -> None:
    """`actor` None with `via` naming the system that removed the member (SCIM)."""
    list(Membership.objects.for_team(team).select_for_update().filter(role=ADMIN))
    membership = _membership(team, user_id)
    if membership.user.is_service_account:
        # Its keys would outlive the membership; delete the service account instead.
        raise Conflict(
            "Service accounts are removed by deleting the service account.",
            code="service_account",
        )
    if _is_plain_admin(membership) and _admin_count(team) <= 1:
        raise Conflict("The last admin of a team cannot leave or be removed.", code="last_admin")
    email = membership.user.email
    membership.delete()
    audit.audit_record(
        audit.MEMBER_REMOVED,
        team=team,
        actor=actor,
        target=email,
        detail={"left": actor is not None and actor.pk == user_id} | ({"via": via} if via else {}),
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, team: Team, email: str, role: str, actor: User) -> tuple[Invitation, str]:
    """Returns the invitation and its one-time token (only its digest is stored).
    `role` is a base role or the name of one of the team's custom roles."""
    base_role, custom = _role_of(team, role)
    if team.is_personal:
        raise Conflict("A personal team cannot invite members.", code="personal_team")
    email = email.strip().lower()
    if Membership.objects.for_team(team).filter(user__email=email).exists():
        raise Conflict(
            f"{email} is already a member of this team.",
            code="already_member",
            detail={"field": "email"},
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.for_team(team).create(
        team=team,
        email=email,
        role=base_role,
        custom_role=custom,
        token_digest=_token_digest(token),
        invited_by=actor,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    audit.audit_record(
        audit.INVITATION_CREATED,
        team=team,
        actor=actor,
        target=email,
        detail={"role": role},
    )
    return invitation, token


@transaction.atomic
def invitation_revoke(*, team: Team, invitation_id: int, actor: User) -> None:
    invitation = (
        Invitation.objects.for_team(team).filter(pk=invitation_id, accepted_at__isnull=True).first()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    invitation.delete()
    audit.audit_record(audit.INVITATION_REVOKED, team=team, actor=actor, target=invitation.email)


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Accept by token. The token is the capability; the invitee's email must match."""
    invitation = (
        Invitation.objects.across_teams()
        .select_for_update(of=("self",))
        .filter(token_digest=_token_digest(token), accepted_at__isnull=True)
        .select_related("team")
        .first()
    )
    if invitation is None or invitation.expires_at < timezone.now():
        raise NotFound("This invitation does not exist, was used, or has expired.")
    if invitation.email != user.email.lower():
        raise NotFound("This invitation was sent to another email address.")
    team = invitation.team
    require_mfa_for(team, user)
    membership = Membership.objects.for_team(team).filter(user=user).first()
    created = membership is None
    if created:
        membership = Membership.objects.for_team(team).create(
            team=team, user=user, role=invitation.role, custom_role=invitation.custom_role
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    # One row per action: joining is a member add; accepting while already a member
    # changes nothing but is still recorded.
    audit.audit_record(
        audit.MEMBER_ADDED if created else audit.INVITATION_ACCEPTED,
        team=team,
        actor=user,
        target=user.email,
        detail={"role": membership.role_name, "via": "invitation", "invitation_id": invitation.pk},
    )
    return membership


@transaction.atomic
def service_account_create(*, team: Team, name: str, role: str, actor: User) -> ServiceAccount:
    """A non-human team member (a flagged User) with `role` (a base or custom role name) in
    `team` and nowhere else."""
    base_role, custom = _role_of(team, role)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("name is required (at most 100 characters).", detail={"field": "name"})
    if team.is_personal:
        raise Conflict("A personal team has exactly one member.", code="personal_team")
    user = User.objects.create_user(
        email=f"sa-{secrets.token_hex(8)}@{team.slug}.service.gradline",
        name=name,
        is_service_account=True,
    )
    Membership.objects.for_team(team).create(
        team=team, user=user, role=base_role, custom_role=custom
    )
    account = ServiceAccount.objects.for_team(team).create(
        team=team, user=user, name=name, created_by=actor
    )
    audit.audit_record(
        audit.SERVICE_ACCOUNT_CREATED, team=team, actor=actor, target=name, detail={"role": role}
    )
    return account


@transaction.atomic
def service_account_provision(
    *, team: Team, name: str, role: str, actor: User, **scopes
) -> tuple[ServiceAccount, ApiKey, str]:
    """A service account and its first key, atomically: (account, key, secret). `scopes`
    (read_only, projects, expires_at) are those of apps.accounts.services.api_key_create."""
    account = service_account_create(team=team, name=name, role=role, actor=actor)
    api_key, secret = account_services.api_key_create(
        user=account.user, name=f"{account.name} key", team=team, created_by=actor, **scopes
    )
    return account, api_key, secret


def _service_account(team: Team, account_id: int) -> ServiceAccount:
    account = ServiceAccount.objects.for_team(team).filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such service account.")
    return account


@transaction.atomic
def service_account_delete(*, team: Team, account_id: int, actor: User) -> None:
    account = _service_account(team, account_id)
    name = account.name
    account.user.delete()  # cascades its membership and keys
    audit.audit_record(audit.SERVICE_ACCOUNT_DELETED, team=team, actor=actor, target=name)


@transaction.atomic
def service_account_key_create(
    *, team: Team, account_id: int, name: str, actor: User, **scopes
) -> tuple[ApiKey, str]:
    """A further key for the account, always restricted to its team (scopes as in
    apps.accounts.services.api_key_create)."""
    account = _service_account(team, account_id)
    return account_services.api_key_create(
        user=account.user, name=name, team=team, created_by=actor, **scopes
    )


@transaction.atomic
def service_account_key_revoke(*, team: Team, account_id: int, key_id: int, actor: User) -> None:
    account = _service_account(team, account_id)
    api_key = ApiKey.objects.filter(pk=key_id, user=account.user, revoked_at__isnull=True).first()
    if api_key is None:
        raise NotFound("No such API key.")
    account_services.api_key_revoke(api_key=api_key, actor=actor)
