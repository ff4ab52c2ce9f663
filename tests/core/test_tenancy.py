import pytest

from apps.core.tenancy import TenancyError
from apps.projects.models import Project


def test_unscoped_query_raises(project):
    with pytest.raises(TenancyError):
        list(Project.objects.all())
    with pytest.raises(TenancyError):
        Project.objects.filter(name="resnet").exists()


def test_scoped_query_sees_only_its_team(project, team, other_team):
    assert list(Project.objects.for_team(team)) == [project]
    assert list(Project.objects.for_team(other_team)) == []


def test_for_team_refuses_none():
    with pytest.raises(TenancyError):
        Project.objects.for_team(None)
