"""SCIM reads (team first). A team's SCIM Users are its human members plus the users its
IdP provisioned and deactivated (a `ScimUser` link without a membership); its SCIM Groups
are its roles."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.scim.models import ScimToken, ScimUser
from apps.teams import roles
from apps.teams.models import CustomRole, Membership, Team


def scim_tokens(team: Team) -> QuerySet[ScimToken]:
    return (
        ScimToken.objects.for_team(team)
        .filter(revoked_at__isnull=True)
        .select_related("created_by")
    )


def scim_users(team: Team) -> QuerySet[User]:
    members = Membership.objects.for_team(team).values("user_id")
    linked = ScimUser.objects.for_team(team).values("user_id")
    return (
        User.objects.filter(Q(pk__in=members) | Q(pk__in=linked))
        .filter(is_service_account=False)
        .order_by("pk")
    )


def scim_user(team: Team, user_id) -> User | None:
    try:
        pk = int(str(user_id))
    except ValueError:
        return None
    if not 0 < pk < 2**63:
        return None
    return scim_users(team).filter(pk=pk).first()


def scim_link(team: Team, user: User) -> ScimUser | None:
    return ScimUser.objects.for_team(team).filter(user=user).first()


def memberships_by_user(team: Team, user_ids) -> dict[int, Membership]:
    rows = Membership.objects.for_team(team).filter(user_id__in=list(user_ids))
    return {m.user_id: m for m in rows.select_related("custom_role")}


def links_by_user(team: Team, user_ids) -> dict[int, ScimUser]:
    return {s.user_id: s for s in ScimUser.objects.for_team(team).filter(user_id__in=user_ids)}


def role_names(team: Team) -> list[str]:
    base = [value for value, _ in roles.ROLE_CHOICES]
    return base + list(CustomRole.objects.for_team(team).values_list("name", flat=True))


def role_members(team: Team, role: str) -> QuerySet[Membership]:
    rows = Membership.objects.for_team(team).filter(user__is_service_account=False)
    if role in roles.ROLE_PERMISSIONS:
        rows = rows.filter(role=role, custom_role=None)
    else:
        rows = rows.filter(custom_role__name=role)
    return rows.select_related("user").order_by("user_id")
