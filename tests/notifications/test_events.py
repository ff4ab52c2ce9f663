"""Built-in notices (eager tasks, after commit): a run of mine failing or crashing, a sweep
I started finishing; and a run-end automation firing once per end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.automations.models import Automation, Firing
from apps.notifications.models import Notification
from apps.runs import services as run_services
from apps.runs.models import Run
from apps.sweeps import services as sweep_services
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db


def _kinds(team, user):
    return sorted(
        Notification.objects.for_team(team)
        .filter(recipient=user)
        .values_list("event__kind", flat=True)
    )


def test_failed_and_crashed_runs_notify_their_owner_and_fire_automations(
    team, project, member_user, django_capture_on_commit_callbacks
):
    rule = Automation.objects.for_team(team).create(
        team=team,
        name="failures",
        project=project,
        trigger="run_failed",
        action="notify",
        action_config={"users": [], "run_owner": True},
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = make_run(team, project, member_user, uid="boom", name="boom")
        run_services.run_finish(run=run, data={"exit_code": 1})
    assert _kinds(team, member_user) == ["automation", "run_failed"]
    note = Notification.objects.for_team(team).get(recipient=member_user, event__kind="run_failed")
    assert note.event.title == "Run boom failed (exit code 1)"
    assert Firing.objects.for_team(team).filter(automation=rule).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        quiet = make_run(team, project, member_user, uid="quiet", name="quiet")
        Run.objects.for_team(team).filter(pk=quiet.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        assert run_services.runs_mark_crashed(team=team, timeout_s=60) == [quiet.pk]
        assert run_services.runs_mark_crashed(team=team, timeout_s=60) == []
    crashed = Notification.objects.for_team(team).filter(
        recipient=member_user, event__kind="run_failed"
    )
    assert sorted(n.event.title for n in crashed) == [
        "Run boom failed (exit code 1)",
        "Run quiet crashed",
    ]
    # A finished run notifies nobody; the failed-run rule does not fire for it.
    with django_capture_on_commit_callbacks(execute=True):
        fine = make_run(team, project, member_user, uid="fine")
        run_services.run_finish(run=fine, data={"exit_code": 0})
    assert Firing.objects.for_team(team).filter(automation=rule).count() == 1


def test_a_finished_sweep_notifies_its_creator_once(
    team, project, member_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sweep = sweep_services.sweep_create(
            team=team,
            project=project,
            project_name=project.name,
            actor=member_user,
            data={"config": {"method": "random", "parameters": {"lr": {"min": 0.1, "max": 1.0}}}},
        )
        sweep_services.sweep_update(sweep=sweep, data={"state": "finished"})
        sweep_services.sweep_update(sweep=sweep, data={"state": "finished"})
    assert _kinds(team, member_user) == ["sweep_finished"]
