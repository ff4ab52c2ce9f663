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
from apps.teams.models import Invitation, Membership, ServiceAccount, Team
from apps.teams.roles import ADMIN, ROLE_PERMISSIONS

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
    return Membership.objects.for_team(team).filter(role=ADMIN).count()


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
    validate_role(role)
    if membership.role == role:
        return membership
    if membership.role == ADMIN and _admin_count(team) <= 1:
        raise Conflict("The last admin of a team cannot be demoted.", code="last_admin")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.audit_record(
        audit.ROLE_CHANGED,
        team=team,
        actor=actor,
        target=membership.user.email,
        detail={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, team: Team, user_id: int, actor: User) -> None:
    list(Membership.objects.for_team(team).select_for_update().filter(role=ADMIN))
    membership = _membership(team, user_id)
    if membership.user.is_service_account:
        # Its keys would outlive the membership; delete the service account instead.
        raise Conflict(
            "Service accounts are removed by deleting the service account.",
            code="service_account",
        )
    if membership.role == ADMIN and _admin_count(team) <= 1:
        raise Conflict("The last admin of a team cannot leave or be removed.", code="last_admin")
    email = membership.user.email
    membership.delete()
    audit.audit_record(
        audit.MEMBER_REMOVED,
        team=team,
        actor=actor,
        target=email,
        detail={"left": actor.pk == user_id},
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, team: Team, email: str, role: str, actor: User) -> tuple[Invitation, str]:
    """Returns the invitation and its one-time token (only its digest is stored)."""
    validate_role(role)
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
        role=role,
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
    membership = Membership.objects.for_team(team).filter(user=user).first()
    created = membership is None
    if created:
        membership = Membership.objects.for_team(team).create(
            team=team, user=user, role=invitation.role
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
        detail={"role": membership.role, "via": "invitation", "invitation_id": invitation.pk},
    )
    return membership


@transaction.atomic
def service_account_create(*, team: Team, name: str, role: str, actor: User) -> ServiceAccount:
    """A non-human team member (a flagged User) with `role` in `team` and nowhere else."""
    validate_role(role)
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
    Membership.objects.for_team(team).create(team=team, user=user, role=role)
    account = ServiceAccount.objects.for_team(team).create(
        team=team, user=user, name=name, created_by=actor
    )
    audit.audit_record(
        audit.SERVICE_ACCOUNT_CREATED, team=team, actor=actor, target=name, detail={"role": role}
    )
    return account


@transaction.atomic
def service_account_provision(
    *, team: Team, name: str, role: str, actor: User
) -> tuple[ServiceAccount, ApiKey, str]:
    """A service account and its first key, atomically: (account, key, secret)."""
    account = service_account_create(team=team, name=name, role=role, actor=actor)
    api_key, secret = account_services.api_key_create(
        user=account.user, name=f"{account.name} key", team=team, created_by=actor
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
    *, team: Team, account_id: int, name: str, actor: User
) -> tuple[ApiKey, str]:
    """A further key for the account, always restricted to its team."""
    account = _service_account(team, account_id)
    return account_services.api_key_create(
        user=account.user, name=name, team=team, created_by=actor
    )


@transaction.atomic
def service_account_key_revoke(*, team: Team, account_id: int, key_id: int, actor: User) -> None:
    account = _service_account(team, account_id)
    api_key = ApiKey.objects.filter(pk=key_id, user=account.user, revoked_at__isnull=True).first()
    if api_key is None:
        raise NotFound("No such API key.")
    account_services.api_key_revoke(api_key=api_key, actor=actor)
