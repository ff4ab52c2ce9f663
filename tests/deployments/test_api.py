"""Deployments through the API without a worker: create, validation (400 naming the
field), roles (viewers and members 403 on writes), another team's deployment 404, and
credentials stored encrypted and never returned."""

from __future__ import annotations

import pytest

from apps.deployments import secrets
from apps.deployments.models import Deployment
from tests.deployments.conftest import log_model_version
from tests.runs.conftest import post_json

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/team-a"
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"


@pytest.fixture
def version(team, project, admin_user):
    return log_model_version(
        team, project, admin_user, b"not really a model", aliases=["production"]
    )


def _create(client, **body):
    data = {
        "model": "model:production",
        "project": "resnet",
        "platform": "local",
        "endpoint_name": "churn",
        **body,
    }
    return post_json(client, f"{T}/deployments", data)


def test_create_lists_and_resolves_the_reference(api_for, admin_user, version):
    admin = api_for(admin_user)
    created = _create(admin)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["state"], body["version"], body["model"]) == (
        "pending",
        "model:v0",
        "model:production",
    )
    assert body["attempt"] == 1 and body["history"] == []
    listed = admin.get(f"{T}/deployments").json()["deployments"]
    assert [d["endpoint_name"] for d in listed] == ["churn"]
    events = admin.get(f"{T}/deployments/{body['id']}/events").json()
    assert events["events"][0]["message"] == "pending: deploy model:v0"
    # The same endpoint on the same platform again: a redeploy of the same record.
    again = _create(admin, model="model:v0")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["attempt"] == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"platform": "heroku"}, "platform"),
        ({"endpoint_name": "-bad-"}, "endpoint_name"),
        ({"endpoint_name": "x" * 64}, "endpoint_name"),
        ({"model": "missing:latest"}, "model"),
        ({"model": "model:v9"}, "model"),
        ({"model": 3}, "model"),
        ({"model": "model:production", "project": None}, None),
        ({"options": []}, "options"),
        ({"follow_alias": "yes"}, "follow_alias"),
        ({"model": "model-registry/nope:production"}, "model"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_for, admin_user, version, body, field):
    r = _create(api_for(admin_user), **body)
    if field is None:  # no project: the reference names none
        assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "project"
        return
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == field


def test_viewers_and_members_may_read_but_not_deploy(
    api_for, admin_user, member_user, viewer_user, version
):
    created = _create(api_for(admin_user)).json()
    url = f"{T}/deployments/{created['id']}"
    for user in (member_user, viewer_user):
        client = api_for(user)
        assert client.get(url).status_code == 200
        assert _create(client, endpoint_name="other").status_code == 403
        for action in ("redeploy", "rollback", "stop"):
            assert post_json(client, f"{url}/{action}", {}).status_code == 403
        assert client.delete(url).status_code == 403


def test_another_teams_deployment_is_a_404(api_for, admin_user, other_admin, other_team, version):
    created = _create(api_for(admin_user)).json()
    other = api_for(other_admin)
    url = f"{T}/deployments/{created['id']}"
    assert other.get(url).status_code == 404
    assert post_json(other, f"{url}/stop", {}).status_code == 404
    # Team B's own URL with team A's id: still nothing.
    own = f"/api/v1/teams/{other_team.slug}/deployments/{created['id']}"
    assert other.get(own).status_code == 404
    assert post_json(other, f"{own}/rollback", {}).status_code == 404


def test_credentials_are_encrypted_and_never_returned(api_for, admin_user, team, version):
    admin = api_for(admin_user)
    options = {
        "region": "eu-west-1",
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": SECRET,
    }
    created = _create(admin, platform="sagemaker", options=options)
    assert created.status_code == 201, created.content
    for response in (
        created,
        admin.get(f"{T}/deployments"),
        admin.get(f"{T}/deployments/{created.json()['id']}"),
        admin.get(f"{T}/deployments/{created.json()['id']}/events"),
    ):
        assert (
            SECRET not in response.content.decode()
            and "AKIAEXAMPLE" not in response.content.decode()
        )
    body = created.json()
    assert body["has_credentials"] is True and body["options"] == {"region": "eu-west-1"}
    row = Deployment.objects.for_team(team).get(pk=body["id"])
    assert SECRET not in row.credentials_encrypted and SECRET not in str(row.options)
    assert secrets.decrypt(row.credentials_encrypted)["aws_secret_access_key"] == SECRET


def test_rollback_without_history_is_a_409_and_stop_then_delete(api_for, admin_user, version):
    admin = api_for(admin_user)
    created = _create(admin).json()
    url = f"{T}/deployments/{created['id']}"
    r = post_json(admin, f"{url}/rollback", {})
    assert r.status_code == 409 and "no earlier version" in r.json()["error"]["message"]
    stopped = post_json(admin, f"{url}/stop", {})
    assert stopped.status_code == 202 and stopped.json()["state"] == "stopping"
    assert post_json(admin, f"{url}/predict", {"inputs": [{"name": "x"}]}).status_code == 409
    assert admin.get(f"{url}/events?after=x").status_code == 400
