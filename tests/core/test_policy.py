"""The policy table (apps/core/policy.py) classifies every route, and only real routes.

Walks the URL resolvers (all of config.urls, with allauth, "api" and "web") and the
WebSocket routes, so a route added anywhere without a policy entry fails here.
"""

from __future__ import annotations

import pytest

from apps.api.base import GradlineAPIView
from apps.core import policy
from apps.core.access import open_scope
from apps.core.errors import PermissionDenied
from apps.teams import roles
from apps.teams.roles import ALL_PERMISSIONS
from tests.core.routes import all_routes, http_routes, websocket_routes

HTTP_METHODS = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}


def _fmt(routes) -> str:
    return "\n".join(f"  {r.name or '(unnamed)'}  /{r.path}" for r in routes)


def test_every_route_has_a_name():
    unnamed = [r for r in all_routes() if not r.name]
    assert not unnamed, (
        "Unnamed routes cannot be classified in apps/core/policy.py; name them:\n" + _fmt(unnamed)
    )


def test_every_route_is_classified():
    missing = [r for r in all_routes() if r.name and r.name not in policy.ROUTES]
    assert not missing, "Routes missing from apps/core/policy.ROUTES:\n" + _fmt(missing)


def test_no_stale_policy_entries():
    names = {r.name for r in all_routes()}
    stale = sorted(set(policy.ROUTES) - names)
    assert not stale, f"Policy entries for routes that do not exist: {stale}"


def test_websocket_routes_are_classified_for_connect():
    wrong = [
        r
        for r in websocket_routes()
        if r.name in policy.ROUTES and not policy.ROUTES[r.name].permission_for("WS")[0]
    ]
    assert not wrong, "WebSocket routes must allow the WS method:\n" + _fmt(wrong)


def test_tenant_kwargs_imply_tenant_access():
    """A route naming a team (or project) in its URL must check membership of it."""
    tenant = (policy.TEAM, policy.PROJECT)
    wrong = []
    for r in all_routes():
        entry = policy.ROUTES.get(r.name or "")
        if entry is None:
            continue
        project_mismatch = "project" in r.kwargs and entry.access != policy.PROJECT
        team_mismatch = ("team" in r.kwargs) != (entry.access in tenant)
        if project_mismatch or team_mismatch:
            wrong.append(r)
    assert not wrong, "Access class does not match the URL's team/project:\n" + _fmt(wrong)


def test_api_paths_and_api_namespace_coincide():
    """The web middleware skips /api/ paths; only `api:` views (which open the scope
    themselves) may live there, and every `api:` route must live there."""
    wrong = [r for r in http_routes() if r.is_api != (r.name or "").startswith("api:")]
    assert not wrong, "Routes under /api/ outside the api namespace (or vice versa):\n" + _fmt(
        wrong
    )


def test_non_public_api_routes_use_the_api_base_class():
    wrong = []
    for r in http_routes():
        entry = policy.ROUTES.get(r.name or "")
        if not r.is_api or entry is None or entry.access == policy.PUBLIC:
            continue
        view_class = getattr(r.callback, "cls", None)
        if not (isinstance(view_class, type) and issubclass(view_class, GradlineAPIView)):
            wrong.append(r)
    assert not wrong, "API routes not served by GradlineAPIView:\n" + _fmt(wrong)


def test_entries_name_real_methods_and_permissions():
    problems = []
    for name, entry in policy.ROUTES.items():
        if entry.access not in (policy.PUBLIC, policy.USER, policy.TEAM, policy.PROJECT):
            problems.append(f"{name}: unknown access {entry.access!r}")
        for method, permission in entry.methods.items():
            if method not in HTTP_METHODS | {"WS", "*"}:
                problems.append(f"{name}: unknown method {method!r}")
            if permission is not None and permission not in ALL_PERMISSIONS:
                problems.append(f"{name}: unknown permission {permission!r}")
        if entry.access in (policy.TEAM, policy.PROJECT) and "*" in entry.methods:
            problems.append(f"{name}: team routes must list their methods")
    assert not problems, "\n".join(problems)


# Routes under a run's URL that write something other than the run: teammates comment on
# each other's runs (authors change their own comments; apps.comments.services).
NOT_RUN_WRITES = {"api:run-comment-list", "api:run-comment-detail"}


def test_every_write_to_a_run_declares_the_ownership_rule():
    """A route naming a run in its URL, and every other method that can write to an
    existing run (resume by id), carries an `*_own` permission, so the caller's role
    reaches only its own runs unless it holds the wide one (tests/runs/test_ownership.py
    requests each of them)."""
    missing = []
    for r in all_routes():
        entry = policy.ROUTES.get(r.name or "")
        if entry is None or "run" not in r.kwargs or r.name in NOT_RUN_WRITES:
            continue
        for method in entry.methods:
            if method not in policy.SAFE_METHODS | {"WS"} and entry.owner_rule(method) is None:
                missing.append(f"{r.name} {method}: {entry.methods[method]}")
    assert not missing, (
        "Run writes without an ownership rule (give them runs:write_own, resolve the run "
        "through Scope.require_owner as RunsAPIView.get_run does, and add requests to "
        "REQUESTS in tests/runs/test_ownership.py):\n  " + "\n  ".join(missing)
    )
    assert policy.ROUTES["api:run-list"].owner_rule("POST") == roles.RUNS_WRITE  # resume


def test_own_permissions_pair_a_member_with_an_admin_permission():
    for own, wide in roles.OWN_WIDENS_TO.items():
        assert own in ALL_PERMISSIONS and wide in ALL_PERMISSIONS
        assert own in roles.permissions_for(roles.MEMBER)
        assert wide not in roles.permissions_for(roles.MEMBER)
        assert {own, wide} <= roles.permissions_for(roles.ADMIN)
        assert not {own, wide} & roles.permissions_for(roles.VIEWER)


def test_allauth_routes_are_classified_and_login_is_public():
    names = {r.name for r in http_routes()}
    assert {"account_login", "account_signup", "account_logout", "mfa_index"} <= names
    assert policy.ROUTES["account_login"].access == policy.PUBLIC
    assert policy.ROUTES["account_signup"].access == policy.PUBLIC
    assert policy.ROUTES["account_logout"].access == policy.USER
    assert policy.ROUTES["account_change_password"].access == policy.USER


@pytest.mark.django_db
def test_unclassified_route_is_refused(admin_user):
    with pytest.raises(PermissionDenied) as caught:
        open_scope(route_name="web:not-in-the-table", method="GET", user=admin_user)
    assert caught.value.code == "unclassified_route"


@pytest.mark.django_db
def test_allauth_legacy_unnamed_routes_are_not_mounted(client, admin_user):
    # allauth's unnamed legacy redirects are not mounted at all (apps/accounts/urls.py).
    client.force_login(admin_user)
    assert client.get("/accounts/social/connections/").status_code == 404
