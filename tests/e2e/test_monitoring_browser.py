"""The Monitoring section in a real browser: the team's monitor list, a monitor following
fraud:production across an alias move (one line per version, the move as a marker), the
drift table with a drifted feature and its reference-vs-current distribution chart, and
an alert in the history; predictions logged through the API while the page is open reach
its chart over ws:monitor-events (the page does not poll while that socket is open).
Light and dark, without script errors or CSP violations."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import requests

from apps.monitoring import alerting, selectors, services
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry.models import RegisteredModel
from tests.e2e.pages import PASSWORD, screenshot, script_errors, sign_in
from tests.e2e.sdk_server import no_horizontal_overflow
from tests.factories import UserFactory, make_key, make_project, make_team
from tests.monitoring.conftest import model_versions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOUR = 3600


def _records(rng, start, n, shift, tag):
    return [
        {
            "id": f"{tag}{i}",
            "time": start + 30 + i,
            "features": {
                "amount": float(rng.normal(100 + shift, 15)),
                "country": str(rng.choice(["de", "fr", "pl" if shift else "it"])),
            },
            "prediction": float(rng.uniform(0, 1)),
            "latency_ms": float(rng.uniform(2, 9)),
        }
        for i in range(n)
    ]


@pytest.fixture
def acme():
    grace = UserFactory(email="grace@acme.example", password=PASSWORD)
    team = make_team("acme", grace)
    project = make_project(team, "fraud-train", actor=grace)
    model_versions(team, project, grace)
    monitor = services.monitor_save(
        team=team,
        monitor=None,
        data={
            "name": "fraud-prod",
            "registered_model": "fraud",
            "alias": "production",
            "features": [
                {"name": "amount", "type": "numeric"},
                {"name": "country", "type": "categorical"},
            ],
            "prediction_type": "binary",
        },
        actor=grace,
        model_of=lambda name: registry_selectors.registered_model_get(team, name),
    )
    rng = np.random.default_rng(1)
    ref = _records(rng, 0, 2000, 0, "r")
    services.reference_set(
        team=team,
        monitor=monitor,
        data={
            "columns": {
                "amount": [r["features"]["amount"] for r in ref],
                "country": [r["features"]["country"] for r in ref],
            },
            "predictions": [r["prediction"] for r in ref],
        },
    )
    now = time.time() // HOUR * HOUR
    for k in range(6, 2, -1):  # four windows on v0, like the reference
        services.predictions_log(
            team=team, monitor=monitor, body=_records(rng, now - k * HOUR, 150, 0, f"a{k}-")
        )
    model = RegisteredModel.objects.for_team(team).get(name="fraud")
    registry_services.registered_model_alias_set(
        model=model, alias="production", ref="v1", actor=grace
    )
    # After the move, v1 serves drifted traffic (timestamps after the move: now-ish).
    moved = time.time()
    services.predictions_log(
        team=team, monitor=monitor, body=_records(rng, moved - 29, 300, 40, "b-")
    )
    for k in range(6, 2, -1):
        labels = [{"id": f"a{k}-{i}", "target": int(i % 3 == 0)} for i in range(150)]
        services.ground_truth_log(team=team, monitor=monitor, body=labels)
    alerting.rule_save(
        team=team,
        monitor=monitor,
        rule=None,
        data={"name": "volume floor", "metric": "volume", "op": "<", "value": 200},
        actor=grace,
    )
    alerting.evaluate_monitor(team, selectors.monitor_get(team, "fraud-prod"))
    return team


@pytest.fixture
def grace_key(acme):
    return make_key(UserFactory._meta.model.objects.get(email="grace@acme.example"))


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_monitoring_pages(live_server, acme, grace_key, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    shot = f"{color_scheme}-monitoring-"
    context, page = sign_in(browser, live_server.url, "grace@acme.example", color_scheme)
    errors = script_errors(page)

    # The registered model's page lists its monitors; the team nav has the section.
    page.goto("/acme/registry/models/fraud")
    expect(page.get_by_test_id("model-monitors")).to_contain_text("fraud-prod")
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Monitoring").click()
    expect(page).to_have_url(re.compile(r"/acme/monitors$"))
    row = page.get_by_test_id("monitors").locator("tr", has_text="fraud-prod")
    expect(row).to_contain_text("fraud:production")
    screenshot(page, screenshots_dir, shot + "01-list")

    row.get_by_role("link", name="fraud-prod").click()
    chart = page.locator("#monitor-chart")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart).to_have_attribute("data-lines", "2")  # v0 and v1
    expect(chart).to_have_attribute("data-markers", "2")  # production added on v0, moved to v1
    expect(page.locator("#monitor-status")).to_contain_text("versions v0, v1")
    page.locator("#monitor-metric").select_option("volume")
    expect(chart.locator("canvas")).to_have_count(1)

    drifted = page.locator('#drift-table tr[data-feature="amount"]')
    expect(drifted).to_contain_text("drift")
    expect(drifted).to_contain_text("wasserstein")
    page.locator('#drift-table tr[data-feature="country"]').click()
    expect(page.locator("#drift-chart")).to_have_attribute("data-feature", "country")
    drifted.click()
    expect(page.locator("#drift-chart")).to_have_attribute("data-feature", "amount")
    expect(page.locator("#drift-chart canvas")).to_have_count(1)

    # Live: a window two hours ago (on v0, before the move) fills while the page is open.
    app = page.locator("#monitoring-app")
    expect(app).to_have_attribute("data-live", "live")  # polling is off from here on
    windows = int(page.locator("#monitor-status").inner_text().split()[0])
    start = time.time() // HOUR * HOUR - 2 * HOUR
    logged = requests.post(
        f"{live_server.url}/api/v1/teams/acme/monitors/fraud-prod/predictions",
        json={"records": _records(np.random.default_rng(2), start, 50, 0, "live-")},
        headers={"Authorization": f"Bearer {grace_key}"},
        timeout=60,
    )
    assert logged.status_code == 200 and logged.json()["accepted"] == 50, logged.text
    expect(page.locator("#monitor-status")).to_contain_text(f"{windows + 1} windows")

    history = page.get_by_test_id("alert-history")
    expect(history.get_by_test_id("incidents")).to_contain_text("volume floor")
    expect(history).to_contain_text("volume = 150 < 200")
    screenshot(page, screenshots_dir, shot + "02-monitor")
    assert errors == []
    context.close()

    # A phone's width holds the monitor page (live too).
    context, phone = sign_in(
        browser,
        live_server.url,
        "grace@acme.example",
        color_scheme,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
    )
    phone_errors = script_errors(phone)
    phone.goto("/acme/monitors/fraud-prod")
    expect(phone.locator("#monitor-chart")).to_have_attribute("data-state", "ready")
    expect(phone.locator("#monitoring-app")).to_have_attribute("data-live", "live")
    no_horizontal_overflow(phone)
    screenshot(phone, screenshots_dir, shot + "03-phone")
    assert phone_errors == []
    context.close()
