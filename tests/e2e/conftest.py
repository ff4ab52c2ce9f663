"""Browser fixtures: Python Playwright driving Debian's chromium (never `playwright
install`). Tests skip, saying why, only when /usr/bin/chromium is absent; `make
test-browser-deps` installs it when run as root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def screenshots_dir() -> Path | None:
    """Set GRADLINE_SCREENSHOTS=<dir> to save PNGs of the pages a test visits."""
    value = os.environ.get("GRADLINE_SCREENSHOTS")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path
