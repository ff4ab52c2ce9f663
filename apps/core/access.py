"""Opening the team scope at an entry point, and checking the policy table.

Every entry point (web middleware, API base class, WebSocket consumer base) calls
`open_scope`, so the rules below hold identically for all of them:
- the team comes from the URL; a user who is not a member gets NotFound (404), the same
  answer as for a team that does not exist;
- an API key restricted to a team reaches only that team (NotFound elsewhere);
- a member whose role lacks the route's permission gets PermissionDenied (403);
- a public project is readable by anyone (signed in or not); an open project is readable
  by anyone and takes runs (`runs:write_own`) from any signed-in user. Once a project is
  visible to the caller, a missing permission is 403 (401 when not signed in).
- a member's permissions are its role's, or its custom role's (apps.teams.roles is the
  one mapping; a custom role is data resolved there);
- API key scopes: a read-only key keeps only read permissions (a write answers 403); a
  key limited to projects reaches only those projects of its team (404 on any other
  project's routes and on team-wide routes); expiry is refused at authentication (401);
- a team with `require_mfa` refuses session callers without a second factor
  (apps.teams.mfa.MfaRequired, 403 `mfa_required`; the web redirects to enrolment).

Object rules ("run ownership"): a route whose permission for the method is an `*_own`
one (roles.OWN_WIDENS_TO) serves, among the objects it addresses, only those the caller
created, unless the caller also holds the wide permission. `require_owner_or` is the one
implementation; `Scope.require_owner` applies it to the object a request addresses (the
API resolves the run with it), and services that find the object themselves (resume by
id, a run named in a body) call `require_owner_or` directly. Not guaranteed here: that a
handler resolves its object through them: tests/core/test_policy.py fails on a run write
without an `*_own` permission, and tests/runs/test_ownership.py requests every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.policy import PROJECT, PUBLIC, SAFE_METHODS, TEAM, USER, Route, route_for
from apps.core.rows import columns, instances
from apps.projects.models import Project, Visibility
from apps.teams import roles
from apps.teams.mfa import require_mfa_for
from apps.teams.models import CustomRole, Membership, Team
from apps.teams.roles import ADMIN, READ_ONLY_KEY_PERMISSIONS, membership_permissions

# What a non-member gets on a public (read) or open (read + log runs) project: on an open
# project outsiders create runs and change only their own.
READ_ONLY = roles.READ
OPEN_WRITES = frozenset({roles.RUNS_WRITE_OWN})


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"


@dataclass
class Scope:
    route: Route
    team: Team | None = None
    membership: Membership | None = None
    project: Project | None = None
    permissions: frozenset[str] = frozenset()
    method: str = ""
    actor: Any = None  # the signed-in user (or the user an API key acts as)

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def require_owner(self, owner_id: int | None, what: str = "object") -> None:
        """Apply the route's object rule to the object this request addresses, created by
        `owner_id` (None: creator unknown or deleted). A no-op unless the method's
        permission is an `*_own` one; then PermissionDenied (403) unless the caller
        created the object or holds the wide permission."""
        own = self.route.permission_for(self.method)[1]
        wide = roles.OWN_WIDENS_TO.get(own or "")
        if wide is not None:
            require_owner_or(self.permissions, wide, owner_id=owner_id, actor=self.actor, what=what)


def is_owner(owner_id: int | None, actor) -> bool:
    return owner_id is not None and owner_id == getattr(actor, "pk", None)


def may_act_on(permissions: frozenset[str], own: str, *, owner_id: int | None, actor) -> bool:
    """Whether `permissions` allow the `*_own` permission `own` on an object created by
    `owner_id`: the wide one (roles.OWN_WIDENS_TO) on any, `own` on the actor's own. For
    pages deciding which controls to offer; requests are refused by require_owner_or."""
    wide = roles.OWN_WIDENS_TO[own]
    return wide in permissions or (own in permissions and is_owner(owner_id, actor))


def require_owner_or(
    permissions: frozenset[str], wide: str, *, owner_id: int | None, actor, what: str = "object"
) -> None:
    """The ownership rule: `actor` may act on an object it created (`owner_id`), or on any
    with the `wide` permission (admins hold runs:write and runs:delete). Raises
    PermissionDenied (403, code permission_denied, detail.permission naming `wide`).

    Guaranteed: an object without a recorded creator is reachable only with `wide`.
    Not checked here: the `*_own` permission itself, which the route's policy entry
    requires before the handler runs (open_scope)."""
    if wide in permissions or is_owner(owner_id, actor):
        return
    raise PermissionDenied(
        f"This {what} was created by someone else: your role may change only the {what}s "
        f"it created (changing any {what} needs the {wide!r} permission).",
        detail={"permission": wide, "owner_only": True},
    )


def open_scope(
    *,
    route_name: str | None,
    method: str,
    user,
    api_key=None,
    team_slug: str | None = None,
    project_name: str | None = None,
) -> Scope:
    scope = _resolve_scope(route_name, method, user, api_key, team_slug, project_name)
    if getattr(api_key, "read_only", False):
        if scope.route.access == USER and method not in SAFE_METHODS:
            # Team creation, new keys, notification changes: writes without a permission.
            raise PermissionDenied("This API key is read-only.", code="permission_denied")
        scope.permissions = scope.permissions & READ_ONLY_KEY_PERMISSIONS
        _require(scope.permissions, scope.route.permission_for(method)[1])
    scope.method = method
    scope.actor = user if user is not None and user.is_authenticated else None
    return scope


def _resolve_scope(route_name, method, user, api_key, team_slug, project_name) -> Scope:
    route = route_for(route_name)
    if route is None:
        # Fail closed: an unclassified route is never served.
        raise PermissionDenied(
            f"Route {route_name!r} is not in the policy table.", code="unclassified_route"
        )
    allowed, permission = route.permission_for(method)
    if not allowed:
        raise MethodNotAllowed(f"Method {method} is not allowed here.")
    if route.access == PUBLIC:
        return Scope(route=route)
    authenticated = bool(user and user.is_authenticated)
    if route.access == USER:
        if not authenticated:
            raise NotAuthenticated("Authentication credentials were not provided.")
        return Scope(route=route)
    if route.access not in (TEAM, PROJECT) or not team_slug:
        raise PermissionDenied("Route is misclassified.", code="unclassified_route")

    # One query: the team, the caller's membership in it and the URL's project.
    team, membership, project = _lookup(team_slug, user.pk if authenticated else None, project_name)
    if membership is not None and not _key_reaches(api_key, team):
        membership = None
    key_projects = getattr(api_key, "projects", None) or None
    if key_projects is not None and (route.access == TEAM or project_name not in key_projects):
        # A project-limited key is a stranger outside its projects (404, like a missing one).
        raise NotFound("Not found.")
    if membership is not None and api_key is None:
        require_mfa_for(team, user)
    permissions = membership_permissions(membership)

    if route.access == TEAM:
        if team is None or membership is None:
            if not authenticated:
                raise NotAuthenticated("Authentication credentials were not provided.")
            raise NotFound("Not found.")
        _require(permissions, permission)
        return Scope(route=route, team=team, membership=membership, permissions=permissions)

    if project is None:
        if team is None or membership is None:
            if not authenticated:
                raise NotAuthenticated("Authentication credentials were not provided.")
            raise NotFound("Not found.")
        if project_name is not None and method not in route.creates_project:
            raise NotFound("Not found.")
        _require(permissions, permission)
        if project_name is not None:  # this request will create the project
            _require(permissions, roles.PROJECTS_WRITE)
        return Scope(route=route, team=team, membership=membership, permissions=permissions)

    member_sees = membership is not None and (
        project.visibility != Visibility.RESTRICTED
        or membership.role == ADMIN
        or project.created_by_id == user.pk
    )
    # A key restricted to another team is a stranger here: public reads only.
    granted = _visibility_grants(project, authenticated and _key_reaches(api_key, team))
    if member_sees:
        # A viewer of an open project may log runs like any signed-in outsider.
        permissions = permissions | granted
    elif granted:
        membership, permissions = None, granted
    else:
        if not authenticated:
            raise NotAuthenticated("Authentication credentials were not provided.")
        raise NotFound("Not found.")
    if permission is not None and permission not in permissions and not authenticated:
        raise NotAuthenticated("Authentication credentials were not provided.")
    # The project is visible to the caller here, so a missing permission is a 403.
    _require(permissions, permission)
    return Scope(route, team, membership, project, permissions)


# Column names come from model metadata; every value is bound.
_LOOKUP_SQL = f"""
    SELECT {columns(Team, "t")}, {columns(Membership, "m")}, {columns(Project, "p")},
        {columns(CustomRole, "r")}
    FROM {Team._meta.db_table} t
    LEFT JOIN {Membership._meta.db_table} m ON m.team_id = t.id AND m.user_id = %s
    LEFT JOIN {CustomRole._meta.db_table} r ON r.id = m.custom_role_id
    LEFT JOIN {Project._meta.db_table} p ON p.team_id = t.id AND p.name = %s
    WHERE t.slug = %s
"""  # noqa: S608


def _lookup(team_slug: str, user_id: int | None, project_name: str | None):
    """(team, the user's membership with its custom role, the project) by slug and name,
    each None when missing: one round trip on every scoped request instead of four."""
    with connection.cursor() as cur:
        cur.execute(_LOOKUP_SQL, [user_id, project_name, team_slug])
        row = cur.fetchone()
    if row is None:
        return None, None, None
    team, membership, project, custom_role = instances(row, Team, Membership, Project, CustomRole)
    if membership is not None and custom_role is not None:
        custom_role.team = team
        membership.custom_role = custom_role
    for owned in (membership, project):
        if owned is not None:
            owned.team = team
    return team, membership, project


def _visibility_grants(project: Project, authenticated: bool) -> frozenset[str]:
    """What a project's visibility grants to anyone, member of its team or not."""
    if project.visibility == Visibility.PUBLIC:
        return READ_ONLY
    if project.visibility == Visibility.OPEN:
        return READ_ONLY | OPEN_WRITES if authenticated else READ_ONLY
    return frozenset()


def _key_reaches(api_key, team: Team) -> bool:
    team_id = getattr(api_key, "team_id", None)
    return team_id is None or team_id == team.pk


def _require(permissions: frozenset[str], permission: str | None) -> None:
    if permission is not None and permission not in permissions:
        raise PermissionDenied(f"Your role lacks the {permission!r} permission.")
