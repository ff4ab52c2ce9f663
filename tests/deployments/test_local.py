"""The local target end to end through a real Celery worker and a real MLServer:
log_model a scikit-learn .pkl -> deploy(platform="local") -> V2 inference returns the
model's predictions -> moving the followed alias redeploys (history shows both versions
with times) -> rollback -> stop. A malformed model file fails with a clear error and
leaves the other deployment serving. A worker killed mid-deploy is resumed by another
worker, which adopts the model server its predecessor started (no second server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from apps.deployments import jobs, tasks
from apps.deployments.models import Deployment
from apps.monitoring import services as monitoring_services
from apps.monitoring.models import Window
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from tests.celery_worker import READY_TIMEOUT_S, wait_until
from tests.child_process import child_env
from tests.deployments.conftest import log_model_version, model_servers, sklearn_model_bytes
from tests.runs.conftest import post_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

T = "/api/v1/teams/team-a"
DEADLINE_S = 240
V2_BODY = {
    "inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [0, 1, 1, 0]}]
}


def _row(team, pk) -> Deployment:
    return Deployment.objects.for_team(team).get(pk=pk)


def _wait_state(team, pk, states, attempt=None, timeout=DEADLINE_S) -> Deployment:
    def settled():
        row = _row(team, pk)
        if row.state in states and (attempt is None or row.attempt == attempt):
            return row
        return None

    return wait_until(settled, timeout, f"deployment {pk} to reach {states}")


def _predict(url: str) -> list:
    answer = httpx.post(f"{url}/infer", json=V2_BODY, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["outputs"][0]["data"]


def _deploy(client, **body):
    data = {"model": "model:production", "project": "resnet", "platform": "local", **body}
    r = post_json(client, f"{T}/deployments", data)
    assert r.status_code in (200, 201), r.content
    return r.json()


def _monitor(team, actor, version):
    """Registered model `churn` (production on `version`) and a monitor of it."""
    registry_services.registered_model_link(
        team=team,
        name="churn",
        source=version,
        aliases=["production"],
        actor=actor,
        permissions=frozenset({"registry:promote"}),
    )
    return monitoring_services.monitor_save(
        team=team,
        monitor=None,
        data={
            "name": "churn-monitor",
            "registered_model": "churn",
            "alias": "production",
            "features": [{"name": "x0", "type": "numeric"}, {"name": "x1", "type": "numeric"}],
            "prediction_type": "binary",
        },
        actor=actor,
        model_of=lambda name: registry_selectors.registered_model_get(team, name),
    )


@pytest.fixture
def short_lease(monkeypatch, settings):
    monkeypatch.setenv("DEPLOYMENTS_LEASE_S", "3")
    settings.DEPLOYMENTS_LEASE_S = 3


def test_log_deploy_predict_follow_alias_rollback_stop(
    deploy_root, celery_worker, api_for, admin_user, team, project
):
    admin = api_for(admin_user)
    v0 = log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    monitor = _monitor(team, admin_user, v0)
    created = _deploy(
        admin, endpoint_name="churn", follow_alias=True, options={"monitor": monitor.name}
    )
    row = _wait_state(team, created["id"], ("healthy", "failed"))
    assert row.state == "healthy", row.error
    assert _predict(row.url) == [0, 1]
    # The same request relayed through Gradline's API lands in the monitoring ingest.
    relayed = post_json(admin, f"{T}/deployments/{row.pk}/predict", V2_BODY)
    assert relayed.status_code == 200 and relayed.json()["outputs"][0]["data"] == [0, 1]
    assert relayed["Gradline-Monitored"] == "2"
    windows = Window.objects.for_team(team).filter(monitor=monitor)
    assert sum(w.count for w in windows) == 2
    first_pid = row.runtime["server"]["pid"]

    # A new version under the followed alias: the follow job redeploys it.
    v1 = log_model_version(team, project, admin_user, sklearn_model_bytes(flip=True))
    artifact = registry_selectors.artifact_get(team, project, "model")
    registry_services.artifact_alias_set(
        artifact=artifact, alias="production", ref=v1.label, actor=admin_user
    )
    tasks.follow_aliases.delay()
    row = _wait_state(team, row.pk, ("healthy", "failed"), attempt=2)
    assert row.state == "healthy" and row.version_label == "model:v1", row.error
    assert _predict(row.url) == [1, 0]
    assert model_servers(deploy_root) == [row.runtime["server"]["pid"]] != [first_pid]
    detail = admin.get(f"{T}/deployments/{row.pk}").json()
    history = detail["history"]
    assert [h["version"] for h in history] == ["model:v1", "model:v0"]
    assert history[0]["ended_at"] is None and history[1]["ended_at"] is not None
    assert history[1]["started_at"] <= history[1]["ended_at"] <= history[0]["started_at"]

    # Roll back to v0, then stop: the server goes away.
    assert post_json(admin, f"{T}/deployments/{row.pk}/rollback", {}).status_code == 202
    row = _wait_state(team, row.pk, ("healthy", "failed"), attempt=3)
    assert row.version_label == "model:v0" and _predict(row.url) == [0, 1]
    assert row.follow_alias is False
    assert post_json(admin, f"{T}/deployments/{row.pk}/stop", {}).status_code == 202
    row = _wait_state(team, row.pk, ("stopped",))
    assert model_servers(deploy_root) == []
    events = admin.get(f"{T}/deployments/{row.pk}/events").json()["events"]
    states = [e["message"].split(":")[0] for e in events if e["kind"] == "state"]
    assert states[:4] == ["pending", "packaging", "deploying", "healthy"]
    assert states[-1] == "stopped"


def test_a_malformed_model_fails_clearly_and_affects_nothing_else(
    deploy_root, celery_worker, api_for, admin_user, team, project
):
    admin = api_for(admin_user)
    log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    log_model_version(team, project, admin_user, b"\x80\x04garbage", name="broken")
    good = _deploy(admin, endpoint_name="good")
    bad = _deploy(admin, endpoint_name="bad", model="broken:latest")
    bad_row = _wait_state(team, bad["id"], ("healthy", "failed"))
    assert bad_row.state == "failed"
    assert "cannot be loaded as a sklearn model" in bad_row.error, bad_row.error
    body = admin.get(f"{T}/deployments/{bad['id']}").json()
    assert body["state"] == "failed" and "cannot be loaded" in body["error"]
    good_row = _wait_state(team, good["id"], ("healthy", "failed"))
    assert good_row.state == "healthy", good_row.error
    assert _predict(good_row.url) == [0, 1]
    assert len(model_servers(deploy_root)) == 1


def _second_worker(queue: str, log_path) -> subprocess.Popen:
    from django.conf import settings

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    env = child_env(
        DJANGO_SETTINGS_MODULE="tests.celery_worker_settings",
        GRADLINE_TEST_QUEUE=queue,
        GRADLINE_TEST_MAIL_DIR=str(log_path.parent),
        GRADLINE_TEST_CHANNEL_PREFIX=prefix,
    )
    out = open(log_path, "wb")  # noqa: SIM115 - the worker writes it until the test ends
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker"),
            *("-Q", queue, "-P", "threads", "-c", "4", "-l", "INFO"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            "--hostname=second-%h",
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def test_a_worker_killed_mid_deploy_is_resumed_without_a_second_server(
    deploy_root, short_lease, celery_worker, api_for, admin_user, team, project, tmp_path
):
    admin = api_for(admin_user)
    log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    created = _deploy(admin, endpoint_name="resumed")

    def starting():
        row = _row(team, created["id"])
        return row if row.state == "deploying" and row.runtime.get("starting") else None

    row = wait_until(starting, DEADLINE_S, "the model server to be started")
    started_pid = row.runtime["starting"]["pid"]
    worker_pid = int(row.lease_owner.rsplit(":", 1)[1])
    os.kill(worker_pid, signal.SIGKILL)
    assert _row(team, row.pk).state == "deploying"  # killed mid-deploy

    log = tmp_path / "second.log"
    second = _second_worker(celery_worker.queue, log)
    try:
        wait_until(
            lambda: " ready." in log.read_text(errors="replace"), READY_TIMEOUT_S, "worker 2"
        )
        # The dead worker's lease lapses; reconcile re-sends the job to the live worker.
        wait_until(lambda: tasks.resend_lapsed(team) > 0, 60, "the lapsed lease to be re-sent")
        done = _wait_state(team, row.pk, ("healthy", "failed"))
        assert done.state == "healthy", done.error
        assert done.runtime["server"]["pid"] == started_pid
        assert model_servers(deploy_root) == [started_pid]
        assert _predict(done.url) == [0, 1]
        events = admin.get(f"{T}/deployments/{row.pk}/events").json()["events"]
        assert any("resuming" in e["message"] for e in events)
    finally:
        second.terminate()
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()


@pytest.mark.django_db  # no commit: the jobs are called here, not queued
def test_a_team_waits_for_a_free_slot(settings, deploy_root, api_for, admin_user, team, project):
    """At DEPLOYMENTS_MAX_CONCURRENT working jobs, the next deployment stays pending."""
    settings.DEPLOYMENTS_MAX_CONCURRENT = 1
    admin = api_for(admin_user)
    log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    first = _deploy(admin, endpoint_name="one")
    second = _deploy(admin, endpoint_name="two")
    from datetime import timedelta

    from django.utils import timezone

    Deployment.objects.for_team(team).filter(pk=first["id"]).update(
        state="packaging",
        lease_owner="elsewhere:1",
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    assert jobs.run(team, second["id"], 1, owner="here:2") == "wait"
    assert _row(team, second["id"]).state == "pending"
    Deployment.objects.for_team(team).filter(pk=first["id"]).update(state="failed")
    # A stale delivery of an old attempt does nothing.
    assert jobs.run(team, second["id"], 0, owner="here:2") == "skip"


def test_stop_cancels_a_deploy_in_progress(
    deploy_root, short_lease, celery_worker, api_for, admin_user, team, project
):
    """A stop while the model server is starting: the deploy job gives way at its next
    heartbeat, the stop job takes the server it started down, nothing keeps running."""
    admin = api_for(admin_user)
    log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    created = _deploy(admin, endpoint_name="cancelled")

    def starting():
        row = _row(team, created["id"])
        return row if row.state == "deploying" and row.runtime.get("starting") else None

    row = wait_until(starting, DEADLINE_S, "the model server to be started")
    stopped = post_json(admin, f"{T}/deployments/{row.pk}/stop", {})
    assert stopped.status_code == 202 and stopped.json()["state"] == "stopping"
    # As the reconcile beat does every 30 s in production: a job whose message was lost
    # or whose lease lapsed is sent again (harmless when it is alive: it waits or skips).
    resent = [time.monotonic()]

    def settled():
        if time.monotonic() - resent[0] > 10:
            tasks.resend_lapsed(team)
            resent[0] = time.monotonic()
        found = _row(team, row.pk)
        return found if found.state in ("stopped", "failed") else None

    row = wait_until(settled, DEADLINE_S, "the stop to finish")
    assert row.state == "stopped", row.error
    assert row.attempt == 2 and row.runtime == {}
    wait_until(lambda: model_servers(deploy_root) == [], 60, "the started server to stop")
    events = admin.get(f"{T}/deployments/{row.pk}/events").json()["events"]
    assert not any(e["message"].startswith("healthy") for e in events)
    assert admin.get(f"{T}/deployments/{row.pk}").json()["history"] == []
