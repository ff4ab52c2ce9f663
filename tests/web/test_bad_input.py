"""No form input makes a web page answer 500: every web route that takes a POST gets
NUL bytes, over-long values, wrong choices and missing fields, as team A's admin (the
caller who gets furthest into the views; the invitee on the invitation route), with and
without htmx. Each post is rolled back, so every form meets the objects the route names."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from apps.core.policy import ROUTES
from tests.factories import UserFactory
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
    # The invitation is for invitee@a.example: only that user gets past the token check.
    caller = UserFactory(email="invitee@a.example") if name == "web:invitation-accept" else None
    client = login(caller or admin_user)
    url = reverse(name, kwargs={p: team_objects[p] for p in web_route_params()[name]})
    failures = []
    statuses = set()
    for form in FORMS:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            # Each post meets the objects as they were: a delete-type route must not
            # answer the later forms with a 404 because the first one deleted its object.
            with transaction.atomic():
                response = client.post(url, form, **headers)
                transaction.set_rollback(True)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append((sorted(form.items())[:2], headers, response.status_code))
    assert not failures, failures
    assert statuses != {404}, f"{url}: every post met a 404, no form reached the view"
