import re

import pytest


def test_api_docs_load_their_assets_locally(client, db):
    """Self-hosted installs may have no internet: Swagger UI must not come from a CDN."""
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    # Static files, and Swagger UI's init script from the page's own URL (no inline
    # script: the Content-Security-Policy forbids it).
    assert "/api/docs/?script=" in assets, assets
    assert all(url.startswith(("/static/", "/api/docs/?")) for url in assets), assets
    for url in assets:
        assert client.get(url).status_code == 200, url
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/viewer" in schema.content


ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "429"}


@pytest.fixture
def schema(client, db):
    answer = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    return answer.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def test_schema_declares_the_error_envelope_and_the_errors_of_every_operation(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "detail"}
    assert detail["properties"]["detail"].get("nullable") is True
    ref = {"$ref": "#/components/schemas/Error"}
    seen = set()
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"400", "401", "403", "429"}
        if "{" in path or method != "get":
            expected.add("404")
        if method != "get":
            expected.add("409")
        if method in {"post", "put", "patch"}:
            expected.add("413")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            content = responses[status]["content"]["application/json"]["schema"]
            assert content == ref, (method, path, status)
        assert "Retry-After" in responses["429"]["headers"]
        seen |= set(responses) & ERROR_STATUSES
    assert seen == ERROR_STATUSES


def _parameter(schema, path, method, name):
    [parameter] = [
        p for p in schema["paths"][path][method].get("parameters", []) if p["name"] == name
    ]
    return parameter["schema"]


def test_schema_declares_the_bounds_the_server_enforces(schema):
    project = "/api/v1/teams/{team}/projects/{project}"
    run = f"{project}/runs/{{run}}"
    bounds = [
        ("/api/v1/teams", "limit", 1, 500),
        ("/api/v1/teams", "offset", 0, 10**12),
        ("/api/v1/teams/{team}/audit", "limit", 1, 500),
        (f"{project}/runs", "page_size", 1, 1000),
        (f"{run}/history", "buckets", 1, 10_000),
        (f"{run}/history", "min_step", 0, 2**63 - 1),
        (f"{run}/scan", "page_size", 1, 10_000),
        (f"{run}/console", "limit", 1, 10_000),
        (f"{project}/history", "buckets", 1, 10_000),
    ]
    for path, name, low, high in bounds:
        declared = _parameter(schema, path, "get", name)
        assert declared["type"] == "integer", (path, name)
        assert (declared["minimum"], declared["maximum"]) == (low, high), (path, name)
    runs = _parameter(schema, f"{project}/history", "get", "runs")
    assert (runs["type"], runs["minItems"], runs["maxItems"]) == ("array", 1, 100)
    # Request fields too: the ingest body's console offset fits a bigint.
    ingest = schema["components"]["schemas"]["IngestIn"]["properties"]["console_offset"]
    assert (ingest["minimum"], ingest["maximum"]) == (0, 2**63 - 1)


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=501", "limit"), ("limit=0", "limit"), ("offset=-1", "offset")],
)
def test_the_server_refuses_what_the_schema_excludes(client, admin_user, query, field):
    """The declared bounds are the enforced ones: one past them is a 400 naming the field."""
    client.force_login(admin_user)
    answer = client.get(f"/api/v1/teams?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["detail"] == {"field": field}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"keys=loss&min_step={2**63}", "min_step"),
        (f"keys=loss&max_step={2**63}", "max_step"),
        ("keys=loss&buckets=10001", "buckets"),
    ],
)
def test_step_parameters_past_bigint_are_refused_by_name(
    client, team, project, admin_user, member_user, query, field
):
    """Steps are PostgreSQL bigints, as the schema declares: one past it is a 400 naming it."""
    from tests.runs.conftest import make_run

    run = make_run(team, project, member_user)
    client.force_login(admin_user)
    answer = client.get(f"/api/v1/teams/team-a/projects/resnet/runs/{run.uid}/history?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["detail"] == {"field": field}
