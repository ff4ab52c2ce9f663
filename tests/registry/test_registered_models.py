"""Registered models through the API: created empty (201, listed), a second create of
the same name is a 409 naming the field and changes nothing, delete removes the model and
its links but not the artifact versions they pointed to."""

from __future__ import annotations

import pytest

from tests.registry.test_api import log_version
from tests.runs.conftest import P, post_json

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/team-a"


def test_create_conflict_and_delete(api_for, member_user, admin_user, project):
    member, admin = api_for(member_user), api_for(admin_user)
    created = post_json(member, f"{T}/registered-models", {"name": "clf", "description": "v1"})
    assert created.status_code == 201, created.content
    assert (created.json()["name"], created.json()["description"]) == ("clf", "v1")
    listed = member.get(f"{T}/registered-models").json()["registered_models"]
    assert [m["name"] for m in listed] == ["clf"]

    again = post_json(member, f"{T}/registered-models", {"name": "clf", "description": "v2"})
    assert again.status_code == 409
    error = again.json()["error"]
    assert (error["code"], error["detail"]) == ("exists", {"field": "name"})
    assert member.get(f"{T}/registered-models/clf").json()["description"] == "v1"

    # Link an artifact version, then delete the model: the link goes, the version stays.
    assert log_version(member, "weights", {"w.bin": b"w"}, type="model").status_code == 201
    link = {"project": "resnet", "artifact": "weights", "ref": "v0"}
    linked = post_json(member, f"{T}/registered-models/clf/versions", link)
    assert linked.status_code == 201, linked.content
    assert len(member.get(f"{T}/registered-models/clf").json()["versions"]) == 1
    assert admin.delete(f"{T}/registered-models/clf").status_code == 204
    gone = member.get(f"{T}/registered-models/clf")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert member.get(f"{T}/registered-models").json()["registered_models"] == []
    version = member.get(f"{P}/artifacts/weights/versions/v0")
    assert version.status_code == 200 and version.json()["version"] == "v0"
    # The name is free again.
    reborn = post_json(member, f"{T}/registered-models", {"name": "clf"})
    assert reborn.status_code == 201
    assert member.get(f"{T}/registered-models/clf").json()["versions"] == []
