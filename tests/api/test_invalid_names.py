"""A team or project name that breaks the naming rules is a 400 naming the rule, not a
404 that sends people looking for a project that could never exist."""

from __future__ import annotations

from urllib.parse import quote

import pytest

import gradline

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["my project", "résumé", "x" * 200, "a/b", "semi;colon"])
def test_bad_project_names_answer_400_naming_the_rule(admin_api, team, name):
    response = admin_api.post(
        f"/api/v1/teams/{team.slug}/projects/{quote(name, safe='')}/runs", {}, format="json"
    )
    if name == "a/b":  # a slash is a path separator: an unknown route under project "a"
        assert response.status_code == 404
        return
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_name" and error["detail"]["field"] == "project"
    assert "1-128 letters, digits" in error["message"]
    # Reading is refused the same way, for the project itself and anything under it.
    read = admin_api.get(f"/api/v1/teams/{team.slug}/projects/{quote(name, safe='')}")
    assert read.status_code == 400 and read.json()["error"]["detail"]["field"] == "project"


@pytest.mark.parametrize("slug", ["Team_A", "-acme", "a" * 65, "équipe"])
def test_bad_team_names_answer_400_naming_the_rule(admin_api, slug):
    response = admin_api.get(f"/api/v1/teams/{quote(slug, safe='')}/projects")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["detail"]["field"] == "team" and "lowercase letters" in error["message"]


def test_valid_names_keep_their_404s(admin_api, team, other_team, project):
    assert admin_api.get(f"/api/v1/teams/{team.slug}/projects/nope").status_code == 404
    assert admin_api.get(f"/api/v1/teams/{team.slug}/projects/resnet/nothing").status_code == 404
    # another team's project: 404, the same as a missing one
    assert admin_api.get(f"/api/v1/teams/{other_team.slug}/projects/resnet").status_code == 404
    assert admin_api.get("/api/v1/teams/no-such-team/projects").status_code == 404


def test_the_sdk_says_which_rule_a_name_breaks(tmp_path):
    settings = {"dir": str(tmp_path), "mode": "offline", "system_metrics": False}
    with pytest.raises(gradline.UsageError, match="not a valid project name: use 1-128"):
        gradline.init(project="my project", settings=settings)
    with pytest.raises(gradline.UsageError, match="not a valid entity"):
        gradline.init(project="ok", entity="Team A", settings=settings)
    assert not any(tmp_path.iterdir())  # nothing written for a run that cannot exist
