"""No bad input makes any API route answer 500: every route, every method (listed or
not), a set of malformed and mistyped bodies and query strings, as team A's admin
(the caller who gets furthest into the handlers)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core import policy
from tests.core.routes import http_routes
from tests.factories import make_key
from tests.route_objects import World

API_ROUTES = sorted(
    (
        r
        for r in http_routes()
        if r.is_api and r.name in policy.ROUTES and r.name not in {"api:schema", "api:docs"}
    ),
    key=lambda r: r.name,
)
FIELDS = ("name", "slug", "role", "email", "visibility", "token", "team", "description")
BODIES = [
    "",
    "null",
    "[]",
    '"text"',
    "{",
    "{}",
    '{"\\u0000": 1}',
    "{" + ", ".join(f'"{f}": null' for f in FIELDS) + "}",
    "{" + ", ".join(f'"{f}": {{"nested": [1]}}' for f in FIELDS) + "}",
    "{" + ", ".join(f'"{f}": 1e400' for f in FIELDS) + "}",
    "{" + ", ".join(f'"{f}": "x\\u0000y"' for f in FIELDS) + "}",
    "{" + ", ".join(f'"{f}": "{"z" * 5000}"' for f in FIELDS) + "}",
    '{"points": "nope", "history": [[null]], "step": -1, "summary": [], "config": 5}',
]
QUERIES = ["", "?limit=-1&offset=x&before=%00", "?limit=99999999999999999999999&keys=%00"]
SAFE = ["GET", "HEAD", "OPTIONS"]
UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.fixture
def world(team, project, admin_user, member_user, viewer_user, other_team, other_admin):
    return World(team, project, admin_user, member_user, viewer_user, other_team, other_admin)


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.name)
def test_bad_input_never_answers_500(route, world):
    url = reverse(route.name, kwargs=world.kwargs(route.kwargs, route.name))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(world.admin)}")
    cases = [(m, q, "") for m in SAFE for q in QUERIES]
    cases += [(m, "", b) for m in UNSAFE for b in BODIES]
    cases += [(m, q, "{}") for m in UNSAFE for q in QUERIES[1:]]
    failures = []
    for method, query, body in cases:
        with transaction.atomic():
            response = client.generic(method, url + query, body, "application/json")
            transaction.set_rollback(True)
        if response.status_code >= 500:
            failures.append(f"{method} {url}{query} {body[:60]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
