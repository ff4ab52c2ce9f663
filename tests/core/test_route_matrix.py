"""The data-driven access matrix over every team/project route in the policy table.

For each route classified `team` or `project` (API and web) and each method it lists:
- team B's admin, signed in (session) and through its keys (personal and service
  account, Bearer), gets 404 on team A's URL, and 404 on team B's own URL naming team
  A's objects (user ids, invitations, service accounts, keys, runs …);
- team A's viewer and member get 403 for every method whose permission their role lacks;
- an anonymous caller gets 401 (API) or the sign-in redirect (web);
- team A's admin is served (no 401/403/404/405), which proves the objects exist;
- for `project` routes, the same again with team A's project public, open and
  restricted: what strangers, anonymous callers and team A's non-creators get.

URL values come from tests/route_objects.py; a kwarg with no entry fails loudly there.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core import policy
from apps.projects.models import Project
from apps.teams import roles
from apps.teams.roles import permissions_for
from tests.core.routes import http_routes
from tests.factories import make_key, make_project, make_service_account
from tests.route_objects import REGISTRY, MissingRouteObject, World

SCOPED = sorted(
    (
        r
        for r in http_routes()
        if r.name in policy.ROUTES
        and r.name
        and policy.ROUTES[r.name].access in (policy.TEAM, policy.PROJECT)
    ),
    key=lambda r: r.name,
)
TENANT_KWARGS = {"team", "project"}
# Kwargs that address content, not an object of team A: team B using the same value in
# its own URL addresses its own store (a blob upload there is judged by its body).
CONTENT_KWARGS = {"sha256"}
# Routes whose POST creates the object the URL names on first use (an artifact gets its
# first version, a registered model its first link): in team B's own URL the name is
# simply new there, so only team A's URL must answer 404.
CREATED_BY_URL = {"api:artifact-version-list", "api:registered-model-version-list"}


def _methods(route) -> list[str]:
    methods = [m for m in policy.ROUTES[route.name].methods if m != "WS"]
    # Destructive methods last: the admin's control request of one method runs in a
    # rolled-back savepoint, but keep the order natural anyway.
    return sorted(methods, key=lambda m: (m == "DELETE", m))


@pytest.fixture
def world(team, project, admin_user, member_user, viewer_user, other_team, other_admin):
    return World(
        team=team,
        project=project,
        admin=admin_user,
        member=member_user,
        viewer=viewer_user,
        other_team=other_team,
        other_admin=other_admin,
    )


@pytest.fixture
def team_b(other_team, other_admin):
    """Team B's ways in: its admin's session and personal key, its service account key."""
    other_project = make_project(other_team, "resnet", actor=other_admin)
    _, sa_secret = make_service_account(other_team, other_admin, name="b-ci", role="admin")
    return {
        "project": other_project,
        "session": other_admin,
        "keys": {"personal key": make_key(other_admin), "service account key": sa_secret},
    }


def _session(user, api: bool):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _call(client, method: str, url: str, api: bool):
    if api:
        return client.generic(method, url, data="{}", content_type="application/json")
    return client.generic(method, url, data="", content_type="application/x-www-form-urlencoded")


def _url(route, world: World, *, team_slug=None, project_name=None) -> str:
    kwargs = world.kwargs(route.kwargs, route.name)
    if team_slug is not None:
        kwargs["team"] = team_slug
    if project_name is not None and "project" in kwargs:
        kwargs["project"] = project_name
    return reverse(route.name, kwargs=kwargs)


def test_matrix_covers_routes():
    assert any(r.is_api for r in SCOPED) and any(not r.is_api for r in SCOPED)


def test_every_scoped_route_kwarg_is_registered():
    missing = sorted(
        {
            f"{r.name}: {k}"
            for r in SCOPED
            for k in r.kwargs
            if k not in REGISTRY and f"{r.name}.{k}" not in REGISTRY
        }
    )
    assert not missing, (
        "URL kwargs with no entry in tests/route_objects.py (register team A's object):\n  "
        + "\n  ".join(missing)
    )


@pytest.mark.parametrize("route", SCOPED, ids=lambda r: r.name)
def test_other_team_gets_404(route, world, team_b):
    try:
        url = _url(route, world)
    except MissingRouteObject as exc:
        pytest.fail(str(exc))
    callers = [("session", _session(team_b["session"], route.is_api))]
    if route.is_api:
        callers += [(name, _bearer(secret)) for name, secret in team_b["keys"].items()]
    # Team B's own URL naming team A's objects: only where the URL names more than
    # the team and project (for list routes that would be team B's own data).
    object_kwargs = set(route.kwargs) - TENANT_KWARGS - CONTENT_KWARGS
    own_url = (
        _url(route, world, team_slug=world.other_team.slug, project_name=team_b["project"].name)
        if object_kwargs and route.name not in CREATED_BY_URL
        else None
    )
    failures = []
    for method in _methods(route):
        for who, client in callers:
            for label, target in (("team A's URL", url), ("team B's URL", own_url)):
                if target is None:
                    continue
                with transaction.atomic():
                    status = _call(client, method, target, route.is_api).status_code
                    transaction.set_rollback(True)
                if status != 404:
                    failures.append(f"{method} {target} as team B {who} ({label}): {status}")
    assert not failures, "\n".join(failures)


def _lacking(route, role: str) -> list[str]:
    """The route's methods whose permission `role` does not hold."""
    allowed = permissions_for(role)
    entry = policy.ROUTES[route.name]
    return [
        m
        for m in _methods(route)
        if (perm := entry.permission_for(m)[1]) is not None and perm not in allowed
    ]


ROLE_CASES = [
    pytest.param(route, role, id=f"{route.name}-{role}")
    for route in SCOPED
    for role in ("viewer", "member")
    if _lacking(route, role)
]


@pytest.mark.parametrize(("route", "role"), ROLE_CASES)
def test_role_without_permission_gets_403(route, role, world):
    url = _url(route, world)
    user = getattr(world, role)
    lacking = _lacking(route, role)
    callers = [("session", _session(user, route.is_api))]
    if route.is_api:
        callers.append(("key", _bearer(make_key(user))))
    failures = []
    for method in lacking:
        for who, client in callers:
            with transaction.atomic():
                response = _call(client, method, url, route.is_api)
                transaction.set_rollback(True)
            if response.status_code != 403:
                failures.append(f"{method} {url} as {role} ({who}): {response.status_code}")
            elif route.is_api and response.json()["error"]["code"] != "permission_denied":
                failures.append(f"{method} {url}: {response.json()}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", SCOPED, ids=lambda r: r.name)
def test_anonymous_is_refused(route, world):
    url = _url(route, world)
    failures = []
    for method in _methods(route):
        client = APIClient() if route.is_api else Client()
        response = _call(client, method, url, route.is_api)
        if route.is_api:
            ok = response.status_code == 401 and response.json()["error"]["code"] == (
                "not_authenticated"
            )
            ok = ok and "WWW-Authenticate" in response
        else:
            ok = response.status_code == 302 and reverse("account_login") in response["Location"]
        if not ok:
            failures.append(f"{method} {url} anonymous: {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", SCOPED, ids=lambda r: r.name)
def test_team_admin_is_served(route, world):
    """Control: the objects the matrix names exist and team A's admin reaches them."""
    url = _url(route, world)
    callers = [("session", _session(world.admin, route.is_api))]
    if route.is_api:
        callers.append(("key", _bearer(make_key(world.admin))))
    failures = []
    for method in _methods(route):
        for who, client in callers:
            with transaction.atomic():
                status = _call(client, method, url, route.is_api).status_code
                transaction.set_rollback(True)
            if status in (401, 403, 404, 405) or status >= 500:
                failures.append(f"{method} {url} as team A admin ({who}): {status}")
    assert not failures, "\n".join(failures)


# --- project visibility: the same routes when team A's project is public, open or
# restricted (docs: apps/core/policy.py, apps/core/access.py) -------------------------

PROJECT_ROUTES = [r for r in SCOPED if policy.ROUTES[r.name].access == policy.PROJECT]
# What a project's visibility grants to someone outside team A: signed in (session or a
# key not restricted to another team), or a key restricted to team B / anonymous.
STRANGER_GRANTS = {
    "public": (roles.READ, roles.READ),
    "open": (roles.READ | {roles.RUNS_WRITE_OWN}, roles.READ),
    "restricted": (frozenset(), frozenset()),
}


def _expected(route, method: str, granted: frozenset[str]) -> str:
    """'served', 'denied' (403, or sign-in for anonymous) or 'hidden' (404 / sign-in)."""
    if not granted:
        return "hidden"
    entry = policy.ROUTES[route.name]
    permission = entry.permission_for(method)[1]
    if permission is not None and permission not in granted:
        return "denied"
    # An *_own permission reaches only the caller's own objects: a run of team A is not.
    if entry.owner_rule(method) and "run" in route.kwargs:
        return "denied"
    return "served"


def _outcome(response, route, anonymous: bool) -> str:
    status = response.status_code
    if anonymous and status in (302, 401):
        # The API says 401, a page sends the visitor to sign in: both mean "not for you
        # signed out", which is what a hidden or a denied route is to an anonymous caller.
        return "sign-in"
    if status == 404:
        return "hidden"
    if status == 403:
        return "denied"
    if status in (401, 405) or status >= 500:
        return f"status {status}"
    return "served"


@pytest.mark.parametrize("route", PROJECT_ROUTES, ids=lambda r: r.name)
def test_project_visibility_for_outsiders(route, world, team_b):
    """Team B (its admin's session and personal key: signed-in strangers; its service
    account's team-restricted key: a stranger with public reads only) and an anonymous
    caller on team A's project; on a restricted one also team A's member who did not
    create it (404 everywhere) and team A's admin (served)."""
    url = _url(route, world)
    failures = []
    for visibility, (signed_in, restricted_key) in STRANGER_GRANTS.items():
        Project.objects.for_team(world.team).filter(pk=world.project.pk).update(
            visibility=visibility
        )
        callers = [("team B session", _session(team_b["session"], route.is_api), signed_in, False)]
        if route.is_api:
            keys = team_b["keys"]
            callers += [
                ("team B personal key", _bearer(keys["personal key"]), signed_in, False),
                (
                    "team B service account key",
                    _bearer(keys["service account key"]),
                    restricted_key,
                    False,
                ),
            ]
        callers.append(
            ("anonymous", APIClient() if route.is_api else Client(), restricted_key, True)
        )
        if visibility == "restricted":
            callers += [
                ("team A member", _session(world.member, route.is_api), frozenset(), False),
                ("team A admin", _session(world.admin, route.is_api), None, False),
            ]
        for method in _methods(route):
            for who, client, granted, anonymous in callers:
                want = "served" if granted is None else _expected(route, method, granted)
                if anonymous and want != "served":
                    want = "sign-in"
                with transaction.atomic():
                    response = _call(client, method, url, route.is_api)
                    transaction.set_rollback(True)
                got = _outcome(response, route, anonymous)
                if got != want:
                    failures.append(f"{method} {url} ({visibility}) as {who}: {got}, want {want}")
    assert not failures, "\n".join(failures)
