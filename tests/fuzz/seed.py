"""Run by tests/fuzz/run.py in a child process on the fuzz database: migrate, bootstrap
two teams with `manage.py bootstrap` (an admin and a personal API key each), and create
team A's objects for every URL keyword argument of the API (tests/route_objects.py, the
registry the cross-team matrix uses, so a new route's objects come for free).

Prints one JSON line: {"key_a", "key_b", "paths": {"<OpenAPI path>": {kwarg: value}}}.
"""

from __future__ import annotations

import io
import os
import re
import sys

import django
import orjson


def _bootstrap(email: str, team: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("bootstrap", email=email, team=team, stdout=out, stderr=io.StringIO())
    [line] = [ln for ln in out.getvalue().splitlines() if ln.startswith("GRADLINE_API_KEY=")]
    return line.removeprefix("GRADLINE_API_KEY=")


def openapi_path(route_path: str) -> str:
    """`api/v1/teams/<team_slug:team>` -> `/api/v1/teams/{team}` (as drf-spectacular)."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route_path)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import User
    from apps.core import policy
    from apps.teams import services as team_services
    from apps.teams.models import Team
    from tests.core.routes import http_routes
    from tests.factories import UserFactory, make_project
    from tests.route_objects import World

    call_command("migrate", interactive=False, verbosity=0)
    key_a = _bootstrap("admin@a.example", "team-a")
    key_b = _bootstrap("admin@b.example", "team-b")
    team_a, team_b = Team.objects.get(slug="team-a"), Team.objects.get(slug="team-b")
    admin = User.objects.get(email="admin@a.example")
    member = UserFactory(email="member@a.example")
    viewer = UserFactory(email="viewer@a.example")
    team_services.membership_add(team=team_a, user=member, role="member")
    team_services.membership_add(team=team_a, user=viewer, role="viewer")
    world = World(
        team_a,
        make_project(team_a, "resnet", actor=admin),
        admin,
        member,
        viewer,
        team_b,
        User.objects.get(email="admin@b.example"),
    )
    paths = {}
    for route in http_routes():
        if route.is_api and route.name in policy.ROUTES and route.kwargs:
            paths[openapi_path(route.path)] = world.kwargs(route.kwargs, route.name)
    sys.stdout.write(orjson.dumps({"key_a": key_a, "key_b": key_b, "paths": paths}).decode())
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
