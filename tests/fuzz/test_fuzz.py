"""The short version of `make fuzz` that CI runs: schemathesis against a live server with
two teams (tests/fuzz/run.py), bounded to about a minute of fuzzing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.child_process import current_database_url
from tests.fuzz.run import REPO


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzzing_a_live_server_finds_no_5xx_nor_schema_violation(db):
    """No 5xx, every answer declared with a matching body, and team B gets 404 for every
    operation on team A's objects. The fuzz database lives beside the test database."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            "--seconds",
            "60",
            "--workers",
            "1",
            "--database-url",
            current_database_url(),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=560,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "cross-team probes: " in output and ", not 404: 0" in output
    assert "fuzz: passed" in output
