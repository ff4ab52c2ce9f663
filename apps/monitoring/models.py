"""Production model monitoring (docs/monitoring.md).

A Monitor follows a registered model's alias (or a fixed version). Raw predictions live
in `monitoring_prediction`, a table partitioned by month on the prediction time and
created by SQL (migration 0002; apps/monitoring/storage.py writes and reads it), with
`monitoring_prediction_key` as the exactly-once ledger (a unique key on a partitioned
table must contain the partition key, so the prediction id alone cannot be unique
there). Dashboards read `Window` rows, aggregates per (monitor, window, version)
maintained on ingest, never the raw records.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class PredictionType(models.TextChoices):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class WindowSize(models.TextChoices):
    HOURLY = "hourly"
    DAILY = "daily"


class Monitor(TeamOwnedModel):
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    registered_model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="+"
    )
    # Exactly one of alias (followed as it moves) and version (a fixed version index).
    alias = models.CharField(max_length=128, blank=True)
    version = models.IntegerField(null=True)
    # [{"name", "type": numeric|categorical|text|embedding, "dim"?, "allow_nan"?, "required"?}]
    features = models.JSONField(default=list)
    prediction_type = models.CharField(max_length=16, choices=PredictionType.choices)
    classes = models.JSONField(default=list)  # multiclass labels, in order
    threshold = models.FloatField(default=0.5)  # binary: score >= threshold is positive
    window = models.CharField(max_length=8, choices=WindowSize.choices, default="hourly")
    retention_days = models.IntegerField(default=30)
    # Per-type drift method and threshold overrides, baseline (reference | previous).
    drift = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reference_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="monitor_unique_name"),
        ]
        indexes = [models.Index(fields=["team", "registered_model"])]


class ReferenceFeature(TeamOwnedModel):
    """The reference profile of one feature (or `__prediction__`): summaries in `profile`
    (bins and counts, quantiles, category frequencies, missing rate) and, for numeric
    values, `sample`: the sorted reference values as float64, or evenly spaced quantiles
    of them when there were more than REFERENCE_SAMPLE."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    feature = models.CharField(max_length=128)
    kind = models.CharField(max_length=16)
    profile = models.JSONField(default=dict)
    sample = models.BinaryField(default=bytes)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["monitor", "feature"], name="reference_feature_once")
        ]


class Window(TeamOwnedModel):
    """Aggregates of one window of one model version, summed on ingest (arrays add
    element-wise through the SQL function monitoring_add; apps/monitoring/aggregates.py
    fixes their layouts)."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    version = models.IntegerField()
    count = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    latency = ArrayField(
        models.FloatField(), default=list
    )  # histogram over aggregates.LATENCY_EDGES
    missing = ArrayField(models.FloatField(), default=list)  # per feature, schema order
    predictions = ArrayField(models.FloatField(), default=list)  # prediction summary (by type)
    labeled = models.BigIntegerField(default=0)
    truth = ArrayField(models.FloatField(), default=list)  # ground-truth accumulators (by type)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "start", "version"], name="monitor_window_once"
            )
        ]


class DriftResult(TeamOwnedModel):
    """Drift of one window (of one version, or of all when version is -1) computed from
    its raw records against the baseline; the dashboard reads these."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    version = models.IntegerField()  # -1: every version of the window
    computed_at = models.DateTimeField(default=timezone.now)
    count = models.BigIntegerField(default=0)
    baseline = models.CharField(max_length=16, default="reference")
    drifted = models.IntegerField(default=0)
    # [{"feature", "kind", "method", "score", "threshold", "drifted", "p_value"?, "scores",
    #   "reference": {...}, "current": {...}}]
    features = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "start", "version"], name="monitor_drift_once"
            )
        ]


class Action(models.TextChoices):
    NOTIFY = "notify"
    WEBHOOK = "webhook"
    SLACK = "slack"


class AlertRule(TeamOwnedModel):
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    metric = models.CharField(max_length=200)  # see metrics.METRICS; drift:<feature> ...
    op = models.CharField(max_length=2)
    value = models.FloatField()
    # threshold: metric op value; change: relative change vs the mean of the previous
    # `baseline_windows` windows op value (0.2 = 20 %).
    mode = models.CharField(max_length=16, default="threshold")
    baseline_windows = models.IntegerField(default=24)
    action = models.CharField(max_length=16, choices=Action.choices, default="notify")
    action_config = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=16, default="ok")  # ok | firing
    evaluated_through = models.DateTimeField(null=True)  # last window evaluated
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)


class AlertEvaluation(TeamOwnedModel):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    value = models.FloatField(null=True)
    baseline = models.FloatField(null=True)
    firing = models.BooleanField()
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "window_start"], name="alert_evaluated_once")
        ]
        indexes = [models.Index(fields=["rule", "-window_start"])]


class AlertIncident(TeamOwnedModel):
    """One firing of a rule, from the window that crossed to the one that resolved it;
    each transition publishes one notification event (keys incident:<id>:fired|resolved)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    opened_window = models.DateTimeField()
    opened_at = models.DateTimeField(default=timezone.now)
    value = models.FloatField(null=True)
    summary = models.CharField(max_length=500)
    resolved_window = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["monitor", "-opened_at"])]
