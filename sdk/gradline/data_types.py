"""Rich values that can be logged. Histogram now; Table, Image … arrive with later issues."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MAX_BINS = 512


class Histogram:
    """A histogram, as `wandb.Histogram`: from a sequence of numbers or a numpy histogram.

    Logging a list or array of numbers stores one automatically (64 bins), as W&B does.
    """

    _type = "histogram"

    def __init__(
        self,
        sequence: Sequence | None = None,
        np_histogram: tuple | None = None,
        num_bins: int = 64,
    ):
        if np_histogram is not None:
            values, bins = np_histogram
            self.histogram = [int(v) if float(v).is_integer() else float(v) for v in values]
            self.bins = [float(b) for b in bins]
            if len(self.bins) != len(self.histogram) + 1:
                raise ValueError("np_histogram bins must have one more entry than its values")
        elif sequence is not None:
            self.histogram, self.bins = _histogram(sequence, num_bins)
        else:
            raise ValueError("Histogram needs a sequence or an np_histogram")
        if len(self.histogram) > MAX_BINS:
            raise ValueError(f"a histogram has at most {MAX_BINS} bins")

    def to_json(self) -> dict:
        return {"_type": "histogram", "bins": self.bins, "values": self.histogram}

    def __repr__(self) -> str:
        return f"Histogram({len(self.histogram)} bins)"


def _flat_numbers(sequence: Any) -> list:
    try:
        import numpy as np
    except ImportError:  # pure Python fallback
        np = None
    if np is not None and hasattr(sequence, "__array__"):
        arr = np.asarray(sequence, dtype="float64").ravel()
        return arr[np.isfinite(arr)]
    out: list = []
    stack = [sequence]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            value = float(item)
            if math.isfinite(value):
                out.append(value)
    return out


def _histogram(sequence: Any, num_bins: int) -> tuple[list, list]:
    num_bins = max(1, min(int(num_bins), MAX_BINS))
    values = _flat_numbers(sequence)
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        counts, edges = np.histogram(np.asarray(values, dtype="float64"), bins=num_bins)
        return [int(c) for c in counts], [float(e) for e in edges]
    if not values:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / num_bins
    counts = [0] * num_bins
    for v in values:
        idx = min(int((v - lo) / width), num_bins - 1)
        counts[idx] += 1
    edges = [lo + i * width for i in range(num_bins)] + [hi]
    return counts, edges
