"""`@team_task`: Celery tasks take a team id and run with the team resolved."""

from __future__ import annotations

import pytest

from apps.core.tasks import team_task
from apps.projects.models import Project
from tests.factories import make_project


@team_task(name="tests.count_projects")
def count_projects(team, prefix: str = "") -> int:
    return Project.objects.for_team(team).filter(name__startswith=prefix).count()


@pytest.mark.django_db
def test_body_gets_the_team_of_the_id(team, other_team, admin_user, other_admin):
    make_project(team, "a1", actor=admin_user)
    make_project(team, "a2", actor=admin_user)
    make_project(other_team, "a3", actor=other_admin)
    assert count_projects.delay(team.pk, prefix="a").get() == 2
    assert count_projects.delay(team_id=other_team.pk).get() == 1


@pytest.mark.django_db
def test_a_deleted_team_makes_the_task_a_no_op(team):
    team_id = team.pk
    team.delete()
    assert count_projects.delay(team_id).get() is None
