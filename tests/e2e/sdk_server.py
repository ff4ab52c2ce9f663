"""What the browser tests that log through the SDK share: a uvicorn server on its own
database seeded by tests/sdk/bootstrap_server.py (team sdk-team, owner below), the SDK's
environment for scripts run against it, and signing the owner in."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.sdk.harness import REPO, Seed, ServerProcess, TestDatabase, bootstrap

EMAIL, PASSWORD = "owner@sdk.example", "sdk-pass-12345"
TEAM = "sdk-team"


@contextlib.contextmanager
def sdk_server(name: str, var_dir: Path) -> Iterator[tuple[ServerProcess, Seed]]:
    """A started server on a fresh database `test_gradline_<name>_<pid>`; both go at the end."""
    db = TestDatabase(f"test_gradline_{name}_{os.getpid()}")
    db.create()
    try:
        seed = bootstrap(db, var_dir)
        server = ServerProcess(db, var_dir).start()
        try:
            yield server, seed
        finally:
            server.stop()
    finally:
        db.drop()


def sdk_env(server: ServerProcess, key: str, tmp: Path, **extra: str) -> dict:
    """The environment of a script logging to `server` as the key's owner, without
    whatever GRADLINE_ / WANDB_ settings the test process itself has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        GRADLINE_BASE_URL=server.url,
        GRADLINE_API_KEY=key,
        GRADLINE_ENTITY=TEAM,
        GRADLINE_DIR=str(tmp / "runs"),
        GRADLINE_CONFIG_DIR=str(tmp / "config"),
        PYTHONPATH=str(REPO / "sdk"),
        **extra,
    )
    return env


def run_script(
    script: str, env: dict, cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """A Python script run to its end (it must exit 0; its stderr is shown otherwise)."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def sign_in(browser, server: ServerProcess, color_scheme: str, **options):
    """A new context signed in as the owner -> (context, page on their home page)."""
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


def no_horizontal_overflow(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the viewport"
