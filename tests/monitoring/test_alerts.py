"""Alert rules through a real Celery worker (tests/celery_worker.py): a rule on window
accuracy fires once when a closed window crosses it and resolves once when a later window
is back, each through the notifications app (one event, one in-app notice to the model's
owner); re-evaluating changes nothing; every evaluation is stored once per window."""

from __future__ import annotations

import time

import pytest

from apps.monitoring import tasks
from apps.monitoring.models import AlertEvaluation, AlertIncident, AlertRule
from apps.notifications.models import Event, Notification
from tests.celery_worker import celery_worker, result_of, wait_until  # noqa: F401 - fixture
from tests.monitoring.conftest import M, post_json

pytestmark = pytest.mark.django_db(transaction=True)

URL = f"{M}/fraud-prod"


def _window(client, start: float, score: float, truth: int, tag: str, n: int = 20) -> None:
    recs = [
        {
            "id": f"{tag}{i}",
            "time": start + 60 + i,
            "features": {"amount": 1.0},
            "prediction": score,
        }
        for i in range(n)
    ]
    assert post_json(client, f"{URL}/predictions", recs).json()["accepted"] == n
    labels = [{"id": f"{tag}{i}", "target": truth} for i in range(n)]
    assert post_json(client, f"{URL}/ground-truth", labels).json()["accepted"] == n


def test_rule_fires_and_resolves_once_through_celery(
    celery_worker,  # noqa: F811
    admin_api,
    monitor,
    team,
    admin_user,
):
    hour = 3600
    current = time.time() // hour * hour
    rule = post_json(
        admin_api,
        f"{URL}/alert-rules",
        {"name": "accuracy floor", "metric": "accuracy", "op": "<", "value": 0.9},
    )
    assert rule.status_code == 201, rule.content
    assert rule.json()["action_config"] == {"users": [], "model_owners": True}
    rule_id = rule.json()["id"]
    bad_metric = post_json(
        admin_api, f"{URL}/alert-rules", {"name": "x", "metric": "nope", "op": "<", "value": 1}
    )
    assert (
        bad_metric.status_code == 400 and bad_metric.json()["error"]["detail"]["field"] == "metric"
    )

    _window(admin_api, current - 3 * hour, 0.9, 0, "a")  # every prediction wrong
    assert result_of(tasks.evaluate_monitor.delay(team.pk, monitor["id"]), 120) == 1
    incident = wait_until(
        lambda: AlertIncident.objects.for_team(team).filter(rule_id=rule_id).first(), 60, "incident"
    )
    assert incident.value == 0.0 and incident.resolved_at is None
    assert "accuracy = 0 < 0.9" in incident.summary
    fired = Event.objects.for_team(team).get(key=f"monitor-alert:{incident.pk}:fired")
    assert fired.data["state"] == "firing" and fired.url.endswith("/monitors/fraud-prod")
    wait_until(
        lambda: (
            Notification.objects.for_team(team).filter(event=fired, recipient=admin_user).exists()
        ),
        60,
        "the owner's notification",
    )
    assert AlertRule.objects.for_team(team).get(pk=rule_id).state == "firing"

    # The next closed window is fine again: resolved, once.
    _window(admin_api, current - 2 * hour, 0.9, 1, "b")
    assert result_of(tasks.evaluate_all.delay(), 120) == 1  # beat's entry queues the monitor
    wait_until(
        lambda: AlertIncident.objects.for_team(team).get(pk=incident.pk).resolved_at,
        120,
        "resolution",
    )
    resolved = Event.objects.for_team(team).get(key=f"monitor-alert:{incident.pk}:resolved")
    wait_until(
        lambda: Notification.objects.for_team(team).filter(event=resolved).exists(), 60, "notice"
    )
    # Evaluating again (a retried task, the next beat tick) adds nothing.
    assert result_of(tasks.evaluate_monitor.delay(team.pk, monitor["id"]), 120) == 0
    assert result_of(tasks.evaluate_monitor.delay(team.pk, monitor["id"]), 120) == 0
    assert AlertIncident.objects.for_team(team).filter(rule_id=rule_id).count() == 1
    events = Event.objects.for_team(team).filter(key__startswith="monitor-alert:")
    assert sorted(e.key.rsplit(":", 1)[1] for e in events) == ["fired", "resolved"]
    assert Notification.objects.for_team(team).filter(event__in=events).count() == 2
    evaluations = (
        AlertEvaluation.objects.for_team(team).filter(rule_id=rule_id).order_by("window_start")
    )
    assert [(e.value, e.firing) for e in evaluations] == [(0.0, True), (1.0, False)]
    history = admin_api.get(f"{URL}/alerts").json()["results"]
    assert [(h["rule_name"], h["resolved_window"] is not None) for h in history] == [
        ("accuracy floor", True)
    ]
