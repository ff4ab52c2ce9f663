"""OpenAPI shapes of the run-tracking API (drf-spectacular). Documentation only: the views
build their JSON with apps/runs/serializers.py and orjson, never through these classes,
so the hot paths pay nothing for them. docs/api.md has the prose and examples."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers as s

from apps.api.schema import int_query, list_query


class GitIn(s.Serializer):
    commit = s.CharField(required=False)
    remote = s.CharField(required=False)
    diff = s.CharField(required=False)


class RunIn(s.Serializer):
    id = s.RegexField(r"^[a-z0-9_-]{1,64}$", required=False, help_text="Client-chosen run id.")
    name = s.CharField(required=False, max_length=128)
    config = s.JSONField(required=False)
    tags = s.ListField(child=s.CharField(max_length=64), required=False)
    notes = s.CharField(required=False)
    group = s.CharField(required=False, max_length=128)
    job_type = s.CharField(required=False, max_length=64)
    host = s.CharField(required=False, max_length=255)
    program = s.CharField(required=False, max_length=512)
    args = s.ListField(child=s.JSONField(), required=False)
    git = GitIn(required=False)
    metadata = s.JSONField(required=False)
    resume = s.ChoiceField(
        choices=["allow", "must", "never"],
        required=False,
        allow_null=True,
        help_text="allow: continue the run if it exists; must: it must exist (404 "
        "otherwise); never/null: it must not exist (409 run_exists).",
    )


class RunPatchIn(s.Serializer):
    name = s.CharField(required=False, max_length=128)
    notes = s.CharField(required=False)
    group = s.CharField(required=False, max_length=128)
    job_type = s.CharField(required=False, max_length=64)
    tags = s.ListField(child=s.CharField(max_length=64), required=False)
    config = s.JSONField(required=False, help_text="Merged into the run's config.")
    summary = s.JSONField(
        required=False, help_text="User summary values; they override logged ones. null removes."
    )


class RunOut(s.Serializer):
    id = s.CharField()
    name = s.CharField()
    state = s.ChoiceField(choices=["running", "finished", "failed", "crashed"])
    user = s.EmailField(allow_null=True)
    created_at = s.DateTimeField()
    updated_at = s.DateTimeField()
    heartbeat_at = s.DateTimeField()
    finished_at = s.DateTimeField(allow_null=True)
    exit_code = s.IntegerField(allow_null=True)
    runtime = s.FloatField(help_text="Seconds from creation to finish (or last heartbeat).")
    tags = s.ListField(child=s.CharField())
    notes = s.CharField()
    group = s.CharField()
    job_type = s.CharField()
    host = s.CharField()
    config = s.JSONField()
    summary = s.JSONField(help_text="Last value per logged key, overridden by user values.")


class RunDetailOut(RunOut):
    url = s.URLField()
    project = s.CharField()
    program = s.CharField()
    args = s.ListField(child=s.JSONField())
    git = s.JSONField()
    metadata = s.JSONField()


class MetricStatsOut(s.Serializer):
    count = s.IntegerField()
    nan_count = s.IntegerField()
    min = s.JSONField(allow_null=True)
    max = s.JSONField(allow_null=True)
    mean = s.JSONField(allow_null=True, help_text="NaN ignored.")
    last = s.JSONField(allow_null=True)
    last_step = s.IntegerField(allow_null=True)


class RunWithMetricsOut(RunDetailOut):
    metrics = s.DictField(child=MetricStatsOut(), help_text="Per-key summary statistics.")


class RunCreatedOut(RunDetailOut):
    resumed = s.BooleanField()
    high_water = s.DictField(
        child=s.IntegerField(), help_text="Last stored step per key (resume from here)."
    )
    last_step = s.IntegerField(allow_null=True, help_text="Max step over non-system keys.")
    console_next = s.IntegerField(
        help_text="Index of the next console line (a resumed client numbers from here)."
    )


class RunPageOut(s.Serializer):
    results = RunOut(many=True, help_text="Only the requested `columns` when given.")
    next_cursor = s.CharField(allow_null=True)
    total = s.IntegerField(required=False)


class FinishIn(s.Serializer):
    exit_code = s.IntegerField(
        required=False, allow_null=True, min_value=-(2**31), max_value=2**31 - 1
    )
    state = s.CharField(
        required=False,
        allow_null=True,
        help_text='"finished" or "failed"; default: failed when exit_code is non-zero.',
    )


class StateOut(s.Serializer):
    state = s.CharField()


class IngestIn(s.Serializer):
    points = s.ListField(
        child=s.ListField(), required=False, help_text="[[key, step, value, wall_time], …]"
    )
    system = s.ListField(
        child=s.ListField(), required=False, help_text="Like points; keys start with system/."
    )
    summary = s.JSONField(required=False)
    config = s.JSONField(required=False)
    console = s.ListField(
        child=s.ListField(), required=False, help_text="[[stream, wall_time, line], …]"
    )
    console_offset = s.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    heartbeat = s.BooleanField(required=False)


class IngestErrorOut(s.Serializer):
    index = s.IntegerField(allow_null=True)
    part = s.CharField()
    reason = s.CharField()


class IngestOut(s.Serializer):
    accepted = s.IntegerField()
    duplicates = s.IntegerField()
    rejected = s.IntegerField()
    conflicts = s.IntegerField()
    errors = IngestErrorOut(many=True)
    metrics = s.JSONField()
    console = s.JSONField()


class SeriesOut(s.Serializer):
    x_start = s.ListField(child=s.JSONField())
    x_end = s.ListField(child=s.JSONField())
    step_start = s.ListField(child=s.IntegerField())
    step_end = s.ListField(child=s.IntegerField())
    count = s.ListField(child=s.IntegerField())
    min = s.ListField(child=s.JSONField())
    max = s.ListField(child=s.JSONField())
    mean = s.ListField(child=s.JSONField())
    first = s.ListField(child=s.JSONField())
    last = s.ListField(child=s.JSONField())


class ChartOut(s.Serializer):
    run = s.CharField()
    x_axis = s.CharField()
    bucket_width = s.IntegerField(allow_null=True)
    series = s.DictField(child=SeriesOut())


class ChartsOut(s.Serializer):
    runs = ChartOut(many=True)


class ScanOut(s.Serializer):
    rows = s.ListField(child=s.JSONField())
    next_cursor = s.CharField(allow_null=True)


class KeysOut(s.Serializer):
    keys = s.ListField(child=s.CharField())


class FileOut(s.Serializer):
    path = s.CharField()
    size = s.IntegerField()
    sha256 = s.CharField()
    content_type = s.CharField()
    updated_at = s.DateTimeField()


class FilesOut(s.Serializer):
    files = FileOut(many=True)


class ConsoleLineOut(s.Serializer):
    line = s.IntegerField()
    stream = s.ChoiceField(choices=["stdout", "stderr"])
    time = s.FloatField()
    text = s.CharField()


class ConsoleOut(s.Serializer):
    lines = ConsoleLineOut(many=True)
    next_offset = s.IntegerField()


def _p(name: str, kind, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, kind, description=description)


RUN_QUERY_PARAMETERS = [
    _p("filters", str, "JSON filter (see docs/api.md): fields, $and/$or/$not, operators."),
    _p("order", str, "e.g. -summary.loss, config.lr, -created_at (default)."),
    _p("cursor", str, "next_cursor of the previous page."),
    int_query("page_size", "Runs per page (default 50).", minimum=1, maximum=1000, default=50),
    _p("columns", str, "Comma-separated: name,state,config.lr,summary.loss,…"),
    _p("with_total", bool, "Also count all matching runs."),
    _p("state", str, "Shortcut filter."),
    _p("tags", str, "Shortcut filter: any of these comma-separated tags."),
    _p("group", str, "Shortcut filter."),
    _p("job_type", str, "Shortcut filter."),
    _p("user", str, "Shortcut filter: creator's e-mail."),
]
CHART_PARAMETERS = [
    OpenApiParameter("keys", str, required=True, description="Comma-separated metric keys."),
    _p("x_axis", str, "_step (default), _runtime, _timestamp or another key."),
    int_query("min_step", "First step (inclusive)."),
    int_query("max_step", "Last step (inclusive)."),
    int_query("buckets", "At most this many buckets.", minimum=1, maximum=10_000, default=1000),
]
SCAN_PARAMETERS = [
    _p("keys", str, "Comma-separated keys (default: all non-system keys)."),
    int_query("min_step", "First step (inclusive)."),
    int_query("max_step", "Last step (inclusive)."),
    int_query("page_size", "Steps per page.", minimum=1, maximum=10_000, default=1000),
    int_query("cursor", "next_cursor of the previous page."),
    _p("require_all", bool, "Only rows where every requested key has a value."),
]
EXPORT_PARAMETERS = [_p("keys", str, "Comma-separated keys (default: all non-system keys).")]
PROJECT_CHART_PARAMETERS = [
    list_query("runs", "Comma-separated run ids.", min_items=1, max_items=100),
    *CHART_PARAMETERS,
]


# --------------------------------------------------------------------------- grouped charts


class GroupedSeriesOut(s.Serializer):
    x_start = s.ListField(child=s.JSONField())
    x_end = s.ListField(child=s.JSONField())
    step_start = s.ListField(child=s.IntegerField())
    step_end = s.ListField(child=s.IntegerField())
    runs = s.ListField(child=s.IntegerField(), help_text="Runs with a finite value there.")
    count = s.ListField(child=s.IntegerField(), help_text="Points in the bucket, all runs.")
    mean = s.ListField(child=s.JSONField(), help_text="Mean of the runs' bucket means.")
    std = s.ListField(child=s.JSONField(), help_text="Population std of the run means.")
    mean_min = s.ListField(child=s.JSONField())
    mean_max = s.ListField(child=s.JSONField())
    min = s.ListField(child=s.JSONField(), help_text="Exact minimum of the points.")
    max = s.ListField(child=s.JSONField(), help_text="Exact maximum of the points.")


class GroupOut(s.Serializer):
    value = s.JSONField(allow_null=True, help_text="The group_by value (null: none).")
    run_ids = s.ListField(child=s.CharField())
    series = s.DictField(child=GroupedSeriesOut())


class GroupedChartOut(s.Serializer):
    x_axis = s.CharField()
    group_by = s.CharField()
    bucket_width = s.IntegerField(allow_null=True)
    runs_matched = s.IntegerField()
    truncated = s.BooleanField(help_text="More runs matched than 1,000; the newest were used.")
    groups = GroupOut(many=True)


GROUPED_PARAMETERS = [
    _p("group_by", str, "config.<field>, group or job_type (required)."),
    _p("runs", str, "Comma-separated run ids (1-1000); default: runs matching `filters`."),
    _p("filters", str, "Runs-query filter JSON, as for the runs list (default: all runs)."),
    *CHART_PARAMETERS,
]
