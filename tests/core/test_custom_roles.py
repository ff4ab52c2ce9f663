"""Custom roles are enforced on every route of the policy table.

Driven from apps/core/policy.py ROUTES (every `team` / `project` HTTP route and method,
API and web), with team A's objects from tests/route_objects.py, as the access matrix is:
- a custom role built on admin minus one permission gets 403 on each route and method
  that needs that permission (through a session and, for the API, through a service
  account with that role);
- a custom role built on viewer plus one permission is not refused for lacking it.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from apps.core import policy
from apps.teams import roles
from apps.teams import services as team_services
from tests.core import test_route_matrix as matrix
from tests.core.test_route_matrix import SCOPED, _call, _methods, _url
from tests.factories import UserFactory, make_service_account
from tests.route_objects import MissingRouteObject

NEEDED = sorted(
    {
        permission
        for route in SCOPED
        for method, permission in policy.ROUTES[route.name].methods.items()
        if permission is not None and method != "WS"
    }
)

world = matrix.world  # the access matrix's team A / team B fixture


def _role_member(team, admin, *, base_role: str, added=(), removed=(), email: str):
    role = team_services.custom_role_create(
        team=team,
        name=email.split("@")[0],
        base_role=base_role,
        added=added,
        removed=removed,
        actor=admin,
    )
    user = UserFactory(email=email)
    team_services.membership_add(team=team, user=user, role=base_role)
    team_services.membership_set_role(team=team, user_id=user.pk, role=role.name, actor=admin)
    return role, user


def _clients(world, role, user, api: bool):
    session = APIClient() if api else Client()
    session.force_login(user)
    clients = [("session", session)]
    if api:
        _, secret = make_service_account(world.team, world.admin, name=role.name, role=role.name)
        bearer = APIClient()
        bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        clients.append(("service account", bearer))
    return clients


def _requests_needing(permission: str):
    for route in SCOPED:
        for method in _methods(route):
            if policy.ROUTES[route.name].permission_for(method)[1] == permission:
                yield route, method


def test_every_needed_permission_is_known():
    assert set(NEEDED) <= roles.ALL_PERMISSIONS and len(NEEDED) > 5


@pytest.mark.parametrize("permission", NEEDED)
def test_admin_without_a_permission_gets_403_where_it_is_needed(permission, world):
    role, user = _role_member(
        world.team,
        world.admin,
        base_role=roles.ADMIN,
        removed=[permission],
        email=f"no-{permission.replace(':', '-')}@a.example",
    )
    assert permission not in roles.custom_role_permissions(role.base_role, removed=role.removed)
    failures, checked = [], 0
    for route, method in _requests_needing(permission):
        try:
            url = _url(route, world)
        except MissingRouteObject as exc:
            pytest.fail(str(exc))
        for who, client in _clients(world, role, user, route.is_api):
            with transaction.atomic():
                response = _call(client, method, url, route.is_api)
                transaction.set_rollback(True)
            checked += 1
            if response.status_code != 403:
                failures.append(f"{method} {url} as {who}: {response.status_code}")
            elif route.is_api and response.json()["error"]["code"] != "permission_denied":
                failures.append(f"{method} {url} as {who}: {response.json()['error']}")
    assert checked, f"no route needs {permission}"
    assert not failures, f"role without {permission!r} was served:\n" + "\n".join(failures)


@pytest.mark.parametrize("permission", sorted(set(NEEDED) - roles.READ))
def test_viewer_plus_a_permission_is_not_refused_for_it(permission, world):
    role, user = _role_member(
        world.team,
        world.admin,
        base_role=roles.VIEWER,
        added=[permission],
        email=f"plus-{permission.replace(':', '-')}@a.example",
    )
    failures = []
    for route, method in _requests_needing(permission):
        url = _url(route, world)
        for who, client in _clients(world, role, user, route.is_api):
            with transaction.atomic():
                response = _call(client, method, url, route.is_api)
                transaction.set_rollback(True)
            if response.status_code == 403 and f"lacks the {permission!r}" in response.text:
                failures.append(f"{method} {url} as {who}")
    assert not failures, f"role with {permission!r} was refused:\n" + "\n".join(failures)
