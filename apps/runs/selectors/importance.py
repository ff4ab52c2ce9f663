"""Parameter importance for a metric over a project's runs (the workspace panel).

For the runs that have the metric as a finite number in their summary: each config
field becomes features — numbers (and booleans) as one column, strings as one-hot
columns (one per value, up to MAX_CATEGORIES values; a field with more is left out) —
and each feature gets its Pearson and Spearman correlation with the metric and its
random-forest importance (scikit-learn RandomForestRegressor, fixed seed, missing
numbers left to the trees). Results are cached until the project's runs change: the
cache key holds the count and latest updated_at of the project's runs, which every run
write (create, ingest, finish, PATCH, delete) moves.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import orjson
from django.core.cache import cache
from django.db.models import Count, Max

from apps.core.errors import field_error
from apps.runs.models import Run
from apps.runs.selectors import runquery

MAX_RUNS = 10_000
MAX_FEATURES = 500
MAX_CATEGORIES = 50
MIN_RUNS = 3
TREES = 100
SEED = 0
CACHE_S = 24 * 3600


def _flatten(config: dict, prefix: str = "config.") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str) or key.startswith("_"):
            continue
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def runs_version(team, project) -> str:
    """Changes whenever a run of the project is created, written to or deleted."""
    stats = (
        Run.objects.for_team(team)
        .filter(project=project)
        .aggregate(n=Count("id"), latest=Max("updated_at"))
    )
    latest = stats["latest"].timestamp() if stats["latest"] else 0
    return f"{stats['n']}:{latest}"


def parameter_importance(team, project, *, metric: str, filters: Any = None) -> dict:
    if not isinstance(metric, str) or not metric or len(metric) > 256:
        raise field_error("metric is required (a summary key).", "metric")
    where = runquery.Compiler().compile(filters) if filters else None  # validates early
    digest = hashlib.sha256(orjson.dumps([metric, filters], option=orjson.OPT_SORT_KEYS))
    key = f"importance:{team.pk}:{project.pk}:{runs_version(team, project)}:{digest.hexdigest()}"
    cached = cache.get(key)
    if cached is not None:
        return {**cached, "cached": True}
    result = _compute(team, project, metric, where)
    cache.set(key, result, CACHE_S)
    return {**result, "cached": False}


def _compute(team, project, metric: str, where) -> dict:
    qs = Run.objects.for_team(team).filter(project=project)
    if where is not None:
        qs = qs.extra(where=[where.text], params=where.params)  # noqa: S610 - bound params
    rows = list(qs.order_by("-created_at", "-id").values_list("config", "summary")[:MAX_RUNS])
    configs, target = [], []
    for config, summary in rows:
        raw = summary.get(metric) if isinstance(summary, dict) else None
        y = None if isinstance(raw, bool) else _number(raw)  # "NaN" summaries are strings
        if y is not None:
            configs.append(_flatten(config if isinstance(config, dict) else {}))
            target.append(y)
    out = {"metric": metric, "runs": len(target), "parameters": []}
    if len(target) < MIN_RUNS:
        out["reason"] = f"needs at least {MIN_RUNS} runs with {metric!r} in their summary"
        return out
    names, columns = _features(configs)
    if not names:
        out["reason"] = "no config field varies across these runs"
        return out
    x = np.column_stack(columns)
    y = np.asarray(target)
    importances = _forest(x, y)
    parameters = []
    for i, (name, kind) in enumerate(names):
        column = x[:, i]
        have = ~np.isnan(column)
        parameters.append(
            {
                "name": name,
                "kind": kind,
                "importance": _clean(importances[i]),
                "pearson": _clean(_pearson(column[have], y[have])),
                "spearman": _clean(_spearman(column[have], y[have])),
                "runs": int(have.sum()),
            }
        )
    parameters.sort(key=lambda p: -(p["importance"] or 0.0))
    out["parameters"] = parameters
    return out


def _features(configs: list[dict]) -> tuple[list[tuple[str, str]], list[np.ndarray]]:
    """(name, kind) and a float column per feature; fields that never vary are left out."""
    fields = sorted({k for config in configs for k in config})
    names: list[tuple[str, str]] = []
    columns: list[np.ndarray] = []
    for field in fields:
        values = [config.get(field) for config in configs]
        present = [v for v in values if v is not None]
        if present and all(_number(v) is not None for v in present):
            column = np.array([np.nan if v is None else _number(v) for v in values])
            if np.nanmin(column) != np.nanmax(column):
                names.append((field, "numeric"))
                columns.append(column)
        elif present and all(isinstance(v, str) for v in present):
            categories = sorted(set(present))
            if 1 < len(categories) <= MAX_CATEGORIES:
                for category in categories:
                    names.append((f"{field}={category}", "categorical"))
                    columns.append(np.array([1.0 if v == category else 0.0 for v in values]))
        if len(names) >= MAX_FEATURES:
            break
    return names[:MAX_FEATURES], columns[:MAX_FEATURES]


def _forest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

    if np.all(y == y[0]):
        return np.zeros(x.shape[1])
    model = RandomForestRegressor(n_estimators=TREES, random_state=SEED, n_jobs=1)
    model.fit(x, y)
    return model.feature_importances_


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < MIN_RUNS or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (what Spearman's rho correlates)."""
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < MIN_RUNS:
        return None
    return _pearson(_ranks(a), _ranks(b))


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
