"""Opening the team scope at an entry point, and checking the policy table.

Every entry point (web middleware, API base class, WebSocket consumer base) calls
`open_scope`, so the rules below hold identically for all of them:
- the team comes from the URL; a user who is not a member gets NotFound (404), the same
  answer as for a team that does not exist;
- an API key restricted to a team reaches only that team (NotFound elsewhere);
- a member whose role lacks the route's permission gets PermissionDenied (403);
- a public project is readable by anyone (signed in or not); an open project is readable
  by anyone and takes runs (`runs:write`) from any signed-in user. Once a project is
  visible to the caller, a missing permission is 403 (401 when not signed in).

Not guaranteed here: object rules inside a scope (a member deletes only its own runs);
the services that perform those actions enforce them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.policy import PROJECT, PUBLIC, TEAM, USER, Route, route_for
from apps.core.rows import columns, instances
from apps.projects.models import Project, Visibility
from apps.teams import roles
from apps.teams.models import Membership, Team
from apps.teams.roles import ADMIN, permissions_for

# What a non-member gets on a public (read) or open (read + log runs) project.
READ_ONLY = roles.READ
OPEN_WRITES = frozenset({roles.RUNS_WRITE})


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

    def has(self, permission: str) -> bool:
        return permission in self.permissions


def open_scope(
    *,
    route_name: str | None,
    method: str,
    user,
    api_key=None,
    team_slug: str | None = None,
    project_name: str | None = None,
) -> Scope:
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
    permissions = permissions_for(membership.role) if membership else frozenset()

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
    SELECT {columns(Team, "t")}, {columns(Membership, "m")}, {columns(Project, "p")}
    FROM {Team._meta.db_table} t
    LEFT JOIN {Membership._meta.db_table} m ON m.team_id = t.id AND m.user_id = %s
    LEFT JOIN {Project._meta.db_table} p ON p.team_id = t.id AND p.name = %s
    WHERE t.slug = %s
"""  # noqa: S608


def _lookup(team_slug: str, user_id: int | None, project_name: str | None):
    """(team, the user's membership, the project) by slug and name, each None when
    missing: one round trip on every scoped request instead of three ORM queries."""
    with connection.cursor() as cur:
        cur.execute(_LOOKUP_SQL, [user_id, project_name, team_slug])
        row = cur.fetchone()
    if row is None:
        return None, None, None
    team, membership, project = instances(row, Team, Membership, Project)
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
