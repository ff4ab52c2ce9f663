"""Browser fixtures: Python Playwright driving Debian's chromium (never `playwright
install`). Tests skip, saying why, only when /usr/bin/chromium is absent; `make
test-browser-deps` installs it when run as root.

One chromium per test session (started at the first browser test, over the DevTools
protocol); each test connects to it and gets fresh contexts, closed when it ends.
Playwright's own connection stays per test: its sync API runs an event loop in this
thread while it is open, which would break every non-browser test after it (Django's
async-unsafe guard, async_to_sync).

Timeouts are raised for the suite (two shared cores): expectations wait up to
EXPECT_TIMEOUT_MS (Playwright's default is 5 s), actions and navigations up to
ACTION_TIMEOUT_MS. The dark-mode pass of a `color_scheme` test runs only when screenshots
are taken (GRADLINE_SCREENSHOTS) or when the test checks dark colours itself
(DARK_PASS_CHECKS)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.test.utils import modify_settings

from tests.e2e.pages import policy_violations
from tests.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What Playwright's own headless launch adds (its chromiumSwitches and headless flags):
# layout checks depend on --hide-scrollbars, timers on the anti-throttling switches.
SESSION_ARGS = [
    "--headless",
    "--hide-scrollbars",
    "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,"
    "primaryPointerType=4,availablePointerTypes=4",
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--allow-pre-commit-input",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--remote-debugging-port=0",
]
EXPECT_TIMEOUT_MS = 20_000
ACTION_TIMEOUT_MS = 60_000
# Tests whose dark pass asserts on the dark colours, not only screenshots them.
DARK_PASS_CHECKS = {"test_workspace"}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("GRADLINE_SCREENSHOTS"):
        return
    dark = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("color_scheme") == "dark"
        and item.originalname not in DARK_PASS_CHECKS
    ]
    if dark:
        config.hook.pytest_deselected(items=dark)
        items[:] = [item for item in items if item not in dark]


class SessionChromium:
    """The session's chromium process; restarted if it died (a crash in one test must
    not fail every later one)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.profile: str | None = None
        self.endpoint: str | None = None

    def ensure(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            return self.endpoint
        self.stop()
        self.profile = tempfile.mkdtemp(prefix="gradline-chromium-")
        self.proc = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_ARGS, *SESSION_ARGS, f"--user-data-dir={self.profile}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        for line in self.proc.stderr:  # chromium prints its endpoint once it listens
            lines.append(line)
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                self.endpoint = match.group(1)
                break
        else:
            raise RuntimeError("chromium did not start:\n" + "".join(lines))
        # Keep reading stderr so chromium never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        return self.endpoint

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None


@pytest.fixture(scope="session")
def session_chromium():
    chromium = SessionChromium()
    yield chromium
    chromium.stop()


@pytest.fixture
def browser(monkeypatch, request):
    if not CHROMIUM.exists():
        pytest.skip(
            "browser test needs Debian's chromium at /usr/bin/chromium (make test-browser-deps)"
        )
    from playwright.sync_api import expect, sync_playwright

    chromium = request.getfixturevalue("session_chromium")
    endpoint = chromium.ensure()
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    # Playwright's sync API runs an event loop in this thread; Django would refuse the
    # ORM calls around the test as async-unsafe. Fixtures that write rows must come
    # before `browser` in a test's arguments: inside Playwright's loop the ORM opens a
    # separate connection that outlives the test and blocks dropping the test database.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.connect_over_cdp(endpoint)
        violations = _watch_contexts(instance)
        try:
            yield instance
        finally:
            # Closes the contexts this test opened and disconnects; chromium stays.
            instance.close()
        if violations:
            pytest.fail(
                "Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False
            )


def _watch_contexts(instance) -> list[str]:
    """Every context the test opens (browser.new_context / new_page) reports its CSP
    violations into one list, so no browser test can miss one, and waits on the
    suite's timeouts."""
    violations: list[str] = []
    new_context = instance.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        policy_violations(context, into=violations)
        return context

    def watched_page(*args, **kwargs):
        return watched_context(*args, **kwargs).new_page()

    instance.new_context = watched_context
    instance.new_page = watched_page
    return violations


@pytest.fixture
def screenshots_dir() -> Path | None:
    """Set GRADLINE_SCREENSHOTS=<dir> to save PNGs of the pages a test visits."""
    value = os.environ.get("GRADLINE_SCREENSHOTS")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


class AsgiLiveServer:
    """The real ASGI app (config.asgi: HTTP and WebSockets, as uvicorn serves it in
    production) in a thread of the test process, on the test database — what
    pytest-django's WSGI `live_server` is for pages, plus the WebSockets that every page
    now opens (notifications, live events). Static files come through whitenoise."""

    def __init__(self):
        import uvicorn

        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port,
            lifespan="off", log_level="warning", access_log=False,
            timeout_graceful_shutdown=5,  # a page's open WebSockets must not hold stop()
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        # daemon: a server that failed to stop must not keep the test process alive
        self.thread = threading.Thread(target=self.server.run, name="asgi-live-server", daemon=True)
        # pytest-django's autouse helper enables this around every test using `live_server`.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": "localhost"})

    def start(self) -> AsgiLiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        if self.thread.is_alive():
            self.server.force_exit = True  # connections still open after the grace period
            self.thread.join(30)
        assert not self.thread.is_alive(), "the ASGI live server did not stop"


@pytest.fixture
def live_server(transactional_db):
    """Replaces pytest-django's WSGI live server for the browser tests (see
    AsgiLiveServer); one per test, on the test's transactional database."""
    server = AsgiLiveServer().start()
    yield server
    server.stop()
