"""Notification delivery with a real Celery worker on Redis (tests/celery_worker.py):
mentions reach the recipient over a WebSocket and by email, webhooks are signed, retried
and logged, a hanging receiver never holds up the request that caused the event, alerts
are rate-limited per wait_duration, and automations fire exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.test import Client

from apps.automations import tasks as automation_tasks
from apps.automations.models import Firing
from apps.notifications.models import Alert, Notification, Preference
from apps.realtime.routing import websocket_urlpatterns
from tests.celery_worker import celery_worker, result_of, wait_until  # noqa: F401 - fixture
from tests.conftest import client_for
from tests.notifications.receivers import Receiver
from tests.route_objects import World, _model_version, _registered_model
from tests.runs.conftest import make_run

T0 = 1_700_000_000.0
pytestmark = pytest.mark.django_db(transaction=True)


class Socket:
    def __init__(self, user, path: str):
        scope = {"type": "websocket", "path": path, "headers": [], "query_string": b""}
        scope |= {"subprotocols": [], "user": user}
        self.io = ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)

    async def connect(self):
        """(accepted, close code); a refused socket is then disconnected and its consumer
        awaited, as tests/realtime/test_project_events.Socket does (and why)."""
        await self.io.send_input({"type": "websocket.connect"})
        answer = await self.io.receive_output(10)
        accepted = answer["type"] == "websocket.accept"
        if not accepted and answer.get("code") is not None:  # one of our consumers
            await self.close()
        return accepted, answer.get("code")

    async def receive_json(self, timeout: float = 60) -> dict:
        answer = await self.io.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def close(self):
        """Disconnect and wait for the consumer to have left its groups and ended: a
        consumer still running when the test's event loop closes is cancelled mid-call."""
        await self.io.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.io.wait(30)


def _comment_url(team, project, run):
    return f"/api/v1/teams/{team.slug}/projects/{project.name}/runs/{run.uid}/comments"


def _alert_url(team, project, run):
    return f"/api/v1/teams/{team.slug}/projects/{project.name}/runs/{run.uid}/alerts"


async def test_mention_arrives_over_the_websocket_and_by_email(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
    member_user,
):
    run = await sync_to_async(make_run)(team, project, admin_user)
    socket = Socket(member_user, "/ws/notifications")
    assert await socket.connect() == (True, None)
    admin_api = await sync_to_async(client_for)(admin_user)
    response = await sync_to_async(admin_api.post)(
        _comment_url(team, project, run), {"body": "Look at this, @member: **loss** dropped"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["mentions"] == [member_user.pk]

    message = await socket.receive_json()
    note = message["notification"]
    assert message["type"] == "notification"
    assert note["kind"] == "mention" and "mentioned you" in note["title"]
    assert note["url"].endswith(f"/runs/{run.uid}#comment-{response.json()['id']}")
    await socket.close()

    mails = await sync_to_async(wait_until)(
        lambda: [m for m in celery_worker.mails() if m["To"] == member_user.email],
        what="the mention email",
    )
    assert len(mails) == 1
    mail = mails[0]
    assert "mentioned you" in mail["Subject"]
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode(
            part.get_content_charset() or "utf-8"
        )
        for part in mail.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "loss** dropped" in parts["text/plain"] and "<h1>" in parts["text/html"]
    unsubscribe = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # One-click unsubscribe: a POST without a session or CSRF token, as mail clients send.
    path = unsubscribe.split("://", 1)[1].split("/", 1)[1]
    answer = await sync_to_async(Client(enforce_csrf_checks=True).post)(f"/{path}")
    assert answer.status_code == 200 and b"Unsubscribed" in answer.content
    pref = await sync_to_async(Preference.objects.get)(user=member_user, kind="mention")
    assert pref.email is False and pref.in_app is True
    forged = await sync_to_async(Client().post)("/notifications/unsubscribe/1:mention:forged")
    assert forged.status_code == 404


def _deliveries(api, team, integration_id):
    return api.get(f"/api/v1/teams/{team.slug}/integrations/{integration_id}/deliveries").json()[
        "results"
    ]


def _delivery(api, team, integration_id, delivery_id):
    url = f"/api/v1/teams/{team.slug}/integrations/{integration_id}/deliveries/{delivery_id}"
    return api.get(url).json()


def test_webhook_is_signed_retried_after_a_500_logged_and_replayed(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
):
    run = make_run(team, project, admin_user)
    api = client_for(admin_user)
    with Receiver(statuses=[500, 200, 500, 500, 500, 200]) as receiver:
        created = api.post(
            f"/api/v1/teams/{team.slug}/integrations",
            {"name": "ci", "type": "webhook", "url": receiver.url, "kinds": ["alert"]},
        )
        assert created.status_code == 201, created.content
        hook = created.json()
        answer = api.post(
            _alert_url(team, project, run),
            {
                "id": "a1",
                "title": "Diverged",
                "text": "loss is NaN",
                "level": "ERROR",
                "wait_duration": 0,
            },
        )
        assert answer.status_code == 201 and answer.json()["notified"] is True

        wait_until(lambda: len(receiver.requests) >= 2, what="the retry after the 500")
        for request in receiver.requests[:2]:
            headers, body = request["headers"], request["body"]
            expected = hmac.new(
                hook["secret"].encode(),
                headers["X-Gradline-Timestamp"].encode() + b"." + body,
                hashlib.sha256,
            ).hexdigest()
            assert headers["X-Gradline-Signature"] == f"sha256={expected}"
            assert headers["X-Gradline-Event"] == "alert"
        payload = json.loads(receiver.requests[1]["body"])
        assert payload["event"]["kind"] == "alert" and "Diverged" in payload["event"]["title"]
        assert payload["event"]["team"] == team.slug and payload["event"]["project"] == project.name
        assert "recipients" not in payload["event"]["data"]

        [delivery] = wait_until(
            lambda: [d for d in _deliveries(api, team, hook["id"]) if d["state"] == "succeeded"],
            what="the delivery to succeed",
        )
        log = _delivery(api, team, hook["id"], delivery["id"])["log"]
        assert [(a["number"], a["status_code"]) for a in log] == [(1, 500), (2, 200)]
        assert log[0]["response"] == "answer 1: 500"

        # Three 500s in a row: failed (WEBHOOK_MAX_ATTEMPTS is 3 for the worker) …
        api.post(
            _alert_url(team, project, run),
            {"id": "a2", "title": "Other", "text": "", "wait_duration": 0},
        )
        [failed] = wait_until(
            lambda: [d for d in _deliveries(api, team, hook["id"]) if d["state"] == "failed"],
            what="the second delivery to fail",
        )
        assert failed["attempts"] == 3
        # … and a replay sends it again; the receiver now answers 200.
        url = (
            f"/api/v1/teams/{team.slug}/integrations/{hook['id']}/deliveries/{failed['id']}/replay"
        )
        assert api.post(url).status_code == 202
        wait_until(
            lambda: _delivery(api, team, hook["id"], failed["id"])["state"] == "succeeded",
            what="the replay to succeed",
        )
        log = _delivery(api, team, hook["id"], failed["id"])["log"]
        assert [a["status_code"] for a in log] == [500, 500, 500, 200]


def test_a_hanging_receiver_does_not_hold_up_the_request(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
):
    run = make_run(team, project, admin_user)
    api = client_for(admin_user)
    with Receiver(hang=True) as receiver:
        hook = api.post(
            f"/api/v1/teams/{team.slug}/integrations",
            {"name": "slow", "url": receiver.url, "kinds": ["alert"]},
        ).json()
        answer = api.post(
            _alert_url(team, project, run), {"id": "h1", "title": "Stuck", "wait_duration": 0}
        )
        # The request has answered while the receiver holds every request it gets.
        assert answer.status_code == 201
        assert not receiver.release.is_set()
        wait_until(lambda: receiver.requests, what="the worker to reach the receiver")
        # The worker gives up on it after WEBHOOK_TIMEOUT_S and logs the timeout.
        delivery = wait_until(
            lambda: [d for d in _deliveries(api, team, hook["id"]) if d["attempts"] >= 1],
            what="the first attempt to be logged",
        )[0]
        log = _delivery(api, team, hook["id"], delivery["id"])["log"]
        assert log[0]["status_code"] is None and "Timeout" in log[0]["error"]
        receiver.release.set()


def test_alert_twice_inside_wait_duration_notifies_once(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
):
    run = make_run(team, project, admin_user)
    api = client_for(admin_user)
    url = _alert_url(team, project, run)
    first = api.post(
        url, {"id": "w1", "title": "Loss spike", "text": "1", "wait_duration": 300, "wall_time": T0}
    )
    second = api.post(
        url,
        {
            "id": "w2",
            "title": "Loss spike",
            "text": "2",
            "wait_duration": 300,
            "wall_time": T0 + 10,
        },
    )
    again = api.post(
        url, {"id": "w1", "title": "Loss spike", "text": "1", "wait_duration": 300, "wall_time": T0}
    )
    other = api.post(
        url,
        {"id": "w3", "title": "GPU hot", "text": "3", "wait_duration": 300, "wall_time": T0 + 11},
    )
    later = api.post(
        url,
        {
            "id": "w4",
            "title": "Loss spike",
            "text": "4",
            "wait_duration": 300,
            "wall_time": T0 + 400,
        },
    )
    assert [r.status_code for r in (first, second, again, other, later)] == [
        201,
        201,
        200,
        201,
        201,
    ]
    assert [r.json()["notified"] for r in (first, second, other, later)] == [
        True,
        False,
        True,
        True,
    ]
    assert Alert.objects.for_team(team).filter(run=run).count() == 4
    wait_until(
        lambda: Notification.objects.for_team(team).filter(recipient=admin_user).count() == 3,
        what="the three notifications",
    )
    titles = sorted(
        Notification.objects.for_team(team)
        .filter(recipient=admin_user)
        .values_list("event__title", flat=True)
    )
    assert [t.split(" — ")[0] for t in titles] == [
        "[INFO] GPU hot",
        "[INFO] Loss spike",
        "[INFO] Loss spike",
    ]
    listed = api.get(url).json()["results"]
    assert [a["id"] for a in listed] == ["w4", "w3", "w2", "w1"]


def test_an_alias_move_fires_its_automation_exactly_once(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
    member_user,
    viewer_user,
    other_team,
    other_admin,
):
    world = World(team, project, admin_user, member_user, viewer_user, other_team, other_admin)
    link = _registered_model(world)  # prod-classifier v0 with alias production
    api = client_for(admin_user)
    rule = api.post(
        f"/api/v1/teams/{team.slug}/automations",
        {
            "name": "promote",
            "registered_model": link.registered_model.name,
            "trigger": "alias_moved",
            "condition": {"alias": "production"},
            "action": "notify",
            "action_config": {"users": [member_user.pk]},
        },
    )
    assert rule.status_code == 201, rule.content
    rule = rule.json()
    # A second version, then production moves v0 -> v1.
    version = _model_version(world)
    from apps.registry import services as registry_services

    registry_services.registered_model_link(
        team=team,
        name=link.registered_model.name,
        source=_second_version(world, version),
        aliases=[],
        actor=admin_user,
        permissions=frozenset({"registry:promote"}),
    )
    base = f"/api/v1/teams/{team.slug}/registered-models/{link.registered_model.name}"
    assert api.put(f"{base}/aliases/production", {"version": "v1"}).status_code == 200
    firings = wait_until(
        lambda: api.get(f"/api/v1/teams/{team.slug}/automations/{rule['id']}/firings").json()[
            "results"
        ],
        what="the automation to fire",
    )
    assert len(firings) == 1 and "production moved from v0 to v1" in firings[0]["summary"]
    wait_until(
        lambda: (
            Notification.objects.for_team(team)
            .filter(recipient=member_user, event__kind="automation")
            .exists()
        ),
        what="the member's notification",
    )
    # Setting the alias where it already is records no event; a redelivered task fires nothing.
    assert api.put(f"{base}/aliases/production", {"version": "v1"}).status_code == 200
    from apps.registry.models import AliasEvent

    moved = (
        AliasEvent.objects.for_team(team)
        .filter(registered_model=link.registered_model, alias="production")
        .order_by("-pk")
        .first()
    )
    assert result_of(automation_tasks.alias_event.delay(team.pk, moved.pk), 60) == 0
    assert Firing.objects.for_team(team).filter(automation_id=rule["id"]).count() == 1


def _second_version(world, first):
    import hashlib
    import io

    from apps.registry import services as registry_services

    content = b"better weights"
    sha256 = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=world.team, sha256=sha256, stream=io.BytesIO(content))
    version, _ = registry_services.version_create(
        team=world.team,
        project=world.project,
        name=first.artifact.name,
        data={
            "type": "model",
            "files": [{"path": "model.pkl", "sha256": sha256, "size": len(content)}],
        },
        actor=world.admin,
    )
    return version


def test_a_metric_threshold_automation_fires_once_when_a_logging_run_crosses_it(
    celery_worker,  # noqa: F811
    team,
    project,
    admin_user,
    member_user,
):
    api = client_for(admin_user)
    rule = api.post(
        f"/api/v1/teams/{team.slug}/automations",
        {
            "name": "converged",
            "project": project.name,
            "trigger": "metric_threshold",
            "condition": {"key": "loss", "op": "<", "value": 0.5},
            "action": "notify",
            "action_config": {"run_owner": True},
        },
    ).json()
    run = make_run(team, project, member_user, uid="logger")
    member = client_for(member_user)
    ingest = f"/api/v1/teams/{team.slug}/projects/{project.name}/runs/{run.uid}/ingest"
    firings_url = f"/api/v1/teams/{team.slug}/automations/{rule['id']}/firings"
    for step, loss in enumerate([1.0, 0.8, 0.6]):
        assert member.post(ingest, {"points": [["loss", step, loss, T0 + step]]}).status_code == 200
    # Above the threshold: evaluating again (as a redelivered task would) fires nothing.
    assert result_of(automation_tasks.check_metrics.delay(team.pk, run.pk), 60) == 0
    assert api.get(firings_url).json()["results"] == []
    for step, loss in enumerate([0.4, 0.3, 0.2], start=3):
        assert member.post(ingest, {"points": [["loss", step, loss, T0 + step]]}).status_code == 200
    firings = wait_until(lambda: api.get(firings_url).json()["results"], what="the firing")
    assert result_of(automation_tasks.check_metrics.delay(team.pk, run.pk), 60) == 0
    firings = api.get(firings_url).json()["results"]
    assert len(firings) == 1
    assert firings[0]["detail"]["run"] == "logger" and firings[0]["detail"]["value"] < 0.5
    wait_until(
        lambda: (
            Notification.objects.for_team(team)
            .filter(recipient=member_user, event__kind="automation")
            .count()
            == 1
        ),
        what="the run owner's notification",
    )
