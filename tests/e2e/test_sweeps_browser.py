"""Sweeps in a real browser: a member opens the project's Sweeps tab and a sweep; the
parallel-coordinates chart renders as SVG with one line per finished trial (and the
metric-by-trial chart one point per finished trial); the sweep is paused and resumed
through its controls (htmx swaps the header); a viewer sees no controls.
Light and dark, without script errors, and without horizontal overflow on a phone."""

from __future__ import annotations

import re

import pytest
import requests

from apps.runs import services as run_services
from apps.sweeps import services as sweep_services
from apps.teams import services as team_services
from tests.e2e.pages import PASSWORD, screenshot, script_errors, settled, sign_in
from tests.factories import UserFactory, make_key, make_project, make_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIG = {
    "name": "resnet lr search",
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "batch_size": {"values": [16, 32, 64, 128]},
        "optimizer": {"values": ["adam", "sgd", "adamw"]},
        "dropout": {"min": 0.0, "max": 0.5},
    },
}
# Six finished trials, one failed, one still running.
LOSSES = [0.82, 0.41, 0.63, 0.29, 0.55, 0.37, None, "running"]
FINISHED = sum(isinstance(loss, float) for loss in LOSSES)


@pytest.fixture
def acme():
    """Team acme: grace (admin), alan (member), vera (viewer); project resnet with the
    sweep `resnet lr search` and its trials; returns the sweep."""
    grace = UserFactory(email="grace@acme.example", password=PASSWORD)
    team = make_team("acme", grace)
    for email, role in (("alan@acme.example", "member"), ("vera@acme.example", "viewer")):
        user = UserFactory(email=email, password=PASSWORD)
        team_services.membership_add(team=team, user=user, role=role)
    project = make_project(team, "resnet", actor=grace)
    sweep = sweep_services.sweep_create(
        team=team, project=project, project_name="resnet", actor=grace, data={"config": CONFIG}
    )
    for loss in LOSSES:
        trial = sweep_services.trial_next(team=team, sweep=sweep)
        run, _, _ = run_services.run_create_or_resume(
            team=team,
            project=project,
            project_name="resnet",
            actor=grace,
            data={"id": trial.run_uid, "config": trial.params},
        )
        if loss == "running":
            continue
        if loss is None:
            run_services.run_finish(run=run, data={"exit_code": 1})
            continue
        points = [["val_loss", step, loss + 0.3 / (step + 1), 1.7e9 + step] for step in range(4)]
        points.append(["val_loss", 4, loss, 1.7e9 + 4])
        run_services.run_ingest(run=run, body={"points": points})
        run_services.run_finish(run=run, data={"exit_code": 0})
    return sweep


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_sweep_pages(live_server, acme, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    sweep = acme
    shot = f"{color_scheme}-sweeps-"
    context, page = sign_in(browser, live_server.url, "alan@acme.example", color_scheme)
    errors = script_errors(page)

    # The project's Sweeps tab, next to Artifacts.
    page.goto("/acme/resnet/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Sweeps").click()
    expect(page).to_have_url(re.compile(r"/acme/resnet/sweeps$"))
    row = page.locator(f'tr[data-sweep="{sweep.uid}"]')
    expect(row).to_contain_text("resnet lr search")
    expect(row).to_contain_text(f"{FINISHED} finished")
    expect(row.get_by_test_id("best-metric")).to_have_text("0.29")
    screenshot(page, screenshots_dir, shot + "01-list")

    # The sweep: the charts render as SVG, one line per finished trial.
    row.get_by_role("link", name="resnet lr search").click()
    expect(page).to_have_url(re.compile(rf"/acme/resnet/sweeps/{sweep.uid}$"))
    parallel = page.locator("#sweep-parallel")
    expect(parallel).to_have_attribute("data-rendered", "true")
    expect(parallel).to_have_attribute("aria-busy", "false")
    expect(parallel.locator(".chart-loading")).to_have_count(0)
    expect(parallel.locator("svg .trial_lines_marks path")).to_have_count(FINISHED)
    for name in ("batch_size", "dropout", "lr", "optimizer", "val_loss"):
        labels = parallel.locator("svg .role-axis-label text")
        expect(labels.filter(has_text=re.compile(rf"^{name}$"))).to_have_count(1)
    expect(parallel.locator("svg text", has_text=re.compile(r"^adamw$"))).to_have_count(1)
    progress = page.locator("#sweep-progress")
    expect(progress).to_have_attribute("data-rendered", "true")
    expect(progress.locator("svg .trial_points_marks path")).to_have_count(FINISHED)
    expect(page.locator("tr[data-trial]").first).to_have_attribute("data-state", "running")
    expect(page.locator("tr.best")).to_contain_text("0.29")
    screenshot(page, screenshots_dir, shot + "02-sweep")

    # Pause, then resume, through the controls; htmx swaps the header.
    header = page.locator("#sweep-header")
    header.get_by_role("button", name="Pause").click()
    expect(page.locator("#flash")).to_contain_text("Sweep paused")
    expect(header.locator(".badge[data-state]")).to_have_text("paused")
    settled(page)
    screenshot(page, screenshots_dir, shot + "03-paused")
    header.get_by_role("button", name="Resume").click()
    expect(page.locator("#flash")).to_contain_text("Sweep resumed")
    expect(header.locator(".badge[data-state]")).to_have_text("running")
    expect(header.get_by_role("button", name="Pause")).to_be_visible()
    settled(page)
    page.reload()  # the stored state, not only the swapped header
    expect(header.locator(".badge[data-state]")).to_have_text("running")

    # Phone width: nothing wider than the screen; the chart still renders.
    page.set_viewport_size({"width": 390, "height": 800})
    for path in ["/acme/resnet/sweeps", f"/acme/resnet/sweeps/{sweep.uid}"]:
        page.goto(path)
        if "/sweeps/" in path:
            expect(page.locator("#sweep-parallel")).to_have_attribute("data-rendered", "true")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    screenshot(page, screenshots_dir, shot + "04-mobile")
    assert errors == []
    context.close()

    # A viewer sees the sweep but no controls.
    context, page = sign_in(browser, live_server.url, "vera@acme.example", color_scheme)
    errors = script_errors(page)
    page.goto(f"/acme/resnet/sweeps/{sweep.uid}")
    expect(page.locator("#sweep-parallel")).to_have_attribute("data-rendered", "true")
    expect(page.get_by_test_id("sweep-controls")).to_have_count(0)
    assert errors == []
    context.close()


@pytest.fixture
def empty_project():
    grace = UserFactory(email="grace@acme.example", password=PASSWORD)
    return make_project(make_team("acme", grace), "resnet", actor=grace)


def test_empty_sweeps_tab(live_server, empty_project, browser):
    from playwright.sync_api import expect

    context, page = sign_in(browser, live_server.url, "grace@acme.example", "light")
    page.goto("/acme/resnet/sweeps")
    empty = page.get_by_test_id("sweeps-empty")
    expect(empty).to_contain_text("wandb.agent(sweep_id, function=train, count=50)")
    expect(empty).to_contain_text("gradline sweep --entity acme --project resnet config.yaml")
    page.set_viewport_size({"width": 390, "height": 800})
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    context.close()


@pytest.fixture
def agent_key(acme):
    return make_key(acme.created_by)


def test_sweep_page_updates_live_and_the_brush_filters_the_trials(
    live_server, acme, agent_key, browser, screenshots_dir
):
    """New trials, their states and the charts arrive over the project's events socket
    (no reload) while an agent works through the API; dragging along an axis of the
    parallel chart filters the trials table, double-click clears it."""
    from playwright.sync_api import expect

    sweep = acme
    api = f"{live_server.url}/api/v1/teams/acme/projects/resnet"

    def agent(path: str, body: dict) -> dict:
        # Through the live server, as an agent would (not from this thread, where
        # Playwright's event loop runs: the in-memory channel layer could not publish).
        answer = requests.post(
            f"{api}/{path}", json=body, headers={"Authorization": f"Bearer {agent_key}"}, timeout=60
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    context, page = sign_in(browser, live_server.url, "alan@acme.example", "light")
    errors = script_errors(page)
    page.goto(f"/acme/resnet/sweeps/{sweep.uid}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    rows = page.locator("tr[data-trial]")
    expect(rows).to_have_count(len(LOSSES))

    # An agent takes a trial and starts its run: the row appears, then runs.
    trial = agent(f"sweeps/{sweep.uid}/next", {"agent": "browser-test"})
    uid = trial["run"]
    expect(page.locator(f'tr[data-trial="{uid}"]')).to_have_attribute("data-state", "pending")
    agent("runs", {"id": uid, "config": trial["params"]})
    expect(page.locator(f'tr[data-trial="{uid}"]')).to_have_attribute("data-state", "running")
    # It finishes with the best loss: state, best trial and both charts follow.
    agent(f"runs/{uid}/ingest", {"points": [["val_loss", 0, 0.11, 1.7e9]]})
    agent(f"runs/{uid}/finish", {"exit_code": 0})
    new_row = page.locator(f'tr[data-trial="{uid}"]')
    expect(new_row).to_have_attribute("data-state", "finished")
    expect(page.locator("tr.best")).to_contain_text("0.11")
    parallel = page.locator("#sweep-parallel")
    expect(parallel.locator("svg .trial_lines_marks path")).to_have_count(FINISHED + 1)
    progress = page.locator("#sweep-progress")
    expect(progress.locator("svg .trial_points_marks path")).to_have_count(FINISHED + 1)
    screenshot(page, screenshots_dir, "light-sweeps-05-live")

    # Brush the metric axis from its top to half way down.
    label = parallel.locator("svg .role-axis-label text", has_text=re.compile(r"^val_loss$"))
    axis_x = label.bounding_box()["x"] + label.bounding_box()["width"] / 2
    box = parallel.bounding_box()
    top, bottom = box["y"] + 40, box["y"] + box["height"] * 0.45
    page.mouse.move(axis_x, top)
    page.mouse.down()
    page.mouse.move(axis_x, (top + bottom) / 2, steps=4)
    page.mouse.move(axis_x, bottom, steps=4)
    page.mouse.up()
    expect(parallel).to_have_attribute("data-brushed", "val_loss")
    note = page.get_by_test_id("trials-filter")
    expect(note).to_be_visible()
    shown = page.locator("tr[data-trial]:visible")
    count = shown.count()
    assert 0 < count < len(LOSSES) + 1, count
    expect(note).to_have_text(f"{count} of {len(LOSSES) + 1} trials in the brushed ranges")
    for i in range(count):  # only finished trials have a line to brush
        expect(shown.nth(i)).to_have_attribute("data-state", "finished")
    screenshot(page, screenshots_dir, "light-sweeps-06-brushed")

    page.mouse.dblclick(axis_x, (top + bottom) / 2)
    expect(parallel).to_have_attribute("data-brushed", "")
    expect(page.locator("tr[data-trial]:visible")).to_have_count(len(LOSSES) + 1)
    expect(note).to_be_hidden()
    assert errors == []
    context.close()
