"""Deleting an object deletes its comments and follows (apps/comments/cleanup.py): a run,
an artifact version, a whole artifact, a registered model, a sweep (and a report, in
tests/reports). Other objects' comments stay."""

from __future__ import annotations

import pytest

from apps.comments import services as comment_services
from apps.comments import targets
from apps.comments.models import Comment, Follow
from apps.core.access import Scope
from apps.core.policy import ROUTES
from apps.registry import services as registry_services
from apps.runs import services as run_services
from apps.sweeps import services as sweep_services
from tests.route_objects import World
from tests.route_objects import _model_version as model_version
from tests.route_objects import _registered_model as registered_model
from tests.route_objects import _sweep as make_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(team, project, admin_user, member_user, viewer_user, other_team, other_admin):
    return World(team, project, admin_user, member_user, viewer_user, other_team, other_admin)


def _comment(world, kind, **kwargs) -> int:
    scope = Scope(route=ROUTES["api:run-comment-list"], team=world.team, project=world.project)
    target = targets.resolve(scope, kind, kwargs)
    comment = comment_services.comment_create(
        target=target, actor=world.member, data={"body": f"on {kind}"}
    )
    return comment.target_id


def _left(team, kind, target_id) -> tuple[int, int]:
    comments = Comment.objects.for_team(team).filter(target_kind=kind, target_id=target_id)
    follows = Follow.objects.for_team(team).filter(target_kind=kind, target_id=target_id)
    return comments.count(), follows.count()


def test_deleting_objects_deletes_their_comments(world, team, admin_user):
    version = model_version(world)
    link = registered_model(world)
    sweep = make_sweep(world)
    run = world.get("run")
    ids = {
        "run": _comment(world, "run", run=run.uid),
        "artifact_version": _comment(
            world, "artifact_version", name=version.artifact.name, ref=version.label
        ),
        "registered_model": _comment(world, "registered_model", name=link.registered_model.name),
        "sweep": _comment(world, "sweep", sweep=sweep.uid),
    }
    for kind, target_id in ids.items():
        assert _left(team, kind, target_id) == (1, 1), kind

    registry_services.registered_model_delete(model=link.registered_model)
    assert _left(team, "registered_model", ids["registered_model"]) == (0, 0)
    assert _left(team, "run", ids["run"]) == (1, 1)  # others stay
    registry_services.version_delete(version=version, delete_aliases=True, actor=admin_user)
    assert _left(team, "artifact_version", ids["artifact_version"]) == (0, 0)
    sweep_services.sweep_delete(sweep=sweep)
    assert _left(team, "sweep", ids["sweep"]) == (0, 0)
    run_services.run_delete(run=run, actor=admin_user, permissions=frozenset({"runs:delete"}))
    assert _left(team, "run", ids["run"]) == (0, 0)


def test_deleting_an_artifact_deletes_its_versions_comments(world, team):
    version = model_version(world)
    target_id = _comment(world, "artifact_version", name=version.artifact.name, ref=version.label)
    registry_services.artifact_delete(artifact=version.artifact)
    assert _left(team, "artifact_version", target_id) == (0, 0)
