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

from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.policy import PROJECT, PUBLIC, TEAM, USER, Route, route_for
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

    # One query on the common path: the caller's membership, with its team.
    team = membership = None
    if authenticated:
        membership = Membership.objects.of_user(user).filter(team__slug=team_slug).first()
        if membership is not None:
            team = membership.team
            if not _key_reaches(api_key, team):
                membership = None
    if team is None and route.access == PROJECT:
        # Strangers may still reach a public or open project of this team.
        team = Team.objects.filter(slug=team_slug).first()
    permissions = permissions_for(membership.role) if membership else frozenset()

    if route.access == TEAM:
        if team is None or membership is None:
            if not authenticated:
                raise NotAuthenticated("Authentication credentials were not provided.")
            raise NotFound("Not found.")
        _require(permissions, permission)
        return Scope(route=route, team=team, membership=membership, permissions=permissions)

    project = (
        Project.objects.for_team(team).filter(name=project_name).first()
        if team is not None and project_name is not None
        else None
    )
    if project is None:
        if team is None or membership is None:
            if not authenticated:
                raise NotAuthenticated("Authentication credentials were not provided.")
            raise NotFound("Not found.")
        if project_name is not None and method not in route.creates_project:
            raise NotFound("Not found.")
        _require(permissions, permission)
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
