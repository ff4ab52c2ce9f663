"""No form input makes a web page answer 500: every web route that takes a POST gets
NUL bytes, over-long values, wrong choices and missing fields, as team A's admin (the
caller who gets furthest into the views), with and without htmx."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.policy import ROUTES
from tests.web.conftest import login, web_route_params

pytestmark = pytest.mark.django_db

FIELDS = ("name", "slug", "role", "email", "visibility", "description", "confirm", "restrict")
FORMS = [
    {},
    {f: "x\x00y" for f in FIELDS},
    {f: "z" * 5000 for f in FIELDS},
    {f: "" for f in FIELDS},
    {**{f: "ok" for f in FIELDS}, "visibility": "everyone", "role": "owner"},
    # Valid everywhere but one free-text field, so the value reaches the services.
    {
        "name": "a\x00b",
        "slug": "fine-slug",
        "role": "member",
        "email": "someone@example.com",
        "visibility": "team",
        "description": "d\x00e",
    },
    {"name": "fine-name", "slug": "fine-slug", "description": "d\x00e", "visibility": "team"},
    {"name": "n" * 300, "slug": "other-slug", "role": "member", "visibility": "team"},
]
POST_ROUTES = sorted(
    name
    for name, route in ROUTES.items()
    if name.startswith("web:") and "POST" in route.methods and name != "web:team-leave"
)


@pytest.mark.parametrize("name", POST_ROUTES)
def test_bad_form_input_never_answers_500(name, team_objects, admin_user):
    client = login(admin_user)
    url = reverse(name, kwargs={p: team_objects[p] for p in web_route_params()[name]})
    failures = []
    for form in FORMS:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.post(url, form, **headers)
            if response.status_code >= 500:
                failures.append((sorted(form.items())[:2], headers, response.status_code))
    assert not failures, failures
