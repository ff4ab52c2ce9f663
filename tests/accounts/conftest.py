from __future__ import annotations

import pytest

from tests.accounts import clock


@pytest.fixture
def frozen_clock(settings):
    """The rate limiter reads the settable clock of tests/accounts/clock.py."""
    clock.reset()
    settings.RATE_LIMIT_CLOCK = clock.CLOCK_PATH
    yield clock
    clock.reset()
