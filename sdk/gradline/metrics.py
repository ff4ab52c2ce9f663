"""define_metric: custom x-axes (step_metric), summary aggregations and goals.

The definitions are applied on the writer thread while rows are encoded, so log()
pays nothing for them.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

SUMMARY_KINDS = ("min", "max", "mean", "last", "first", "best", "none", "copy")


class Metric:
    """What define_metric returns (as wandb's Metric)."""

    def __init__(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
    ):
        if not name or not isinstance(name, str):
            raise ValueError("define_metric needs a metric name")
        self.name = name
        self.step_metric = step_metric
        self.step_sync = True if step_sync is None else bool(step_sync)
        self.hidden = bool(hidden)
        kinds = tuple(k.strip() for k in (summary or "").split(",") if k.strip())
        for kind in kinds:
            if kind not in SUMMARY_KINDS:
                raise ValueError(
                    f"summary must be a comma-separated list of {', '.join(SUMMARY_KINDS)}"
                )
        self.summary = kinds
        if goal is not None:
            goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
            if goal not in ("minimize", "maximize"):
                raise ValueError("goal must be 'minimize' or 'maximize'")
        self.goal = goal
        self.is_glob = any(ch in name for ch in "*?[")

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.step_metric:
            out["step_metric"] = self.step_metric
        if self.summary:
            out["summary"] = list(self.summary)
        if self.goal:
            out["goal"] = self.goal
        if self.hidden:
            out["hidden"] = True
        return out

    def __repr__(self) -> str:
        return f"Metric({self.as_dict()})"


class _Agg:
    __slots__ = ("best", "count", "first", "last", "max", "min", "total")

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.first = None
        self.last = None
        self.best = None


class MetricState:
    """Definitions plus the running summary the writer keeps for run.summary."""

    def __init__(self):
        self.exact: dict[str, Metric] = {}
        self.globs: list[Metric] = []
        self._match_cache: dict[str, Metric | None] = {}
        self.aggs: dict[str, _Agg] = {}
        self.last: dict[str, Any] = {}  # last value of every logged key (automatic summary)
        self.user_keys: set = set()  # keys the script set in the summary itself
        self.step_metric_keys: set = set()

    def define(self, metric: Metric) -> None:
        if metric.is_glob:
            self.globs = [m for m in self.globs if m.name != metric.name] + [metric]
        else:
            self.exact[metric.name] = metric
        if metric.step_metric:
            self.step_metric_keys.add(metric.step_metric)
        self._match_cache.clear()

    def definitions(self) -> dict:
        return {m.name: m.as_dict() for m in [*self.exact.values(), *self.globs]}

    def match(self, key: str) -> Metric | None:
        try:
            return self._match_cache[key]
        except KeyError:
            pass
        found = self.exact.get(key)
        if found is None:
            # The most specific pattern wins (most literal characters); then the latest.
            best = -1
            for metric in self.globs:
                if fnmatch.fnmatchcase(key, metric.name):
                    weight = sum(ch not in "*?[]" for ch in metric.name)
                    if weight >= best:
                        best, found = weight, metric
        self._match_cache[key] = found
        return found

    def fill_step_metrics(self, row: dict) -> None:
        """step_sync: a row logging `val/acc` (x-axis `epoch`) carries the last epoch."""
        if not self.step_metric_keys:
            return
        extra = {}
        for key in row:
            metric = self.match(key)
            if metric is not None and metric.step_metric and metric.step_sync:
                sm = metric.step_metric
                if sm not in row and sm not in extra and sm in self.last:
                    extra[sm] = self.last[sm]
        if extra:
            row.update(extra)

    def observe(self, key: str, value: Any) -> Any | None:
        """Record a value; returns the summary entry to send for a defined metric (or None
        when the automatic 'last value' summary applies)."""
        self.last[key] = value
        metric = self.match(key) if (self.exact or self.globs) else None
        if metric is None or not metric.summary:
            return None
        if isinstance(value, str):
            num = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value)
        else:
            num = value
        if not isinstance(num, (int, float)):
            return None
        agg = self.aggs.get(key)
        if agg is None:
            agg = self.aggs[key] = _Agg()
        agg.count += 1
        agg.total += num
        agg.min = min(agg.min, num)
        agg.max = max(agg.max, num)
        agg.last = value
        if agg.first is None:
            agg.first = value
        if metric.goal == "maximize":
            agg.best = agg.max
        elif metric.goal == "minimize":
            agg.best = agg.min
        return self.summary_entry(key, metric)

    def summary_entry(self, key: str, metric: Metric) -> Any:
        kinds = metric.summary
        if "none" in kinds:
            return _NONE
        if "copy" in kinds and len(kinds) == 1:
            return self.aggs[key].last
        agg = self.aggs.get(key)
        if agg is None:
            return None
        out = {}
        for kind in kinds:
            if kind == "min":
                out["min"] = agg.min
            elif kind == "max":
                out["max"] = agg.max
            elif kind == "mean":
                out["mean"] = agg.total / agg.count if agg.count else None
            elif kind == "last":
                out["last"] = agg.last
            elif kind == "first":
                out["first"] = agg.first
            elif kind == "best" and agg.best is not None:
                out["best"] = agg.best
        return {k: _jsonable_number(v) for k, v in out.items()}

    def summary_view(self) -> dict:
        """The automatic summary: last values, replaced by aggregations where defined."""
        out = dict(self.last)
        if self.exact or self.globs:
            for key in list(out):
                metric = self.match(key)
                if metric is not None and metric.summary:
                    entry = self.summary_entry(key, metric)
                    if entry is _NONE:
                        del out[key]
                    elif entry is not None:
                        out[key] = entry
        return out


class _NoneMarker:
    def __repr__(self) -> str:
        return "<no summary>"


_NONE = _NoneMarker()
NO_SUMMARY = _NONE


def _jsonable_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value
