"""Runs and what hangs off them (DESIGN.md §3, §4).

Metric points and their rollups are not Django models: they live in the hash-partitioned
tables `runs_point` and `runs_rollup` created by migration 0002, and only
`apps/runs/ingest/` and `apps/runs/selectors/` touch them (raw SQL, filtered by run ids
obtained through a team-scoped query).
"""

from __future__ import annotations

import json

import orjson
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel


class RunJSONField(models.JSONField):
    """A JSONField read with orjson: JSONB keeps a number like 1.8446744073709552e19 as the
    integer 18446744073709552000, which no 64-bit JSON encoder (orjson) writes back out;
    orjson.loads reads integers beyond 64 bits as floats, so everything read from run
    JSON can be answered again. (It is also several times faster than json.loads on the
    runs table's config and summary documents.)"""

    def from_db_value(self, value, expression, connection):
        if not isinstance(value, str | bytes):
            return super().from_db_value(value, expression, connection)
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            # Numbers beyond float range (PostgreSQL numeric allows 1e400): json reads them
            # as inf, which orjson writes as null — an answer instead of a 500.
            try:
                return json.loads(value, parse_int=_int_or_float)
            except json.JSONDecodeError:
                return value  # what Django's JSONField does with text that is not JSON
            except RecursionError:
                # Nested deeper than any parser here reads (jsonb allows it): a marker
                # instead of a page that never loads. New writes are limited to far less.
                return {"_truncated": "nested too deeply to read"}


def _int_or_float(text: str) -> int | float:
    number = int(text)
    return number if -(2**63) <= number < 2**64 else float(text)


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"
    CRASHED = "crashed", "Crashed"


class Run(TeamOwnedModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    # The client-visible id (W&B's run id): client-chosen or generated, unique per project.
    uid = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    notes = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.RUNNING)
    config = RunJSONField(default=dict)
    # What the runs table shows and sorts by: the last value of each logged key,
    # overridden by user-set values (kept separately in summary_overrides).
    summary = RunJSONField(default=dict)
    summary_overrides = RunJSONField(default=dict)
    tags = ArrayField(models.CharField(max_length=64), default=list)
    group = models.CharField(max_length=128, blank=True)
    job_type = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=255, blank=True)
    program = models.CharField(max_length=512, blank=True)
    args = RunJSONField(default=list)
    git = RunJSONField(default=dict)
    metadata = RunJSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # Next server-assigned console line index.
    console_next = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "uid"], name="run_unique_uid")]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="run_project_created"),
            models.Index(fields=["project", "-updated_at", "-id"], name="run_project_updated"),
            GinIndex(fields=["config"], name="run_config_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["tags"], name="run_tags_gin"),
            # Crash detection scans only running runs by heartbeat.
            models.Index(
                fields=["heartbeat_at"],
                name="run_running_heartbeat",
                condition=Q(state="running"),
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.uid


class MetricKey(TeamOwnedModel):
    """One logged key of one run, with its running summary (kept per ingested batch).

    `min`/`max`/`sum` ignore NaN; `count` counts every stored point, `nan_count` the NaNs.
    `last` is the value at the highest step (`max_step`), the resume high-water mark.
    `integral`: every finite value stored for the key is a whole number (within float64's
    exact integer range), so reads return them as JSON integers (81, not 81.0), as W&B
    returns a key logged as ints. Kept per batch at ingest; False for keys stored before
    the flag existed (they read as floats, as they always did).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=256)
    count = models.BigIntegerField(default=0)
    nan_count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)
    min_step = models.BigIntegerField(null=True)
    max_step = models.BigIntegerField(null=True)
    last = models.FloatField(null=True)
    last_wall_time = models.FloatField(null=True)
    first_wall_time = models.FloatField(null=True)
    integral = models.BooleanField(default=True, db_default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="metrickey_unique")]


class ProjectMetricKey(TeamOwnedModel):
    """Every key logged by any run of a project (for pickers); rows are only added."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="projectmetrickey_unique")
        ]


class ConsoleStream(models.TextChoices):
    STDOUT = "stdout", "stdout"
    STDERR = "stderr", "stderr"


class ConsoleLine(TeamOwnedModel):
    pk = models.CompositePrimaryKey("run_id", "line")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    line = models.BigIntegerField()
    stream = models.CharField(max_length=6, choices=ConsoleStream.choices)
    wall_time = models.FloatField()
    text = models.TextField()


class RunFile(TeamOwnedModel):
    """A file saved with a run; the blob lives in the default storage under a server-chosen
    name (`storage_name`), never under the client-supplied `path`."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=512)
    storage_name = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "path"], name="runfile_unique_path")]
