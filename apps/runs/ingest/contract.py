"""What an ingest batch is, whatever its wire format: the limits, the reserved keys, the
JSON encoding of non-finite values, and `Batch`, the validated columns that parsing and
validation produce and storage consumes.

The bottom of apps.runs.ingest: the other modules import this one and it imports none
of them. The readers (apps/runs/selectors) encode stored values with `json_safe` and
`json_number`, so what comes back matches what was accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS = 100_000
MAX_STEP = 2**53 - 1  # exact in a float64, so browsers and pandas read steps exactly
MAX_KEY_LENGTH = 256
MAX_CONSOLE_LINES = 100_000
MAX_CONSOLE_LINE_CHARS = 64 * 1024
MAX_CONSOLE_LINE_NUMBER = 2**63 - 1  # runs_consoleline.line and runs_run.console_next: bigint
MAX_ERRORS_LISTED = 1000
RESERVED_KEYS = frozenset({"_step", "_runtime", "_timestamp"})
SYSTEM_PREFIX = "system/"
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
PARTS = ("points", "system")


@dataclass
class Batch:
    """A validated batch: metric columns (points then system) plus the other parts."""

    names: list[str] = field(default_factory=list)  # distinct keys; kidx indexes this list
    kidx: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    step: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    value: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    wall: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    # Where each valid record came from, to report conflicts by (part, index).
    part: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    console: list[tuple[str, float, str]] = field(default_factory=list)
    console_index: list[int] = field(default_factory=list)
    console_offset: int | None = None
    summary: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    heartbeat: bool = False
    errors: list[dict] = field(default_factory=list)
    rejected: int = 0

    def reject(self, part: str, index: int | None, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append({"index": index, "part": part, "reason": reason})


def json_safe(value: float) -> float | str:
    """A float for JSON: non-finite values become the strings of the wire contract."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def json_number(value: float, integral: bool) -> int | float | str:
    """A stored value for JSON: an int for a key whose values are all whole numbers
    (MetricKey.integral), else json_safe."""
    if integral and math.isfinite(value):
        return int(value)
    return json_safe(value)
