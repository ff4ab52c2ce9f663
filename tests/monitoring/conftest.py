"""Monitoring fixtures: a registered model `fraud` with versions v0 and v1 (alias
`production` on v0), and helpers that talk to the monitoring API."""

from __future__ import annotations

import hashlib
import io

import orjson
import pytest
from django.db import connection

from apps.registry import services as registry_services

# A clean SDK environment per test (tests/monitoring/test_sdk.py); the shared server and
# its settings come from tests/sdk/servers.py, registered for the whole suite.
from tests.sdk.conftest import _sdk_env  # noqa: F401

T = "/api/v1/teams/team-a"
M = f"{T}/monitors"


def put_json(client, url: str, body):
    return client.generic("PUT", url, data=orjson.dumps(body), content_type="application/json")


def post_json(client, url: str, body):
    return client.generic("POST", url, data=orjson.dumps(body), content_type="application/json")


def model_versions(team, project, actor, name="fraud", count=2):
    """`count` model artifact versions linked into registered model `name`; alias
    production on v0. Returns the links."""
    links = []
    for i in range(count):
        content = f"weights {name} {i}".encode()
        sha = hashlib.sha256(content).hexdigest()
        registry_services.blob_put(team=team, sha256=sha, stream=io.BytesIO(content))
        version, _ = registry_services.version_create(
            team=team,
            project=project,
            name=f"{name}-model",
            data={
                "type": "model",
                "files": [{"path": "model.bin", "sha256": sha, "size": len(content)}],
            },
            actor=actor,
        )
        link, _ = registry_services.registered_model_link(
            team=team,
            name=name,
            source=version,
            aliases=["production"] if i == 0 else [],
            actor=actor,
            permissions=frozenset({"registry:promote"}),
        )
        links.append(link)
    return links


FEATURES = [
    {"name": "amount", "type": "numeric"},
    {"name": "age", "type": "numeric", "allow_nan": True},
    {"name": "country", "type": "categorical"},
    {"name": "note", "type": "text"},
    {"name": "emb", "type": "embedding", "dim": 3},
]


@pytest.fixture
def fraud(team, project, admin_user):
    return model_versions(team, project, admin_user)


@pytest.fixture
def monitor_body():
    return {
        "name": "fraud-prod",
        "registered_model": "fraud",
        "alias": "production",
        "features": FEATURES,
        "prediction_type": "binary",
        "window": "hourly",
    }


@pytest.fixture
def admin_client(admin_api):
    return admin_api


@pytest.fixture
def monitor(admin_api, fraud, monitor_body):
    created = post_json(admin_api, M, monitor_body)
    assert created.status_code == 201, created.content
    return created.json()


def raw_count(monitor_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_prediction WHERE monitor_id = %s", [monitor_id]
        )
        return cursor.fetchone()[0]
