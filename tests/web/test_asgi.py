"""Pages served through Django's ASGI handler, as uvicorn serves them in production.

The sync test client builds WSGI requests; under ASGI `request.scope` is the ASGI
connection scope that Django reads for the scheme and headers, so the web scope must
live elsewhere (`request.team_scope`). This caught every page answering 500 under
uvicorn while the WSGI-based tests passed.

The requests are driven with `async_to_sync` from the test's thread: asgiref then runs
the (sync) views back in this thread, on the test's own database connection."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

pytestmark = pytest.mark.django_db


def _asgi(user, method: str, path: str, data=None, headers=None):
    async def request():
        client = AsyncClient()
        await client.aforce_login(user)
        return await getattr(client, method)(path, data or {}, headers=headers or {})

    return async_to_sync(request)()


@pytest.mark.parametrize(
    "path", ["/healthz", "/accounts/email/", "/team-a/", "/team-a/resnet/", "/team-a/settings/"]
)
def test_pages_answer_through_asgi(path, team, project, admin_user):
    response = _asgi(admin_user, "get", path)
    assert response.status_code == 200, (path, response.status_code)
    if path == "/healthz":
        assert response.json()["status"] == "ok"
    else:  # the page itself, rendered with the signed-in user's data
        html = response.content.decode()
        assert "<!doctype html>" in html and 'id="flash"' in html
        assert "admin@a.example" in html or "Team-A" in html, html[:300]


def test_asgi_form_post_and_error(team, admin_user):
    created = _asgi(admin_user, "post", "/team-a/", {"name": "via-asgi", "visibility": "team"})
    assert created.status_code == 302 and created["Location"] == "/team-a/via-asgi/"
    refused = _asgi(
        admin_user,
        "post",
        f"/team-a/settings/members/{admin_user.pk}/role",
        {"role": "viewer"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 409


def test_asgi_non_member_gets_404(team, other_admin):
    assert _asgi(other_admin, "get", "/team-a/").status_code == 404


def test_asgi_unknown_url_is_a_plain_404(admin_user):
    # Rendered by Django outside the request thread: the page must not need the database.
    response = _asgi(admin_user, "get", "/.well-known/no-such-file")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
