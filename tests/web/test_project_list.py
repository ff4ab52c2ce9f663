"""The team's project list shows where work happens: run count, last activity and who
logged last."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import make_project
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def test_project_cards_show_runs_activity_and_who_logged_last(
    team, admin_user, member_user, project
):
    member_user.name = "Ada Lovelace"
    member_user.save(update_fields=["name"])
    make_project(team, "quiet", actor=admin_user)
    base = f"/api/v1/teams/{team.slug}/projects/{project.name}/runs"
    assert client_for(admin_user).post(base, {"name": "first"}, format="json").status_code == 201
    assert client_for(member_user).post(base, {"name": "second"}, format="json").status_code == 201

    page = login(admin_user).get(f"/{team.slug}/").content.decode()
    resnet = page[page.index('href="/team-a/resnet/"') :].split("</a>")[0]
    assert "2 runs" in resnet and "by Ada Lovelace" in resnet
    quiet = page[page.index('href="/team-a/quiet/"') :].split("</a>")[0]
    assert "no runs yet" in quiet
