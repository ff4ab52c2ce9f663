"""Who reaches which web page: members see pages, non-members get 404 on every team
and project route for every method, viewers get 403 on every write, and signed-out
visitors are sent to sign in. Routes are enumerated from the URLconf and the policy
table, so a new web route is covered without editing this file."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.policy import PROJECT, ROUTES, TEAM, USER
from apps.teams.roles import permissions_for
from tests.web.conftest import login, web_route_params

pytestmark = pytest.mark.django_db

WEB_ROUTES = {name: route for name, route in ROUTES.items() if name.startswith("web:")}
SCOPED = sorted(name for name, r in WEB_ROUTES.items() if r.access in (TEAM, PROJECT))


def _url(name: str, objects: dict) -> str:
    params = web_route_params()[name]
    return reverse(name, kwargs={p: objects[p] for p in params})


def _call(client, method: str, url: str):
    return client.generic(method, url, data="", content_type="application/x-www-form-urlencoded")


def test_every_web_route_is_classified():
    urlconf = set(web_route_params())
    assert urlconf - set(WEB_ROUTES) == set(), "web routes missing from the policy table"
    assert set(WEB_ROUTES) - urlconf == set(), "policy entries without a web route"


@pytest.mark.parametrize("name", SCOPED)
def test_non_member_gets_404_for_every_method(name, team_objects, other_team, other_admin):
    client = login(other_admin)
    url = _url(name, team_objects)
    for method in WEB_ROUTES[name].methods:
        response = _call(client, method, url)
        assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.parametrize("name", SCOPED)
def test_missing_team_and_missing_project_are_404(name, team_objects, admin_user):
    client = login(admin_user)
    missing_team = {**team_objects, "team": "no-such-team"}
    assert client.get(_url(name, missing_team)).status_code in (404, 405)
    if "project" in web_route_params()[name]:
        missing_project = {**team_objects, "project": "no-such-project"}
        assert client.get(_url(name, missing_project)).status_code in (404, 405)


@pytest.mark.parametrize("name", SCOPED)
def test_viewer_gets_403_on_every_write_it_lacks(name, team_objects, viewer_user):
    client = login(viewer_user)
    url = _url(name, team_objects)
    viewer = permissions_for("viewer")
    for method, permission in WEB_ROUTES[name].methods.items():
        response = _call(client, method, url)
        if permission is not None and permission not in viewer:
            assert response.status_code == 403, (method, url, response.status_code)
        else:
            assert response.status_code not in (403, 500), (method, url, response.status_code)


@pytest.mark.parametrize("name", SCOPED)
def test_signed_out_visitor_is_sent_to_sign_in(name, team_objects, client):
    url = _url(name, team_objects)
    method = next(iter(WEB_ROUTES[name].methods))
    response = _call(client, method, url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_user_routes_need_sign_in(client):
    for name, route in WEB_ROUTES.items():
        if route.access == USER and not web_route_params()[name]:
            response = client.get(reverse(name))
            assert response.status_code == 302, name


ADMIN_PAGES = [
    "web:project-list",
    "web:project-detail",
    "web:project-settings",
    "web:team-settings",
    "web:team-members",
    "web:team-invitations",
    "web:api-keys",
    "web:service-accounts",
    "web:team-audit",
]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_pages_render_for_admin(name, team_objects, admin_user):
    response = login(admin_user).get(_url(name, team_objects))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<!doctype html>" in html
    assert 'id="flash"' in html  # the htmx error target exists on every page


@pytest.mark.parametrize(
    "name,status",
    [
        ("web:project-list", 200),
        ("web:project-detail", 200),
        ("web:project-settings", 200),
        ("web:team-settings", 200),
        ("web:team-members", 200),
        ("web:api-keys", 200),
        ("web:team-invitations", 403),
        ("web:service-accounts", 403),
        ("web:team-audit", 403),
    ],
)
def test_pages_for_member(name, status, team_objects, member_user):
    assert login(member_user).get(_url(name, team_objects)).status_code == status


def test_viewer_reads_but_sees_no_write_controls(team_objects, viewer_user, project):
    client = login(viewer_user)
    projects = client.get(_url("web:project-list", team_objects)).content.decode()
    assert project.name in projects
    assert "Create a project" not in projects
    members = client.get(_url("web:team-members", team_objects)).content.decode()
    assert "member@a.example" in members
    assert "<select" not in members and "Remove" not in members
    detail = client.get(_url("web:project-detail", team_objects)).content.decode()
    assert "/settings" not in detail.split("<main>")[1].split("Log your first run")[0]


def test_team_list_shows_only_own_teams(team, other_team, admin_user):
    html = login(admin_user).get(reverse("web:team-list")).content.decode()
    assert "team-a" in html
    assert "team-b" not in html


def test_team_switcher_lists_the_users_teams(team, other_team, admin_user):
    html = login(admin_user).get(reverse("web:project-list", kwargs={"team": "team-a"}))
    text = html.content.decode()
    switcher = text.split('data-testid="team-switcher"')[1].split("</details>")[0]
    assert "/team-a/" in switcher and "team-b" not in switcher
