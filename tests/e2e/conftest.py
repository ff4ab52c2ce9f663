"""Browser fixtures: Python Playwright driving Debian's chromium (never `playwright
install`). Tests skip, saying why, only when /usr/bin/chromium is absent; `make
test-browser-deps` installs it when run as root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.pages import policy_violations

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(
            "browser test needs Debian's chromium at /usr/bin/chromium (make test-browser-deps)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django would refuse the
    # ORM calls around the test as async-unsafe. Fixtures that write rows must come
    # before `browser` in a test's arguments: inside Playwright's loop the ORM opens a
    # separate connection that outlives the test and blocks dropping the test database.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        violations = _watch_contexts(instance)
        try:
            yield instance
        finally:
            instance.close()
        if violations:
            pytest.fail(
                "Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False
            )


def _watch_contexts(instance) -> list[str]:
    """Every context the test opens (browser.new_context / new_page) reports its CSP
    violations into one list, so no browser test can miss one."""
    violations: list[str] = []
    new_context = instance.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
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
