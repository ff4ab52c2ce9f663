"""Registered-model names with inner spaces ("My Registered Model", W&B's quickstart
name): linked, read and listed through the HTTP API; malformed spacing is a 400 naming
the field."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.registry.test_api import T, log_version
from tests.runs.conftest import post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_api(api_for, member_user):
    return api_for(member_user)


def test_registered_model_name_with_spaces(member_api, project):
    log_version(member_api, "clf", {"m.pkl": b"v0"}, type="model")
    url = f"{T}/registered-models/{quote('My Registered Model')}"
    link = {"project": "resnet", "artifact": "clf", "ref": "v0"}
    r = post_json(member_api, f"{url}/versions", link)
    assert r.status_code == 201, r.content
    model = member_api.get(url).json()
    assert model["name"] == "My Registered Model"
    assert [v["version"] for v in model["versions"]] == ["v0"]
    assert member_api.get(f"{url}/versions/latest").status_code == 200
    listed = member_api.get(f"{T}/registered-models").json()
    assert "My Registered Model" in [m["name"] for m in listed["registered_models"]]


@pytest.mark.parametrize("name", [" leading", "trailing ", "two  spaces", "tab\tname"])
def test_registered_model_names_with_bad_spacing_are_refused(member_api, project, name):
    r = post_json(member_api, f"{T}/registered-models", {"name": name})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == "name"
