"""The run page and the compare page in a real browser (Python Playwright, Debian
chromium) against the real ASGI server (uvicorn: HTTP and WebSockets), with runs logged
through the SDK in other processes (system metrics, console capture and git state on):

open a finished run's page -> config, summary, git commit with its diff, the metric chart
and the system charts drawn, the console with ANSI colours as spans and stderr marked,
files listed and previewed -> edit the run's name and tags -> a run logging in the
background: its console tail grows over the WebSocket without a reload, and its state
turns to finished -> compare two runs: config side by side, the difference highlighted,
overlaid charts with one line per run. Light and dark, no script errors, nothing wider
than a phone's screen.
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
from tests.sdk.harness import wait_for

pytestmark = [pytest.mark.browser]

PROJECT = "runpage"

# Two finished runs that differ in lr; logged with console capture, system metrics and
# the git state of a repository with one uncommitted change.
SEED = """
import sys, time, gradline
settings = dict(console="wrap", system_metrics=True, system_interval=0.2, git=True,
                pip_freeze=False, silent=True, exit_hooks=False)
for run_id, lr in (("run-small", 0.01), ("run-big", 0.1)):
    run = gradline.init(project={project!r}, id=run_id, name=f"lr {{lr}}",
                        config={{"lr": lr, "batch_size": 32, "model": {{"depth": 18}}}},
                        tags=["baseline"], settings=settings)
    print("\\x1b[32mepoch 1 ok\\x1b[0m plain \\x1b[1;31mbold red\\x1b[0m", flush=True)
    print("something went wrong <b>not markup</b>", file=sys.stderr, flush=True)
    for step in range(60):
        run.log({{"train/loss": lr * 10 / (step + 1), "val/acc": step / 60}})
        time.sleep(0.03)
    run.save("notes.txt")
    run.summary["best_acc"] = 0.9
    run.finish()
"""

LIVE = """
import os, time, gradline
settings = dict(console="wrap", system_metrics=True, system_interval=0.5, git=False,
                pip_freeze=False, silent=True, exit_hooks=False)
run = gradline.init(project={project!r}, id="run-live", name="live run",
                    config={{"lr": 0.05}}, settings=settings)
step = 0
while not os.path.exists({stop!r}) and step < 2000:
    run.log({{"train/loss": 1.0 / (step + 1)}})
    if os.path.exists({mark!r}) and not os.path.exists({mark!r} + ".done"):
        print("LIVE-MARKER line from the running script", flush=True)
        open({mark!r} + ".done", "w").close()
    step += 1
    time.sleep(0.05)
run.finish()
"""


def _sdk_env(server, key: str, tmp) -> dict:
    return sdk_env(
        server, key, tmp,
        GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.com",
    )  # fmt: skip


def _git_repo(path, env) -> None:
    """A repository with one commit and one uncommitted change (the diff the run shows)."""
    path.mkdir()
    (path / "train.py").write_text("lr = 0.1\nepochs = 3\n")
    (path / "notes.txt").write_text("notes saved with the run\n")
    for args in (["init", "-q"], ["add", "train.py"], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    (path / "train.py").write_text("lr = 0.01\nepochs = 3\n")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A uvicorn server on its own database with runs run-small and run-big finished."""
    var_dir = tmp_path_factory.mktemp("runpage-server")
    with sdk_server("runpage", var_dir) as (server, seed):
        env = _sdk_env(server, seed.owner_key, var_dir)
        repo = var_dir / "repo"
        _git_repo(repo, env)
        run_script(textwrap.dedent(SEED.format(project=PROJECT)), env, repo)
        yield server, env, var_dir


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_run_page_and_compare(logged, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, env, var_dir = logged
    shot = f"{color_scheme}-runpage-"
    context, page = sign_in(browser, server, color_scheme)
    errors = script_errors(page)

    # Overview: state, git commit and diff, config and summary tables.
    page.goto(f"/{TEAM}/{PROJECT}/runs/run-small")
    # (The name is the SDK's "lr 0.01" until the first color scheme's pass edits it.)
    expect(page.get_by_test_id("run-header")).to_contain_text("run-small")
    expect(page.get_by_test_id("run-header").locator("[data-run-state]")).to_have_text("finished")
    expect(page.get_by_test_id("git-commit")).to_have_text(re.compile(r"^[0-9a-f]{12}"))
    diff = page.get_by_test_id("git-diff")
    expect(diff.locator(".diff-line.diff-del")).to_have_text(["-lr = 0.1"])
    expect(diff.locator(".diff-line.diff-add")).to_have_text(["+lr = 0.01"])
    config = page.get_by_test_id("run-config")
    expect(config.locator('tr[data-key="lr"] td').nth(1)).to_have_text("0.01")
    expect(config.locator('tr[data-key="model.depth"] td').nth(1)).to_have_text("18")
    config.get_by_role("searchbox", name="Search config").fill("depth")
    expect(config.locator("tbody tr:visible")).to_have_count(1)
    config.get_by_role("searchbox", name="Search config").fill("")
    summary = page.get_by_test_id("run-summary")
    expect(summary.locator('tr[data-key="best_acc"] [data-summary-value]')).to_have_text("0.9")
    expect(summary.locator('tr[data-key="train/loss"]')).to_be_visible()
    screenshot(page, screenshots_dir, shot + "01-overview")

    # Charts: the metric keys in their sections, drawn from the history API.
    page.get_by_role("tab", name=re.compile("^Charts")).click()
    loss = page.locator('#charts .chart-panel[data-key="train/loss"]')
    expect(loss).to_have_attribute("data-state", "ready")
    expect(loss).to_have_attribute("data-lines", "1")
    assert int(loss.get_attribute("data-points")) == 60
    expect(page.locator('#charts .chart-panel[data-key="val/acc"]')).to_have_attribute(
        "data-state", "ready"
    )
    screenshot(page, screenshots_dir, shot + "02-charts")

    # System charts: CPU and memory sampled by the SDK while the run was active.
    page.get_by_role("tab", name=re.compile("^System")).click()
    expect(page).to_have_url(re.compile("#system$"))
    for key in ("system/cpu", "system/memory", "system/proc.memory.rssMB"):
        chart = page.locator(f'#system .chart-panel[data-key="{key}"]')
        chart.scroll_into_view_if_needed()  # charts load as they come into view
        expect(chart).to_have_attribute("data-state", "ready")
        assert int(chart.get_attribute("data-points")) >= 1
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, screenshots_dir, shot + "03-system")

    # Console: ANSI colours as classed spans, stderr marked, markup shown as text.
    page.get_by_role("tab", name=re.compile("^Logs")).click()
    log = page.locator("[data-console]")
    expect(log).to_have_attribute("aria-busy", "false")
    expect(log.locator(".console-line .ansi-fg-2", has_text="epoch 1 ok")).to_have_count(1)
    expect(log.locator(".ansi-bold.ansi-fg-1", has_text="bold red")).to_have_count(1)
    stderr = log.locator(".console-line.stream-stderr")
    expect(stderr).to_contain_text(["something went wrong <b>not markup</b>"])
    expect(log.locator("b")).to_have_count(0)
    page.locator("[data-console-stderr]").check()
    expect(log.locator(".console-line:visible")).to_have_count(stderr.count())
    page.locator("[data-console-stderr]").uncheck()
    screenshot(page, screenshots_dir, shot + "04-logs")

    # Files: listed with downloads; a text file previews in place.
    page.get_by_role("tab", name=re.compile("^Files")).click()
    files = page.get_by_test_id("run-files")
    for path in ("notes.txt", "diff.patch", "metadata.json"):
        expect(files.locator(f'tr[data-file="{path}"]')).to_have_count(1)
    files.get_by_role("button", name="notes.txt").click()
    expect(page.locator("[data-file-preview] pre")).to_have_text("notes saved with the run\n")

    # Edit name and tags through the API (the owner created the run).
    page.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Name").fill(f"small lr {color_scheme}")
    page.get_by_role("textbox", name="Tags").fill("baseline, reviewed")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_contain_text("Run saved.")
    expect(page.locator("[data-run-name]")).to_have_text(f"small lr {color_scheme}")
    page.reload()
    expect(page.locator("[data-run-tags] .tag")).to_have_text(["baseline", "reviewed"])
    expect(page.locator('[role="tab"][aria-selected="true"]')).to_have_text(re.compile("^Files"))

    # A run logging now: the page follows its console over the WebSocket.
    stop, mark = var_dir / f"stop-{color_scheme}", var_dir / f"mark-{color_scheme}"
    live = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                LIVE.format(project=f"{PROJECT}-{color_scheme}", stop=str(stop), mark=str(mark))
            ),
        ],
        env=env,
        cwd=var_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        live_url = f"/{TEAM}/{PROJECT}-{color_scheme}/runs/run-live"
        # The page exists once the SDK has created the run.
        wait_for(lambda: page.request.get(live_url).ok, 60, interval=0.2, what="the live run")
        page.goto(live_url + "#logs")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        expect(page.get_by_test_id("run-header").locator("[data-run-state]")).to_have_text(
            "running"
        )
        log = page.locator("[data-console]")
        expect(log).to_have_attribute("aria-busy", "false")
        expect(log.locator(".console-line", has_text="LIVE-MARKER")).to_have_count(0)
        mark.write_text("print it")
        expect(log.locator(".console-line", has_text="LIVE-MARKER")).to_have_count(
            1, timeout=30_000
        )
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, screenshots_dir, shot + "05-live-logs")
        # Its chart is drawn and receives new points without a reload.
        page.get_by_role("tab", name=re.compile("^Charts")).click()
        live_loss = page.locator('#charts .chart-panel[data-key="train/loss"]')
        expect(live_loss).to_have_attribute("data-state", "ready", timeout=30_000)
        before = int(live_loss.get_attribute("data-points"))
        page.wait_for_function(
            "n => +document.querySelector('#charts .chart-panel[data-key=\"train/loss\"]')"
            ".dataset.points > n",
            arg=before,
            timeout=30_000,
        )
    finally:
        stop.write_text("stop")
        live.wait(60)
    assert live.returncode == 0, live.stderr.read()[-3000:]
    expect(page.get_by_test_id("run-header").locator("[data-run-state]")).to_have_text(
        "finished", timeout=30_000
    )
    # Delete it, confirming in the dialog: back on the project page, the run is gone.
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.locator("#run-delete-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog.get_by_role("button", name="Delete run").click()
    expect(page).to_have_url(re.compile(rf"/{TEAM}/{PROJECT}-{color_scheme}/$"))
    assert page.request.get(live_url).status == 404

    # Compare the two finished runs: lr differs, batch_size does not; overlaid charts.
    page.goto(f"/{TEAM}/{PROJECT}/compare?runs=run-small,run-big")
    table = page.locator("#compare-config-table")
    expect(table.locator('tr[data-key="lr"]')).to_have_class(re.compile(r"\bdiffers\b"))
    expect(table.locator('tr[data-key="lr"] td')).to_have_text(["0.01", "0.1"])
    expect(table.locator('tr[data-key="batch_size"]')).not_to_have_class(re.compile("differs"))
    expect(page.get_by_test_id("config-differences")).to_have_text("1 difference")
    page.get_by_label("Only differences").first.check()
    expect(table.locator("tbody tr:visible")).to_have_count(1)
    chart = page.locator('[data-testid="compare-charts"] .chart-panel[data-key="train/loss"]')
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart).to_have_attribute("data-lines", "2")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top in the shot
    screenshot(page, screenshots_dir, shot + "06-compare")

    # Phone width: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/{TEAM}/{PROJECT}/runs/run-big")
    expect(page.get_by_test_id("run-config")).to_be_visible()
    no_horizontal_overflow(page)
    screenshot(page, screenshots_dir, shot + "07-phone")
    page.goto(f"/{TEAM}/{PROJECT}/compare?runs=run-small,run-big")
    no_horizontal_overflow(page)
    screenshot(page, screenshots_dir, shot + "08-phone-compare")
    assert errors == []
    context.close()
