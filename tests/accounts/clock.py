"""A settable clock for the rate limiter (settings.RATE_LIMIT_CLOCK = CLOCK_PATH).

Frozen at START unless a test advances it, so a test that fills a window and then
crosses it neither waits nor depends on when it runs; processes started by a test
begin at the same START and so agree with it.
"""

from __future__ import annotations

CLOCK_PATH = "tests.accounts.clock.now"
START = 1_800_000_000.0
_now = [START]


def now() -> float:
    return _now[0]


def reset() -> None:
    _now[0] = START


def advance(seconds: float) -> None:
    _now[0] += seconds
