"""A report in a real browser against the real server (uvicorn: HTTP and WebSockets):
the owner writes a report in the editor with *Insert panel* (a line chart of `loss` over
a run, and a runs table), saves it, and reads it; while the run keeps logging, the chart
redraws with the new steps without a reload (the project socket, the workspace's
live-update path). *Export PDF* then makes a PDF that holds the chart (an image).
No script errors, no CSP violations (the browser fixture checks)."""

from __future__ import annotations

import os
import re

import pytest
import requests

from tests.e2e.pages import screenshot, script_errors
from tests.reports.test_pdf import image_count
from tests.sdk.harness import ServerProcess, TestDatabase, bootstrap

pytestmark = [pytest.mark.browser]
TestDatabase.__test__ = False

TEAM, PROJECT, RUN = "sdk-team", "reports", "live-run"
PASSWORD = "sdk-pass-12345"  # tests/sdk/bootstrap_server.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = TestDatabase(f"test_gradline_reports_{os.getpid()}")
    db.create()
    var_dir = tmp_path_factory.mktemp("reports-server")
    try:
        seed = bootstrap(db, var_dir)
        server = ServerProcess(db, var_dir).start()
        try:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {seed.owner_key}"
            base = f"{server.url}/api/v1/teams/{TEAM}/projects/{PROJECT}/runs"
            assert api.post(base, json={"id": RUN, "name": "bright-sun"}).status_code == 201
            server.api = api
            server.ingest = f"{base}/{RUN}/ingest"
            yield server
        finally:
            server.stop()
    finally:
        db.drop()


def log_steps(server, first: int, last: int) -> None:
    points = [["loss", s, 2.0 / (s + 1), 1.7e9 + s] for s in range(first, last)]
    response = server.api.post(server.ingest, json={"points": points})
    assert response.status_code == 200, response.text


def test_report_with_a_live_chart_and_its_pdf(server, browser, screenshots_dir):
    from playwright.sync_api import expect

    log_steps(server, 0, 20)
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors = script_errors(page)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("owner@sdk.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(?!accounts/)[a-z0-9-]+/$"))

    # A new report, written in the editor.
    page.goto(f"/{TEAM}/{PROJECT}/reports")
    page.get_by_label("Title").fill("Loss study")
    page.get_by_test_id("report-create").click()
    page.wait_for_url(re.compile(r"/reports/\d+/edit$"))
    body = page.get_by_test_id("report-body")
    body.fill("# Loss study\n\nThe loss of **bright-sun** falls like 2/step.\n\n")
    body.press("End")
    page.get_by_label("Metric keys (comma-separated)").fill("loss")
    page.get_by_label("Run set").select_option("ids")
    page.get_by_label("Run ids (comma-separated)").fill(RUN)
    page.get_by_label("Caption (optional)").fill("Training loss")
    page.get_by_test_id("panel-insert").click()
    expect(body).to_have_value(re.compile(r"```panel\n\{\"type\":\"chart\""))
    page.get_by_label("Panel", exact=True).select_option("runs")
    page.get_by_label("Columns (comma-separated)").fill("summary.loss")
    page.get_by_label("Run set").select_option("latest")
    page.get_by_label("Caption (optional)").fill("")
    page.get_by_test_id("panel-insert").click()
    expect(body).to_have_value(re.compile(r"\"type\":\"runs\""))
    page.get_by_label("Panel", exact=True).select_option("media")
    page.get_by_test_id("panel-insert").click()
    expect(body).to_have_value(re.compile(r"\"type\":\"media\""))
    screenshot(page, screenshots_dir, "reports-01-editor")
    page.get_by_test_id("report-save").click()
    page.wait_for_url(re.compile(r"/reports/\d+$"))

    # The view: the chart draws the 20 logged steps, the runs table lists the run.
    chart = page.locator('[data-panel-type="chart"]')
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart.get_by_test_id("report-chart")).to_have_attribute("data-points", "20")
    expect(page.get_by_test_id("report-runs-table")).to_contain_text("bright-sun")
    # The run logged no media: the media panel says so (after asking the media API).
    expect(page.locator('[data-panel-type="media"]')).to_have_attribute("data-state", "empty")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    # The report's comments panel listens on its own socket (comment target "report").
    expect(page.get_by_test_id("comments")).to_have_attribute("data-live", "on")
    expect(page.get_by_test_id("report-document").locator("strong")).to_have_text("bright-sun")
    screenshot(page, screenshots_dir, "reports-02-view")

    # The run logs on: the chart redraws with the new steps, no reload.
    loads = int(chart.get_attribute("data-loads"))
    log_steps(server, 20, 60)
    expect(chart.get_by_test_id("report-chart")).to_have_attribute("data-points", "60")
    assert int(chart.get_attribute("data-loads")) > loads
    screenshot(page, screenshots_dir, "reports-03-live-update")

    # PDF export.
    page.get_by_test_id("export-pdf").click()
    download = page.get_by_test_id("export-download")
    expect(download).to_be_visible(timeout=120_000)
    screenshot(page, screenshots_dir, "reports-04-export")
    pdf = context.request.get(download.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    content = pdf.body()
    assert content.startswith(b"%PDF-") and image_count(content) >= 1
    if screenshots_dir is not None:
        (screenshots_dir / "reports-05-export.pdf").write_bytes(content)

    # Versions: the first save is v1, the editor's save v2.
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_test_id("report-versions").locator("tbody tr")).to_have_count(2)
    screenshot(page, screenshots_dir, "reports-06-versions")

    # Publish by link: the owner reads the published version read-only, with the live chart;
    # a signed-out reader of this team project is sent to sign in.
    page.go_back()
    page.get_by_test_id("publish").click()
    link = page.get_by_test_id("share-link").input_value()
    assert "/teams/reports/" in link
    page.goto(link)
    expect(page.get_by_test_id("report-title")).to_have_text("Loss study")
    expect(page.locator('[data-panel-type="chart"]')).to_have_attribute("data-state", "ready")
    screenshot(page, screenshots_dir, "reports-07-shared-link")
    anonymous = browser.new_context(base_url=server.url)
    stranger = anonymous.new_page()
    stranger.goto(link)
    expect(stranger).to_have_url(re.compile(r"/accounts/login/"))
    anonymous.close()
    assert errors == []
    context.close()
