"""Who reaches which web page: every web route is classified, a team or project that
does not exist is a 404 for every method, members see their pages and a permission
page naming what they lack, viewers see no write controls. Routes are enumerated from
the URLconf and the policy table, so a new web route is covered without editing this
file; the cross-team, role and sign-in cases of every route are in
tests/core/test_route_matrix.py."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import reverse

from apps.core.policy import PROJECT, ROUTES, TEAM, USER
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


# Team B's 404, the roles' 403 and the sign-in redirect on every team and project route
# are tests/core/test_route_matrix.py's; here: names that exist nowhere.
@pytest.mark.parametrize("name", SCOPED)
def test_missing_team_and_missing_project_are_404(name, team_objects, admin_user):
    """Each method the route serves (a GET would meet a POST-only route's 405 before the
    team is looked up), as an admin of team A, who would be served with the real names."""
    client = login(admin_user)
    urls = [_url(name, {**team_objects, "team": "no-such-team"})]
    if "project" in web_route_params()[name]:
        urls.append(_url(name, {**team_objects, "project": "no-such-project"}))
    failures = []
    for url in urls:
        for method in WEB_ROUTES[name].methods:
            with transaction.atomic():
                response = _call(client, method, url)
                transaction.set_rollback(True)
            if response.status_code != 404 or "<h1>Not found</h1>" not in _html(response):
                failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)


def _html(response) -> str:
    return response.content.decode()


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
    "name,status,heading",
    [
        ("web:project-list", 200, "Projects"),
        ("web:project-detail", 200, "resnet"),
        ("web:project-settings", 200, "resnet"),
        ("web:team-settings", 200, "General"),
        ("web:team-members", 200, "Members"),
        ("web:api-keys", 200, "API keys"),
        ("web:team-invitations", 403, "Permission denied"),
        ("web:service-accounts", 403, "Permission denied"),
        ("web:team-audit", 403, "Permission denied"),
    ],
)
def test_pages_for_member(name, status, heading, team_objects, member_user):
    response = login(member_user).get(_url(name, team_objects))
    assert response.status_code == status
    [h1] = re.findall(r"<h1[^>]*>(.*?)</h1>", _html(response), re.S)
    assert h1.split("<")[0].strip() == heading
    if status == 403:  # the page names what the role lacks
        permission = WEB_ROUTES[name].methods["GET"]
        assert f"Your role lacks the &#x27;{permission}&#x27; permission." in _html(response)


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
