"""The project workspace in a real browser (Python Playwright, Debian chromium) against
the real ASGI server (uvicorn, as in production: HTTP and WebSockets), with runs logged
through the SDK in other processes:

sign in -> the project's workspace lists the finished runs -> a run logging in the
background appears in the table and its chart receives new points without a reload ->
filter and sort the table -> group by a config field: one line per group with a band ->
zoom a chart: re-queried at a finer bucket width -> save a view, reload, find it.
Light and dark, desktop and phone, without script errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.e2e.pages import screenshot, script_errors
from tests.sdk.harness import REPO, ServerProcess, TestDatabase, bootstrap

pytestmark = [pytest.mark.browser]
TestDatabase.__test__ = False  # a helper class, not a test

EMAIL, PASSWORD = "owner@sdk.example", "sdk-pass-12345"
TEAM, PROJECT = "sdk-team", "vision"
STEPS = 3000
# name, optimizer, lr, final val loss
FINISHED = [
    ("adam-1", "adam", 0.001, 0.21),
    ("adam-2", "adam", 0.003, 0.25),
    ("adam-3", "adam", 0.01, 0.30),
    ("sgd-1", "sgd", 0.01, 0.42),
    ("sgd-2", "sgd", 0.1, 0.38),
]

SEED = """
import math, sys, gradline
settings = dict(system_metrics=False, console="off", git=False, pip_freeze=False, silent=True,
                exit_hooks=False)
for name, opt, lr, final in {runs!r}:
    run = gradline.init(project={project!r}, name=name, config={{"optimizer": opt, "lr": lr}},
                        settings=settings)
    for step in range({steps}):
        t = step / {steps}
        noise = 0.02 * math.sin(step * 1.7)
        run.log({{"train/loss": final + (1 - t) * 1.5 + noise, "train/acc": 1 - final * t,
                  "val/loss": final + (1 - t) + noise / 2}})
    run.summary["val/best"] = final
    run.finish()
"""

LIVE = """
import os, time, gradline
settings = dict(system_metrics=False, console="off", git=False, pip_freeze=False, silent=True,
                exit_hooks=False)
run = gradline.init(project={project!r}, name="live-run",
                    config={{"optimizer": "adam", "lr": 0.02}}, settings=settings)
print(run.id, flush=True)
step = 0
while not os.path.exists({stop!r}) and step < 3000:
    run.log({{"train/loss": 2.0 / (step + 1), "train/acc": step / 3000}})
    step += 1
    time.sleep(0.05)
run.finish()
"""


def _sdk_env(server: ServerProcess, key: str, tmp) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        GRADLINE_BASE_URL=server.url,
        GRADLINE_API_KEY=key,
        GRADLINE_ENTITY=TEAM,
        GRADLINE_DIR=str(tmp / "runs"),
        GRADLINE_CONFIG_DIR=str(tmp / "config"),
        PYTHONPATH=str(REPO / "sdk"),
    )
    return env


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A uvicorn server on its own database, with five finished runs in sdk-team/vision."""
    db = TestDatabase(f"test_gradline_ws_{os.getpid()}")
    db.create()
    var_dir = tmp_path_factory.mktemp("workspace-server")
    try:
        seed = bootstrap(db, var_dir)
        server = ServerProcess(db, var_dir).start()
        try:
            env = _sdk_env(server, seed.owner_key, var_dir)
            script = SEED.format(runs=FINISHED, project=PROJECT, steps=STEPS)
            done = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(script)],
                env=env,
                cwd=var_dir,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            yield server, env, var_dir
        finally:
            server.stop()
    finally:
        db.drop()


def _sign_in(browser, server, color_scheme, **options):
    context = browser.new_context(
        base_url=server.url,
        color_scheme=color_scheme,
        **({"viewport": {"width": 1360, "height": 900}} | options),
    )
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/[a-z0-9-]+/$"))
    return context, page


def _chart(page, key):
    return page.locator(f'.chart-panel[data-key="{key}"]')


def _points(page, key) -> int:
    return int(_chart(page, key).get_attribute("data-points") or 0)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_workspace(workspace, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, env, var_dir = workspace
    shot = f"{color_scheme}-workspace-"
    context, page = _sign_in(browser, server, color_scheme)
    errors = script_errors(page)
    page.goto(f"/{TEAM}/{PROJECT}/")
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    rows = page.locator("#runs-body tr[data-run]")
    expect(rows).to_have_count(len(FINISHED))
    loss = _chart(page, "train/loss")
    expect(loss).to_have_attribute("data-state", "ready")
    expect(loss).to_have_attribute("data-lines", str(len(FINISHED)))
    # 3,000 steps in about 400 buckets: each bucket holds several points -> a band per run.
    expect(loss).to_have_attribute("data-bands", str(len(FINISHED)))
    expect(page.locator('.chart-section[data-section="val"] .chart-panel')).to_have_count(1)
    screenshot(page, screenshots_dir, shot + "01-open")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # A run logging in the background appears and its chart grows, without a reload.
    stop = var_dir / f"stop-{color_scheme}"
    live = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(LIVE.format(project=PROJECT, stop=str(stop)))],
        env=env,
        cwd=var_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        live_id = live.stdout.readline().strip()
        assert live_id, live.stderr.read()[-3000:]
        live_row = page.locator(f'#runs-body tr[data-run="{live_id}"]')
        expect(live_row).to_be_visible(timeout=30_000)
        expect(live_row).to_have_attribute("data-state", "running")
        expect(loss).to_have_attribute("data-lines", str(len(FINISHED) + 1), timeout=30_000)
        before = _points(page, "train/loss")
        page.wait_for_function(
            "([key, n]) => +document.querySelector(`.chart-panel[data-key='${key}']`)"
            ".dataset.points > n",
            arg=["train/loss", before],
            timeout=30_000,
        )
        screenshot(page, screenshots_dir, shot + "02-live")
    finally:
        stop.write_text("stop")
        live.wait(60)
    expect(live_row).to_have_attribute("data-state", "finished", timeout=30_000)

    # Filter: optimizer = adam (the live run is adam too).
    page.locator("#filter-add").click()
    page.get_by_test_id("filter-field").select_option("config.optimizer")
    page.get_by_test_id("filter-op").select_option("eq")
    page.get_by_test_id("filter-value").fill("adam")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("filter-chip")).to_have_text(re.compile("config.optimizer = adam"))
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("runs-count")).to_have_text("4")
    # Sort by name, ascending then descending.
    page.get_by_test_id("sort-name").click()
    expect(rows.first).to_contain_text("adam-1")
    page.get_by_test_id("sort-name").click()
    expect(rows.first).to_contain_text("live-run")
    # A summary column from the picker, sorted best first.
    page.locator("#columns-toggle").click()
    page.locator('#columns-list input[data-column="summary.val/best"]').check()
    page.locator("#columns-toggle").click()
    page.get_by_test_id("sort-summary.val/best").click()  # descending first for metrics
    expect(rows.first).to_contain_text("adam-3")
    page.get_by_test_id("sort-summary.val/best").click()
    expect(rows.first).to_contain_text("adam-1")
    screenshot(page, screenshots_dir, shot + "03-filtered")
    page.get_by_role("button", name=re.compile("Remove filter")).click()
    expect(rows).to_have_count(len(FINISHED) + 1)

    # Group by optimizer: one line per group, each with its band.
    page.get_by_test_id("group-by").select_option("config.optimizer")
    expect(page.locator("#runs-body tr.group-row")).to_have_count(2)
    loss.scroll_into_view_if_needed()  # charts load when they come into view
    expect(loss).to_have_attribute("data-grouped", "true")
    expect(loss).to_have_attribute("data-lines", "2")
    expect(loss).to_have_attribute("data-bands", "2")
    expect(loss.locator(".legend-name", has_text="adam (4)")).to_have_count(1)
    expect(loss.locator(".legend-name", has_text="sgd (2)")).to_have_count(1)
    screenshot(page, screenshots_dir, shot + "04-grouped")
    page.get_by_test_id("group-by").select_option("")
    expect(loss).to_have_attribute("data-grouped", "false")
    expect(loss).to_have_attribute("data-state", "ready")

    # Zoom: drag over a tenth of the x range -> re-queried at a finer bucket width.
    expect(loss).to_have_attribute("data-lines", str(len(FINISHED) + 1))
    wide = int(loss.get_attribute("data-bucket-width"))
    area = loss.locator(".u-over").bounding_box()
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.3, y, steps=5)
    page.mouse.up()
    expect(loss).to_have_attribute("data-zoomed", "true")
    page.wait_for_function(
        "([key, w]) => { const el = document.querySelector(`.chart-panel[data-key='${key}']`);"
        " return el.dataset.bucketWidth && +el.dataset.bucketWidth < w; }",
        arg=["train/loss", wide],
    )
    expect(loss.get_by_role("button", name="Reset zoom")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "05-zoomed")
    loss.get_by_role("button", name="Reset zoom").click()
    expect(loss).to_have_attribute("data-zoomed", "false")

    # Save a view (grouped, log y) and find it after a reload.
    page.get_by_test_id("group-by").select_option("config.optimizer")
    page.locator("#log-y").check()
    name = f"by optimizer {color_scheme}"
    page.once("dialog", lambda dialog: dialog.accept(name))
    page.get_by_test_id("view-save").click()
    expect(page.locator("#views-status")).to_contain_text(f"Saved view {name}")
    page.reload()
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    select = page.get_by_test_id("view-select")
    expect(select.locator("option", has_text=name)).to_have_count(1)
    expect(select.locator("option:checked")).to_have_text(re.compile(name))
    expect(page.get_by_test_id("group-by")).to_have_value("config.optimizer")
    expect(page.locator("#log-y")).to_be_checked()
    loss.scroll_into_view_if_needed()
    expect(loss).to_have_attribute("data-grouped", "true")
    page.locator("#view-reset").click()
    expect(page.get_by_test_id("group-by")).to_have_value("")
    screenshot(page, screenshots_dir, shot + "06-view")

    assert errors == []
    context.close()

    # A phone: the page fits the width; the table scrolls inside its own box.
    context, phone = _sign_in(
        browser, server, color_scheme, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone.goto(f"/{TEAM}/{PROJECT}/")
    expect(phone.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    expect(_chart(phone, "train/loss")).to_have_attribute("data-state", "ready")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
    screenshot(phone, screenshots_dir, shot + "07-phone")
    context.close()
