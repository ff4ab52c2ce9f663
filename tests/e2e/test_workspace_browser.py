"""The project workspace in a real browser (Python Playwright, Debian chromium) against
the real ASGI server (uvicorn, as in production: HTTP and WebSockets), with runs logged
through the SDK in other processes:

sign in -> the project's workspace lists the finished runs -> a run logging in the
background appears in the table and its chart receives new points without a reload ->
filter and sort the table -> group by a config field: one line per group with a band ->
zoom a chart: re-queried at a finer bucket width -> resize a column, save a view, reload,
find it with the width -> dark colours follow the system -> a phone's width holds the page.
Then the rest of the toolbar: bulk tag add/remove, delete with confirmation, CSV export,
the scatter / bar / parallel-coordinates / importance panels, and a view renamed, made
the default, deleted and reset to automatic. Without script errors or CSP violations.

Every wait is on a condition (data-* attributes the page keeps, row counts, texts) with
deadlines sized for a loaded 2-core machine; screenshots go to $GRADLINE_SCREENSHOTS.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from tests.e2e.pages import screenshot, script_errors
from tests.e2e.sdk_server import (
    TEAM,
    no_horizontal_overflow,
    run_script,
    sdk_env,
    sdk_server,
    sign_in,
)

# Each test drives a browser through minutes of real work on a shared 2-core machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

PROJECT = "vision"
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
run = gradline.init(project={project!r}, name={name!r},
                    config={{"optimizer": "adam", "lr": 0.02}}, settings=settings)
print(run.id, flush=True)
step = 0
while not os.path.exists({stop!r}) and step < 3000:
    run.log({{"train/loss": 2.0 / (step + 1), "train/acc": step / 3000}})
    step += 1
    time.sleep(0.05)
run.finish()
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A uvicorn server on its own database, with five finished runs in sdk-team/vision."""
    var_dir = tmp_path_factory.mktemp("workspace-server")
    with sdk_server("ws", var_dir) as (server, seed):
        env = sdk_env(server, seed.owner_key, var_dir)
        _log_runs(env, var_dir, FINISHED, steps=STEPS)
        yield server, env, var_dir


def _errors(page) -> list[str]:
    """script_errors, and each script error's stack on stdout (shown when a test fails)."""
    page.on("pageerror", lambda exc: print("page error:", exc, getattr(exc, "stack", "")))
    return script_errors(page)


def _chart(page, key):
    return page.locator(f'.chart-panel[data-key="{key}"]')


def _points(page, key) -> int:
    return int(_chart(page, key).get_attribute("data-points") or 0)


def _log_runs(env, var_dir, runs, steps=50) -> None:
    """Finished runs logged through the SDK in another process."""
    run_script(textwrap.dedent(SEED.format(runs=runs, project=PROJECT, steps=steps)), env, var_dir)


def _luminance(css_colour: str) -> float:
    """0 (black) .. 1 (white) for an "rgb(r, g, b)" / "rgba(...)" computed colour."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def _shot(page, directory, name: str) -> None:
    """A full-page screenshot from the top (scrolled, the sticky site header would be
    painted across the middle of a full-page capture)."""
    if directory is not None:
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, directory, name)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_workspace(workspace, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, env, var_dir = workspace
    shot = f"{color_scheme}-workspace-"
    context, page = sign_in(browser, server, color_scheme)
    errors = _errors(page)
    page.goto(f"/{TEAM}/{PROJECT}/")
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    rows = page.locator("#runs-body tr[data-run]")
    # The five seeded runs, plus the live runs of the colour schemes tested before.
    expect(page.get_by_test_id("runs-count")).to_have_text(re.compile(r"^\d+$"))
    before = int(page.get_by_test_id("runs-count").inner_text())
    assert before >= len(FINISHED)
    adam = 3 + (before - len(FINISHED)) + 1  # every live run is an adam run
    expect(rows).to_have_count(before)
    loss = _chart(page, "train/loss")
    expect(loss).to_have_attribute("data-state", "ready")
    expect(loss).to_have_attribute("data-lines", str(before))
    # 3,000 steps in about 400 buckets: each bucket holds several points -> a band per
    # seeded run (live runs log one point per step: their buckets may hold one).
    assert int(loss.get_attribute("data-bands")) >= len(FINISHED)
    expect(page.locator('.chart-section[data-section="val"] .chart-panel')).to_have_count(1)
    expect(page.locator('.chart-section[data-section="system"]')).to_have_count(0)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    _shot(page, screenshots_dir, shot + "01-open")

    # Dark mode follows the system: dark surfaces and light text (and the other way).
    colours = page.evaluate(
        """() => { const cs = (el) => getComputedStyle(el);
          const table = document.querySelector('#runs-scroll');
          const title = document.querySelector('.chart-title');
          return [cs(document.body).backgroundColor, cs(table).backgroundColor,
                  cs(title).color, cs(document.querySelector('#runs-body td a')).color]; }"""
    )
    body_bg, table_bg, title_fg, link_fg = (_luminance(c) for c in colours)
    if color_scheme == "dark":
        assert body_bg < 0.2 and table_bg < 0.2 and title_fg > 0.7 and link_fg > 0.4, colours
    else:
        assert body_bg > 0.8 and table_bg > 0.8 and title_fg < 0.3, colours

    # A run logging in the background appears and its chart grows, without a reload.
    stop = var_dir / f"stop-{color_scheme}"
    live_name = f"live-{color_scheme}"
    script = LIVE.format(project=PROJECT, stop=str(stop), name=live_name)
    live = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
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
        expect(live_row).to_be_visible()
        expect(live_row).to_have_attribute("data-state", "running")
        expect(loss).to_have_attribute("data-lines", str(before + 1))
        points = _points(page, "train/loss")
        page.wait_for_function(
            "([key, n]) => +document.querySelector(`.chart-panel[data-key='${key}']`)"
            ".dataset.points > n",
            arg=["train/loss", points],
        )
        _shot(page, screenshots_dir, shot + "02-live")
    finally:
        stop.write_text("stop")
        live.wait(60)
    expect(live_row).to_have_attribute("data-state", "finished")
    total = before + 1

    # Filter: optimizer = adam (the live runs are adam too).
    page.locator("#filter-add").click()
    page.get_by_test_id("filter-field").select_option("config.optimizer")
    page.get_by_test_id("filter-op").select_option("eq")
    page.get_by_test_id("filter-value").fill("adam")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("filter-chip")).to_have_text(re.compile("config.optimizer = adam"))
    expect(rows).to_have_count(adam)
    expect(page.get_by_test_id("runs-count")).to_have_text(str(adam))
    # Sort by name, ascending then descending.
    page.get_by_test_id("sort-name").click()
    expect(rows.first).to_contain_text("adam-1")
    page.get_by_test_id("sort-name").click()
    expect(rows.first).to_contain_text("live-")
    # A summary column from the picker, sorted best first (runs without it stay last).
    page.locator("#columns-toggle").click()
    page.locator('#columns-list input[data-column="summary.val/best"]').check()
    page.locator("#columns-toggle").click()
    page.get_by_test_id("sort-summary.val/best").click()  # descending first for metrics
    expect(rows.first).to_contain_text("adam-3")
    page.get_by_test_id("sort-summary.val/best").click()
    expect(rows.first).to_contain_text("adam-1")
    expect(rows.last).to_contain_text("live-")
    _shot(page, screenshots_dir, shot + "03-filtered")
    page.get_by_role("button", name=re.compile("Remove filter")).click()
    expect(rows).to_have_count(total)

    # Group by optimizer: one line per group, each with its band, and aggregate rows.
    page.get_by_test_id("group-by").select_option("config.optimizer")
    groups = page.locator("#runs-body tr.group-row")
    expect(groups).to_have_count(2)
    expect(groups.filter(has_text="adam")).to_contain_text(f"{adam} runs")
    # The group's val/best cell: the mean of its runs (adam: 0.21, 0.25, 0.30).
    expect(
        groups.filter(has_text="adam").locator('td.aggregate[data-column="summary.val/best"]')
    ).to_have_text("0.25333")
    loss.scroll_into_view_if_needed()  # charts load when they come into view
    expect(loss).to_have_attribute("data-grouped", "true")
    expect(loss).to_have_attribute("data-lines", "2")
    expect(loss).to_have_attribute("data-bands", "2")
    expect(loss.locator(".legend-name", has_text=f"adam ({adam})")).to_have_count(1)
    expect(loss.locator(".legend-name", has_text="sgd (2)")).to_have_count(1)
    _shot(page, screenshots_dir, shot + "04-grouped")
    page.get_by_test_id("group-by").select_option("")
    expect(loss).to_have_attribute("data-grouped", "false")
    expect(loss).to_have_attribute("data-state", "ready")

    # Zoom: drag over a tenth of the x range -> re-queried at a finer bucket width.
    expect(loss).to_have_attribute("data-lines", str(min(total, 10)))
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
        " return el.dataset.state === 'ready' && el.dataset.bucketWidth"
        " && +el.dataset.bucketWidth < w; }",
        arg=["train/loss", wide],
    )
    expect(loss.get_by_role("button", name="Reset zoom")).to_be_visible()
    _shot(page, screenshots_dir, shot + "05-zoomed")
    loss.get_by_role("button", name="Reset zoom").click()
    expect(loss).to_have_attribute("data-zoomed", "false")

    # Widen the State column by dragging its edge: the width is part of the view.
    state_col = page.locator('#runs-cols col[data-column="state"]')
    page.evaluate("window.scrollTo(0, 0)")  # the table heads the page; the mouse needs it in view
    start_width = page.locator('#runs-head th[data-column="state"]').bounding_box()["width"]
    grip = page.locator('#runs-head th[data-column="state"] .col-resize').bounding_box()
    gx, gy = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    page.mouse.move(gx, gy)
    page.mouse.down()
    page.mouse.move(gx + 80, gy, steps=5)
    page.mouse.up()
    widened = round(start_width + 80)
    expect(state_col).to_have_attribute("style", re.compile(rf"width: {widened}px"))

    # Save a view (grouped, log y, the wider column) and find it after a reload.
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
    expect(state_col).to_have_attribute("style", re.compile(rf"width: {widened}px"))
    expect(page.locator('#runs-head th[data-column="summary.val/best"]')).to_have_count(1)
    loss.scroll_into_view_if_needed()
    expect(loss).to_have_attribute("data-grouped", "true")
    expect(loss).to_have_attribute("data-state", "ready")
    _shot(page, screenshots_dir, shot + "06-view")
    page.locator("#view-reset").click()
    expect(page.get_by_test_id("group-by")).to_have_value("")
    expect(select).to_have_value("")

    assert errors == []
    context.close()

    # A phone: the page fits the width; the table scrolls inside its own box.
    context, phone = sign_in(
        browser, server, color_scheme, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    errors = _errors(phone)
    phone.goto(f"/{TEAM}/{PROJECT}/")
    expect(phone.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    expect(phone.locator("#runs-body tr[data-run]")).to_have_count(total)
    no_horizontal_overflow(phone)
    phone_loss = _chart(phone, "train/loss")
    phone_loss.scroll_into_view_if_needed()
    expect(phone_loss).to_have_attribute("data-state", "ready")
    expect(phone_loss).to_have_attribute("data-lines", str(min(total, 10)))
    no_horizontal_overflow(phone)
    _shot(phone, screenshots_dir, shot + "07-phone")
    assert errors == []
    context.close()


def test_workspace_toolbar_and_panels(workspace, browser, screenshots_dir):
    """Bulk tag add/remove and delete (with its confirmation), CSV export, the four
    config/summary panels (importance from the server), and the views lifecycle."""
    from playwright.sync_api import expect

    server, env, var_dir = workspace
    _log_runs(env, var_dir, [("doomed-1", "sgd", 0.5, 0.9), ("doomed-2", "sgd", 0.7, 0.95)])
    context, page = sign_in(browser, server, "light")
    errors = _errors(page)
    page.goto(f"/{TEAM}/{PROJECT}/")
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    rows = page.locator("#runs-body tr[data-run]")
    expect(page.get_by_test_id("runs-count")).to_have_text(re.compile(r"^\d+$"))
    total = int(page.get_by_test_id("runs-count").inner_text())
    expect(rows).to_have_count(total)

    def row(name):
        return rows.filter(has=page.get_by_role("link", name=name, exact=True))

    # Bulk tags: tick two runs, add a tag, see it in the Tags column; remove it again.
    page.locator("#columns-toggle").click()
    page.locator('#columns-list input[data-column="tags"]').check()
    page.locator("#columns-toggle").click()
    for name in ("adam-1", "adam-2"):
        row(name).get_by_role("checkbox").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    ids = [row(name).get_attribute("data-run") for name in ("adam-2", "adam-1")]  # table order
    expect(page.locator("#bulk-compare")).to_have_attribute(
        "href", f"/{TEAM}/{PROJECT}/compare?runs={','.join(ids)}"
    )
    page.once("dialog", lambda dialog: dialog.accept("best"))
    page.locator("#bulk-tag").click()
    for name in ("adam-1", "adam-2"):
        expect(row(name).locator('td[data-column="tags"]')).to_have_text("best")
    expect(row("adam-3").locator('td[data-column="tags"]')).to_have_text("")
    expect(page.locator("#bulk-actions")).to_be_hidden()  # the selection was used up
    row("adam-1").get_by_role("checkbox").check()
    page.once("dialog", lambda dialog: dialog.accept("best"))
    page.locator("#bulk-untag").click()
    expect(row("adam-1").locator('td[data-column="tags"]')).to_have_text("")
    expect(row("adam-2").locator('td[data-column="tags"]')).to_have_text("best")

    # Delete asks first: dismissing keeps the runs, accepting deletes them.
    for name in ("doomed-1", "doomed-2"):
        row(name).get_by_role("checkbox").check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#bulk-delete").click()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    expect(rows).to_have_count(total)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-delete").click()
    expect(rows).to_have_count(total - 2)
    expect(page.get_by_test_id("runs-count")).to_have_text(str(total - 2))
    expect(row("doomed-1")).to_have_count(0)

    # CSV export: the table as shown (its columns, its rows).
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    assert lines[0] == "id,name,state,user,created_at,runtime,tags", lines[0]
    assert len(lines) == 1 + total - 2
    assert any(",adam-2,finished," in line and line.endswith(",best") for line in lines), lines

    # The panels over config and summary fields.
    panels = page.locator(".extra-panels .chart-panel")
    for kind in ("scatter", "bar", "parallel", "importance"):
        page.locator("#add-panel").select_option(kind)
    expect(panels).to_have_count(4)
    scatter, bar, parallel, importance = (
        page.locator(f'.chart-panel[data-panel="{kind}"]')
        for kind in ("scatter", "bar", "parallel", "importance")
    )
    scatter.get_by_test_id("panel-x").select_option("config.lr")
    scatter.get_by_test_id("panel-y").select_option("summary.val/best")
    bar.get_by_test_id("panel-metric").select_option("summary.val/best")
    parallel.get_by_test_id("panel-metric").select_option("summary.val/best")
    importance.get_by_test_id("panel-metric").select_option("summary.val/best")
    importance.scroll_into_view_if_needed()
    for panel in (scatter, bar, parallel, importance):
        expect(panel).to_have_attribute("data-state", "ready")
    # The five seeded runs have both fields; live runs have no val/best.
    expect(scatter).to_have_attribute("data-points", str(len(FINISHED)))
    expect(bar).to_have_attribute("data-points", str(len(FINISHED)))
    expect(parallel).to_have_attribute("data-lines", str(len(FINISHED)))
    expect(scatter.locator("svg, canvas").first).to_be_visible()
    # Importance from the server: lr and the optimizer's one-hot columns.
    expect(importance).to_have_attribute("data-parameters", re.compile(r"^[1-9]"))
    expect(importance.locator(".importance-table")).to_contain_text("config.lr")
    _shot(page, screenshots_dir, "light-workspace-09-panels")

    # Views: save, rename, make the default (opened without ?view=), delete, automatic.
    page.once("dialog", lambda dialog: dialog.accept("panels"))
    page.get_by_test_id("view-save").click()
    expect(page.locator("#views-status")).to_contain_text("Saved view panels")
    select = page.get_by_test_id("view-select")
    page.once("dialog", lambda dialog: dialog.accept("four panels"))
    page.locator("#view-rename").click()
    expect(page.locator("#views-status")).to_have_text("View renamed.")
    expect(select.locator("option:checked")).to_have_text("four panels")
    page.locator("#view-default").click()
    expect(select.locator("option:checked")).to_have_text("four panels (default)")
    expect(page.locator("#view-default")).to_be_hidden()
    page.goto(f"/{TEAM}/{PROJECT}/")  # no ?view=: the default view opens
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    expect(select.locator("option:checked")).to_have_text("four panels (default)")
    expect(panels).to_have_count(4)
    page.locator("#view-reset").click()
    expect(select).to_have_value("")
    expect(panels).to_have_count(0)
    select.select_option(label="four panels (default)")
    expect(panels).to_have_count(4)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#view-delete").click()
    expect(select.locator("option", has_text="four panels")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#view-delete").click()
    expect(page.locator("#views-status")).to_have_text("View deleted.")
    expect(select.locator("option", has_text="four panels")).to_have_count(0)
    expect(select).to_have_value("")
    expect(panels).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("workspace")).to_have_attribute("data-ready", "true")
    expect(select).to_have_value("")

    assert errors == []
    context.close()
