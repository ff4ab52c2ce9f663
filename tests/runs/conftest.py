"""Run-tracking fixtures: a run in team A's project, API clients, ingest helpers."""

from __future__ import annotations

import orjson
import pytest

from apps.runs import services as run_services

P = "/api/v1/teams/team-a/projects/resnet"


def run_url(uid: str, suffix: str = "") -> str:
    return f"{P}/runs/{uid}{suffix}"


def post_json(client, url: str, body, **extra):
    return client.generic(
        "POST", url, data=orjson.dumps(body), content_type="application/json", **extra
    )


def ingest(client, uid: str, body: dict, **extra):
    return post_json(client, run_url(uid, "/ingest"), body, **extra)


def make_run(team, project, actor, uid: str = "run1", **data):
    run, _, _ = run_services.run_create_or_resume(
        team=team, project=project, project_name=project.name, actor=actor, data={"id": uid, **data}
    )
    run.team, run.project = team, project
    return run


@pytest.fixture
def member_api(api_for, member_user):
    return api_for(member_user)


@pytest.fixture
def viewer_api(api_for, viewer_user):
    return api_for(viewer_user)


@pytest.fixture
def run(team, project, member_user):
    return make_run(team, project, member_user)
