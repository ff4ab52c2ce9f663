"""Monitoring reads (first argument: the team). Dashboards read Window aggregates and
stored drift results, never raw predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from django.db import connection

from apps.core.errors import NotFound
from apps.monitoring import aggregates, schema
from apps.monitoring.models import (
    AlertEvaluation,
    AlertIncident,
    AlertRule,
    DriftResult,
    Monitor,
    ReferenceFeature,
    Window,
)
from apps.registry.models import AliasEvent

PREDICTION = schema.RESERVED
BASE_METRICS = (
    "volume", "error_rate", "latency_p50", "latency_p95", "latency_p99", "missing_rate",
    "prediction_mean", "labeled",
)  # fmt: skip
TRUTH_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece"),
    "multiclass": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece"),
    "regression": ("mae", "rmse", "mape"),
}
DRIFT_METRICS = ("drifted_features", "drift_share", "prediction_drift")


def monitors_list(team, *, registered_model=None) -> list[Monitor]:
    qs = Monitor.objects.for_team(team).select_related("registered_model").order_by("name")
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return list(qs)


def monitor_get(team, name: str) -> Monitor:
    found = (
        Monitor.objects.for_team(team).select_related("registered_model").filter(name=name).first()
    )
    if found is None:
        raise NotFound("Monitor not found.")
    return found


def metric_names(monitor: Monitor) -> list[str]:
    names = list(BASE_METRICS) + list(TRUTH_METRICS[monitor.prediction_type])
    names += [f"missing_rate:{f['name']}" for f in monitor.features]
    names += list(DRIFT_METRICS) + [f"drift:{f['name']}" for f in monitor.features]
    return names


def reference(team, monitor: Monitor) -> list[ReferenceFeature]:
    return list(
        ReferenceFeature.objects.for_team(team)
        .filter(monitor=monitor)
        .defer("sample")
        .order_by("pk")
    )


def window_metrics(monitor: Monitor, w) -> dict:
    """Metrics of one window's sums (a Window row, or several summed by _combine)."""
    n = w.count
    out: dict = {
        "volume": n,
        "errors": w.errors,
        "error_rate": w.errors / n if n else None,
        "latency_p50": aggregates.latency_percentile(w.latency, 0.5),
        "latency_p95": aggregates.latency_percentile(w.latency, 0.95),
        "latency_p99": aggregates.latency_percentile(w.latency, 0.99),
        "labeled": w.labeled,
    }
    missing = np.asarray(w.missing or [0.0] * len(monitor.features), dtype=np.float64)
    rates = {
        f["name"]: (float(missing[i]) / n if n else None)
        for i, f in enumerate(monitor.features)
        if i < len(missing)
    }
    out["missing_rate"] = max((r for r in rates.values() if r is not None), default=None)
    for name, r in rates.items():
        out[f"missing_rate:{name}"] = r
    preds = np.asarray(w.predictions or [], dtype=np.float64)
    valid = n - w.errors
    if monitor.prediction_type == "binary" and len(preds) >= aggregates.SCORE_BINS + 2:
        out["prediction_mean"] = preds[aggregates.SCORE_BINS] / valid if valid else None
        out["prediction_hist"] = preds[: aggregates.SCORE_BINS].tolist()
    elif monitor.prediction_type == "regression" and len(preds) >= 2:
        out["prediction_mean"] = preds[0] / valid if valid else None
    elif monitor.prediction_type == "multiclass":
        out["prediction_mean"] = None
        out["class_counts"] = preds.tolist()
    metrics = aggregates.truth_metrics(monitor.prediction_type, w.truth or [], len(monitor.classes))
    calibration = metrics.pop("calibration", None)
    out.update(metrics)
    if calibration is not None:
        out["ece"] = calibration["ece"]
        out["calibration"] = calibration["bins"]
    for name in TRUTH_METRICS[monitor.prediction_type]:
        out.setdefault(name, None)
    return out


class _Sum:
    """Window rows of several versions added up (the window as a whole)."""

    def __init__(self, rows):
        self.count = sum(r.count for r in rows)
        self.errors = sum(r.errors for r in rows)
        self.labeled = sum(r.labeled for r in rows)
        for field in ("latency", "missing", "predictions", "truth"):
            arrays = [np.asarray(getattr(r, field) or [], dtype=np.float64) for r in rows]
            size = max((len(a) for a in arrays), default=0)
            total = np.zeros(size)
            for a in arrays:
                total[: len(a)] += a
            setattr(self, field, total.tolist())


def windows(team, monitor: Monitor, start: datetime, end: datetime) -> list[Window]:
    return list(
        Window.objects.for_team(team)
        .filter(monitor=monitor, start__gte=start, start__lt=end)
        .order_by("start", "version")
    )


def window_total(team, monitor: Monitor, start: datetime) -> _Sum | None:
    rows = list(Window.objects.for_team(team).filter(monitor=monitor, start=start))
    return _Sum(rows) if rows else None


def alias_markers(team, monitor: Monitor, start: datetime, end: datetime) -> list[dict]:
    if not monitor.alias:
        return []
    events = (
        AliasEvent.objects.for_team(team)
        .filter(
            registered_model_id=monitor.registered_model_id,
            alias=monitor.alias,
            at__gte=start,
            at__lt=end,
        )
        .order_by("at", "pk")
        .values_list("at", "from_version", "to_version")
    )
    return [
        {"time": at.timestamp(), "from": frm or None, "to": to or None} for at, frm, to in events
    ]


def drift_results(team, monitor: Monitor, start: datetime, end: datetime) -> list[DriftResult]:
    return list(
        DriftResult.objects.for_team(team)
        .filter(monitor=monitor, start__gte=start, start__lt=end, version=-1)
        .order_by("start")
    )


def drift_get(team, monitor: Monitor, start: datetime, version: int) -> DriftResult | None:
    return (
        DriftResult.objects.for_team(team)
        .filter(monitor=monitor, start=start, version=version)
        .first()
    )


def latest_window_start(team, monitor: Monitor) -> datetime | None:
    row = (
        Window.objects.for_team(team)
        .filter(monitor=monitor)
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
    )
    return row


def dashboard(team, monitor: Monitor, start: datetime, end: datetime) -> dict:
    """The monitoring page's data in one request: per window, the metrics of the whole
    window and of each version; drift summaries; the alias's moves in the range."""
    rows = windows(team, monitor, start, end)
    by_start: dict[datetime, list[Window]] = {}
    for r in rows:
        by_start.setdefault(r.start, []).append(r)
    series = []
    versions: set[int] = set()
    for moment, group in by_start.items():
        entry = {
            "start": moment.timestamp(),
            "all": window_metrics(monitor, _Sum(group) if len(group) > 1 else group[0]),
            "versions": {},
        }
        for r in group:
            versions.add(r.version)
            entry["versions"][f"v{r.version}"] = window_metrics(monitor, r)
        series.append(entry)
    drift = {
        d.start.timestamp(): {"drifted": d.drifted, "count": d.count, "scores": {
            f["feature"]: f["score"] for f in d.features
        }}
        for d in drift_results(team, monitor, start, end)
    }  # fmt: skip
    return {
        "window_seconds": schema.WINDOWS[monitor.window],
        "from": start.timestamp(),
        "to": end.timestamp(),
        "versions": [f"v{v}" for v in sorted(versions)],
        "windows": series,
        "drift": [{"start": k, **v} for k, v in sorted(drift.items())],
        "alias_moves": alias_markers(team, monitor, start, end),
    }


def dashboard_series(
    team, monitor: Monitor, start: datetime, end: datetime, metrics: list[str] | None = None
) -> dict:
    """The monitor page's data in one request, columnar: window start times, then per
    series ("all" = every version of the window together, and one per version) each
    metric as a list aligned to the times (null where a version served nothing); drift
    summaries and the alias's moves in the range. Computed for all windows at once
    from the aggregates (aggregates.series_metrics); no raw record is read."""
    # Raw SQL in binary format: psycopg decodes float8[] there several times faster than
    # from text, and the arrays are most of the bytes. Scoped by team and monitor id.
    connection.ensure_connection()
    # A server-side-binding cursor of the same connection (Django's are client-side,
    # which cannot take binary results); same transaction.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT start, version, count, errors, labeled, latency, missing, predictions,"
            " truth FROM monitoring_window WHERE team_id = %s AND monitor_id = %s"
            " AND start >= %s AND start < %s ORDER BY start, version",
            [team.pk, monitor.pk, start, end],
            binary=True,
        )
        rows = cursor.fetchall()
    starts = sorted({r[0] for r in rows})
    slot = {s: i for i, s in enumerate(starts)}
    m = len(starts)
    versions = sorted({r[1] for r in rows})
    groups: dict[str, dict] = {}

    def empty() -> dict:
        return {
            "count": np.zeros(m), "errors": np.zeros(m), "labeled": np.zeros(m),
            "latency": [None] * m, "missing": [None] * m, "predictions": [None] * m,
            "truth": [None] * m, "present": np.zeros(m, dtype=bool),
        }  # fmt: skip

    total = empty()
    for v in versions:
        groups[f"v{v}"] = empty()
    for start_, version, count, errors, labeled, *arrays in rows:
        i = slot[start_]
        for group in (groups[f"v{version}"], total):
            group["count"][i] += count
            group["errors"][i] += errors
            group["labeled"][i] += labeled
            group["present"][i] = True
            for name, values in zip(
                ("latency", "missing", "predictions", "truth"), arrays, strict=True
            ):
                if not values:
                    continue
                held = group[name][i]
                if held is None:
                    group[name][i] = list(values)
                else:
                    size = max(len(held), len(values))
                    merged = np.zeros(size)
                    merged[: len(held)] += held
                    merged[: len(values)] += values
                    group[name][i] = merged.tolist()
    wanted = set(metrics) if metrics else None
    series = {}
    for name, group in {"all": total, **groups}.items():
        computed = aggregates.series_metrics(
            monitor.prediction_type, len(monitor.classes), len(monitor.features), group
        )
        present = group["present"]
        series[name] = {
            key: [
                round(float(x), 9) if ok and np.isfinite(x) else None
                for x, ok in zip(values.tolist(), present, strict=True)
            ]
            for key, values in computed.items()
            if wanted is None or key in wanted
        }
    drift = [
        {"start": d.start.timestamp(), "drifted": d.drifted, "count": d.count}
        for d in drift_results(team, monitor, start, end)
    ]
    return {
        "window_seconds": schema.WINDOWS[monitor.window],
        "from": start.timestamp(),
        "to": end.timestamp(),
        "times": [s.timestamp() for s in starts],
        "versions": [f"v{v}" for v in versions],
        "series": series,
        "drift": drift,
        "alias_moves": alias_markers(team, monitor, start, end),
    }


def rules(team, monitor: Monitor) -> list[AlertRule]:
    return list(AlertRule.objects.for_team(team).filter(monitor=monitor).order_by("pk"))


def rule_get(team, monitor: Monitor, rule_id: int) -> AlertRule:
    found = AlertRule.objects.for_team(team).filter(monitor=monitor, pk=rule_id).first()
    if found is None:
        raise NotFound("Alert rule not found.")
    return found


def incidents(team, monitor: Monitor, limit: int = 200) -> list[AlertIncident]:
    return list(
        AlertIncident.objects.for_team(team)
        .filter(monitor=monitor)
        .select_related("rule")
        .order_by("-opened_at", "-pk")[:limit]
    )


def evaluations(team, rule: AlertRule, limit: int = 200) -> list[AlertEvaluation]:
    return list(
        AlertEvaluation.objects.for_team(team).filter(rule=rule).order_by("-window_start")[:limit]
    )


def parse_range(params, monitor: Monitor, now: datetime | None = None) -> tuple[datetime, datetime]:
    """?from=&to= (Unix seconds or ISO 8601); default: the last 7 days (hourly windows)
    or 90 days (daily). At most 400 days."""
    from apps.core.errors import field_error

    now = now or datetime.now(UTC)

    def moment(name: str):
        raw = params.get(name)
        if raw in (None, ""):
            return None
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (ValueError, OverflowError, OSError):
            pass
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise field_error(f"{name} must be Unix seconds or ISO 8601.", name) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    end = moment("to") or now + timedelta(seconds=1)
    span = timedelta(days=7 if monitor.window == "hourly" else 90)
    start = moment("from") or end - span
    if start >= end:
        raise field_error("from must lie before to.", "from")
    if end - start > timedelta(days=400):
        raise field_error("The range may span at most 400 days.", "from")
    return start, end
