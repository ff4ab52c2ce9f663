"""Bad input anywhere under /api/ answers a 4xx in the JSON error shape, never a 500."""

from __future__ import annotations

import base64

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "detail"} and error["message"]
    if code:
        assert error["code"] == code, error
    return error


@override_settings(ALLOWED_HOSTS=["gradline.example"])
def test_disallowed_host_is_a_json_400_on_api_paths(client):
    response = client.get("/api/v1/viewer", HTTP_HOST="evil.example")
    _error(response, 400, "bad_request")
    web = client.get("/teams/", HTTP_HOST="evil.example")
    assert web.status_code == 400 and not web["Content-Type"].startswith("application/json")


@override_settings(ALLOWED_HOSTS=["gradline.example"], SECURE_SSL_REDIRECT=True)
def test_disallowed_host_is_json_even_when_rejected_by_the_ssl_redirect(client):
    _error(client.get("/api/v1/viewer", HTTP_HOST="evil.example"), 400, "bad_request")


def test_unknown_api_path_is_a_json_404(admin_api):
    _error(admin_api.get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/teams/team-a/members/99999999999999999999999",
        "/api/v1/teams/team-a/members/-1",
        "/api/v1/keys/12345678901234567890",
    ],
)
def test_impossible_path_values_are_404_not_500(admin_api, team, path):
    _error(admin_api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/teams/team%00a", "team"),
        ("/api/v1/teams/" + "a" * 65, "team"),
        ("/api/v1/teams/team-a/projects/has%20space", "project"),
        ("/api/v1/teams/team-a/projects/" + "p" * 129, "project"),
    ],
)
def test_names_that_break_the_rules_are_400_naming_them(admin_api, team, path, field):
    """Not a 404 that sends people looking for a team or project (apps/api/names.py)."""
    body = _error(admin_api.get(path), 400, "invalid_name")
    assert body["detail"]["field"] == field


def test_web_paths_with_impossible_values_are_404(client, admin_user, team):
    client.force_login(admin_user)
    assert client.get("/team%00a/").status_code == 404
    assert client.get("/team-a/settings/members/99999999999999999999999/role").status_code == 404


def test_method_not_in_policy_is_a_json_405(admin_api, team):
    _error(admin_api.put(f"/api/v1/teams/{team.slug}", {"name": "x"}), 405, "method_not_allowed")


def test_malformed_json_is_a_400(admin_api, team):
    response = admin_api.generic(
        "POST", f"/api/v1/teams/{team.slug}/projects", "{not json", "application/json"
    )
    _error(response, 400)


def test_json_that_is_not_an_object_is_a_400(admin_api, team):
    response = admin_api.post(f"/api/v1/teams/{team.slug}/projects", [1, 2], format="json")
    _error(response, 400, "invalid")


def test_form_encoded_body_is_a_415(admin_api, team):
    response = admin_api.post(
        f"/api/v1/teams/{team.slug}/projects", {"name": "x"}, format="multipart"
    )
    _error(response, 415, "unsupported_media_type")


def test_oversized_body_is_a_413(admin_api, team, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = admin_api.post(
        f"/api/v1/teams/{team.slug}/projects", {"name": "x", "description": "y" * 5000}
    )
    assert _error(response, 413, "payload_too_large")["detail"] == {"limit_bytes": 1000}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/teams", {"slug": "a\x00b"}, "slug"),
        ("/api/v1/teams", {"slug": "Not A Slug"}, "slug"),
        ("/api/v1/teams", {"slug": "api"}, "slug"),
        ("/api/v1/teams", {}, "slug"),
        ("/api/v1/teams/team-a/projects", {"name": "a\x00b"}, "name"),
        ("/api/v1/teams/team-a/projects", {"name": "../etc"}, "name"),
        ("/api/v1/teams/team-a/projects", {"name": "ok", "visibility": "world"}, "visibility"),
        ("/api/v1/teams/team-a/projects", {"name": 5, "description": ["x"]}, "description"),
        ("/api/v1/teams/team-a/invitations", {"email": "x\x00@a.example"}, "email"),
        ("/api/v1/teams/team-a/invitations", {"email": "a@a.example", "role": "god"}, "role"),
        ("/api/v1/invitations/accept", {"token": "\x00"}, "token"),
        ("/api/v1/keys", {"name": ""}, "name"),
        ("/api/v1/keys", {"name": "k" * 101}, "name"),
    ],
)
def test_bad_fields_are_400_naming_the_field(admin_api, team, url, body, field):
    error = _error(admin_api.post(url, body, format="json"), 400)
    named = error["detail"] if isinstance(error["detail"], dict) else {}
    assert field in named or named.get("field") == field, error


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=0", "limit=501", "offset=-1", "limit=%C2%B2", "offset=1e3"]
)
def test_bad_pagination_is_400_naming_the_parameter(admin_api, team, query):
    error = _error(admin_api.get(f"/api/v1/teams/{team.slug}/members?{query}"), 400)
    assert error["detail"]["field"] == query.split("=")[0]


@pytest.mark.parametrize("query", ["before=%C2%B2", "before=abc", "before=0", "limit=1000"])
def test_bad_audit_cursor_is_400(admin_api, team, query):
    error = _error(admin_api.get(f"/api/v1/teams/{team.slug}/audit?{query}"), 400)
    assert error["detail"]["field"] == query.split("=")[0]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer gl-" + "A" * 40,  # well-formed length, bad checksum
        "Basic !!!",
        "Basic " + base64.b64encode(b"admin:gl-whatever").decode(),
        "Bearer",
    ],
)
def test_bad_credentials_are_401_and_never_anonymous(client, header):
    response = client.get("/api/v1/viewer", HTTP_AUTHORIZATION=header)
    _error(response, 401, None)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_schema_and_docs_render(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/teams/{team}/members/{user_id}" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_nul_in_a_query_parameter_is_a_400(admin_api, team):
    error = _error(admin_api.get(f"/api/v1/teams/{team.slug}/members?limit=%00"), 400)
    assert error["detail"] == {"field": "limit"}
    error = _error(admin_api.get(f"/api/v1/teams/{team.slug}/projects?q%00=1"), 400)
    assert error["detail"] == {"field": "q"}
