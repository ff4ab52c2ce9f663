"""Deployments in a real browser, with a real Celery worker and MLServer: an admin sees
the team's deployments, opens one and watches its events and logs arrive live over the
WebSocket (no reload) until it is healthy, then rolls back to the previous version from
the page and watches that attempt go healthy live. Screenshots of each step."""

from __future__ import annotations

import pytest

from apps.deployments import services as deployment_services
from apps.deployments.models import Deployment
from apps.teams.models import Membership
from tests import celery_worker as worker_fixtures
from tests.celery_worker import wait_until
from tests.deployments import conftest as deployment_fixtures
from tests.deployments.conftest import log_model_version, sklearn_model_bytes
from tests.e2e.pages import PASSWORD, screenshot, script_errors, sign_in
from tests.factories import UserFactory, make_project, make_team

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
]

DEADLINE_S = 240
# Fixtures of other folders, made visible here.
celery_worker = worker_fixtures.celery_worker
deploy_root = deployment_fixtures.deploy_root


def _deploy(team, project, grace, model: str):
    deployment, _ = deployment_services.deployment_deploy(
        team=team,
        data={
            "model": model,
            "project": project.name,
            "platform": "local",
            "endpoint_name": "churn",
        },
        actor=grace,
        membership=Membership.objects.for_team(team).get(user=grace),
        user=grace,
    )
    return deployment


def _healthy(team, pk, attempt):
    def done():
        row = Deployment.objects.for_team(team).get(pk=pk)
        assert row.state != "failed", row.error
        return row if row.state == "healthy" and row.attempt == attempt else None

    return wait_until(done, DEADLINE_S, f"attempt {attempt} healthy")


def test_list_live_logs_and_rollback(
    deploy_root,
    celery_worker,
    live_server,
    browser,
    screenshots_dir,
):
    from playwright.sync_api import expect

    grace = UserFactory(email="grace@acme.example", password=PASSWORD)
    team = make_team("acme", grace)
    project = make_project(team, "resnet", actor=grace)
    log_model_version(team, project, grace, sklearn_model_bytes(), aliases=["production"])
    log_model_version(team, project, grace, sklearn_model_bytes(flip=True))
    first = _deploy(team, project, grace, "model:v0")
    _healthy(team, first.pk, 1)
    second = _deploy(team, project, grace, "model:v1")  # a redeploy: attempt 2, v1

    context, page = sign_in(browser, live_server.url, "grace@acme.example", "light")
    errors = script_errors(page)
    page.goto("/acme/deployments")
    row = page.locator('tr[data-deployment="churn"]')
    expect(row).to_contain_text("local")
    expect(row).to_contain_text("model:v1")
    screenshot(page, screenshots_dir, "deployments-01-list")

    row.get_by_role("link", name="churn").click()
    expect(page.get_by_test_id("logs")).to_contain_text("live")
    page.evaluate("window.__noReload = true")
    log = page.locator("[data-deploy-log]")
    # Attempt 2 finishes while the page is open: its lines arrive over the socket.
    _healthy(team, second.pk, 2)
    expect(log).to_contain_text("healthy: http://127.0.0.1", timeout=30_000)
    expect(page.get_by_test_id("state")).to_have_text("healthy")
    # The settled attempt refreshes what serves and the history, still without a reload.
    expect(page.get_by_test_id("history").locator("tr[data-history]")).to_have_count(2)
    expect(page.get_by_test_id("version")).to_have_text("model:v1")
    assert page.evaluate("window.__noReload") is True
    screenshot(page, screenshots_dir, "deployments-02-live-logs")

    page.get_by_test_id("rollback").click()
    expect(page.locator("#flash")).to_contain_text("Rolling back churn to model:v0.")
    expect(page.get_by_test_id("logs")).to_contain_text("live")
    page.evaluate("window.__noReload = true")
    _healthy(team, second.pk, 3)
    expect(log).to_contain_text("roll back to model:v0")
    expect(page.get_by_test_id("state")).to_have_text("healthy", timeout=30_000)
    history = page.get_by_test_id("history")
    expect(history.locator("tr[data-history]")).to_have_count(3)
    expect(page.get_by_test_id("version")).to_have_text("model:v0")
    assert page.evaluate("window.__noReload") is True
    screenshot(page, screenshots_dir, "deployments-03-rolled-back")
    assert errors == []
    context.close()
