"""Workspace open in headless Chromium: navigation -> "table rows and the first 12 charts
drawn", for Gradline's project workspace and for the MLflow 3.17.2 UI, on the same data.

    .venv/bin/python bench/workspace_browser.py [--quick] [--runs 1000] [--keys 20]
        [--points 10000] [--repeats 3]

Data (both sides, bench/_runs_data.py): `--runs` runs with 10 config values and 10
summary metrics (make_runs), each with `--keys` series (series_keys: train/loss,
train/acc, val/loss, ...) of `--points` steps (series_values). Gradline: one ORM
bulk_create of the runs and apps.runs.ingest.write_batch for the series (the ingest
path's bulk writer: binary COPY + rollups), as bench/workspace.py. MLflow: one COPY per
table into the schema its own server migrated (bench/_peer_tasks.py mlflow-runs-load and
mlflow-series-load: the rows its SqlAlchemyStore writes).

Measured in the same Chromium (Debian's /usr/bin/chromium), a fresh context per repeat
(cold HTTP cache; Gradline's session cookie set by signing in first), viewport
1360 x 3000 so that both UIs have at least 12 charts in view without scrolling (Gradline
loads a chart when it comes into view; MLflow virtualises its chart grid the same way).
"Drawn", the same definition for both, checked on every animation frame by an init
script that records performance.now() (milliseconds since navigation start):
  - at least one runs-table row shows a run, and
  - 12 charts of series keys each have at least one line drawn:
    Gradline: `.chart-panel[data-key]` with data-state="ready" and data-lines >= 1
    (set by static/js/panels/line.js after uPlot drew the data);
    MLflow: `[data-testid=experiment-view-compare-runs-card]` whose title is a series
    key and whose Plotly plot has a `path.js-line` with a non-empty `d` attribute.
MLflow is opened on its chart view (`#/experiments/<id>/runs?compareRunsMode=CHART`),
which shows the runs list beside the charts; both UIs draw the first 10 runs per chart.
The figure is the median over `--repeats` after one warm-up load.

Target (issue 8, DESIGN.md §9): gradline_open_ms <= 2000 and mlflow/gradline >= 5 at
1,000 runs x 20 keys x 10,000 steps. `--quick` runs 100 runs x 20 keys x 1,000 steps.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    GradlineServer,
    MlflowServer,
    db_url,
    emit,
    emit_context,
    emit_load,
    median,
    note,
    peers_available,
    run_peer,
)
from _runs_data import series_keys
from workspace import _seed_runs, _seed_series

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1360, "height": 3000}
CHARTS = 12
PASSWORD = "bench-browser-pass-1"  # noqa: S105 - a throwaway user on a throwaway database
DEADLINE_MS = 300_000

# Runs in the page before its scripts: polls the "drawn" condition on every frame and
# keeps the first time it held (performance.now(): ms since navigation start).
WATCH = """
(() => {
  const keys = new Set(%(keys)s);
  const charts = %(charts)d;
  const drawn = {
    gradline: () => {
      if (!document.querySelector("#runs-body tr[data-run]")) return false;
      const ready = [...document.querySelectorAll(".chart-panel[data-key]")].filter(
        (el) => keys.has(el.dataset.key) && el.dataset.state === "ready" && +el.dataset.lines >= 1);
      return ready.length >= charts;
    },
    mlflow: () => {
      const rows = [...document.querySelectorAll("[role=row]")];
      if (!rows.some((r) => /run-\\d{5}/.test(r.textContent))) return false;
      const card = "[data-testid=experiment-view-compare-runs-card]";
      const cards = [...document.querySelectorAll(card)].filter((el) => {
        const title = el.querySelector("h4[title]");
        if (!title || !keys.has(title.getAttribute("title"))) return false;
        const lines = [...el.querySelectorAll(".js-plotly-plot path.js-line")];
        return lines.some((p) => (p.getAttribute("d") || "").length > 10);
      });
      return cards.length >= charts;
    },
  }[%(side)r];
  const tick = () => {
    try {
      if (drawn()) { window.__drawnAt = performance.now(); return; }
    } catch (e) { /* the page is still building */ }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def _time_open(browser, url: str, side: str, keys: list[str], prepare=None) -> float:
    """ms from navigation start to drawn, in a fresh context."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        if prepare:
            prepare(context)
        context.add_init_script(WATCH % {"keys": list(keys), "charts": CHARTS, "side": side})
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_function("() => window.__drawnAt !== undefined", timeout=DEADLINE_MS)
        return float(page.evaluate("window.__drawnAt"))
    finally:
        context.close()


def measure(browser, url, side, keys, repeats, prepare=None) -> list[float]:
    _time_open(browser, url, side, keys, prepare)  # warm-up: server caches, JIT, disk
    return [_time_open(browser, url, side, keys, prepare) for _ in range(repeats)]


SIGN_IN_SNIPPET = """
from apps.accounts.models import User
user = User.objects.get(email="bench@example.com")
user.set_password({password!r})
user.save(update_fields=["password"])
print("password_set=1")
"""


def measure_gradline(args, playwright) -> dict:
    out: dict = {}
    keys = series_keys(args.keys)
    with GradlineServer(workers=args.server_workers) as server:
        emit_load("gradline_seed")
        loaded = _seed_runs(server, args.runs, 0)
        out["gradline_runs_load_s"] = float(loaded["gradline_runs_orm_load_s"])
        out.update(_seed_series(server, args))
        server.sql("ANALYZE")
        server.shell(SIGN_IN_SNIPPET.format(password=PASSWORD))
        browser = _browser(playwright)
        try:
            # Sign in once; every timed context starts with that session cookie only.
            context = browser.new_context(base_url=server.url)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.get_by_label("Email").fill("bench@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/[a-z0-9-]+/$"), timeout=60_000)
            cookies = context.cookies()
            context.close()
            emit_load("gradline_measure")
            url = f"{server.url}/{server.team}/{server.project}/"
            times = measure(
                browser, url, "gradline", keys, args.repeats, lambda c: c.add_cookies(cookies)
            )
        finally:
            browser.close()
    out["gradline_open_ms"] = median(times)
    out["gradline_open_ms_all"] = "/".join(f"{t:.0f}" for t in times)
    return out


def measure_mlflow(args, playwright) -> dict:
    out: dict = {}
    keys = series_keys(args.keys)
    with MlflowServer(workers=1) as server:
        emit_load("mlflow_seed")
        database = db_url(server.db_name)
        loaded = run_peer(
            [
                *("mlflow-runs-load", "--url", server.url, "--db-url", database),
                *("--runs", str(args.runs)),
            ],
            timeout=1800,
        )
        experiment = loaded["mlflow_experiment_id"]
        out["mlflow_runs_load_s"] = loaded["mlflow_runs_load_s"]
        out.update(
            run_peer(
                [
                    *("mlflow-series-load", "--db-url", database, "--series-runs", str(args.runs)),
                    *("--points", str(args.points), "--keys", str(args.keys)),
                ],
                timeout=3600,
            )
        )
        emit_load("mlflow_measure")
        browser = _browser(playwright)
        try:
            url = f"{server.url}/#/experiments/{experiment}/runs?compareRunsMode=CHART"
            times = measure(browser, url, "mlflow", keys, args.repeats)
        finally:
            browser.close()
    out["mlflow_open_ms"] = median(times)
    out["mlflow_open_ms_all"] = "/".join(f"{t:.0f}" for t in times)
    return out


QUICK = {"runs": 100, "keys": 20, "points": 1000, "repeats": 3}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 runs x 20 keys x 1,000 steps")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed-procs", type=int, default=2)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            if parser.get_default(name) == getattr(args, name):
                setattr(args, name, value)
    if args.keys < CHARTS:
        parser.error(f"--keys must be at least {CHARTS} (the charts that must be drawn)")
    args.series_runs = args.runs  # every run has the series: both UIs chart the newest
    if not os.path.exists(CHROMIUM):
        note("needs Debian's chromium at /usr/bin/chromium (make test-browser-deps)")
        return 2

    from playwright.sync_api import sync_playwright

    emit_context("workspace_browser")
    for name in ("runs", "keys", "points", "repeats"):
        emit(name, getattr(args, name))
    emit("charts", CHARTS)
    started = time.perf_counter()
    with sync_playwright() as playwright:
        results = measure_gradline(args, playwright)
        for name, value in results.items():
            emit(name, value)
        if args.skip_mlflow:
            note("MLflow skipped (--skip-mlflow)")
        elif not peers_available():
            note("MLflow skipped: .venv-peers missing (make bench-setup)")
        else:
            peer = measure_mlflow(args, playwright)
            for name, value in peer.items():
                emit(name, value)
            results.update(peer)
    if "mlflow_open_ms" in results:
        emit("mlflow_over_gradline", results["mlflow_open_ms"] / results["gradline_open_ms"])
    emit("gradline_open_target_met", int(results["gradline_open_ms"] <= 2000))
    emit("bench_seconds", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
