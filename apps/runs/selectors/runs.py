"""Run reads: one run, the runs query, metric keys, files, console lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, Q
from django.db.models.expressions import RawSQL

from apps.core.errors import NotFound
from apps.runs.ingest import json_number, json_safe
from apps.runs.models import ConsoleLine, MetricKey, ProjectMetricKey, Run, RunFile, RunJSONField
from apps.runs.selectors import runquery

MAX_PAGE_SIZE = 1000


def run_get(team, project, uid: str) -> Run:
    run = Run.objects.for_team(team).filter(project=project, uid=uid).first()
    if run is None:
        raise NotFound("Run not found.")
    # Callers already hold the team and project: keep them off the database.
    run.team = team
    run.project = project
    return run


def runs_get_many(team, project, uids: list[str]) -> list[Run]:
    runs = list(Run.objects.for_team(team).filter(project=project, uid__in=uids))
    for run in runs:
        run.team = team
        run.project = project
    return runs


@dataclass
class RunPage:
    runs: list[Run]
    next_cursor: str | None
    total: int | None = None


def runs_query(
    team,
    project,
    *,
    filters: Any = None,
    order: str | None = None,
    cursor: str | None = None,
    page_size: int = 50,
    with_total: bool = False,
) -> RunPage:
    """A page of the project's runs matching `filters` (see runquery), in `order`
    (any config.* / summary.* field or a run column, ties broken by id)."""
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    qs = Run.objects.for_team(team).filter(project=project).select_related("created_by")
    if filters:
        where = runquery.Compiler().compile(filters)
        qs = qs.extra(where=[where.text], params=where.params)  # noqa: S610 - bound params
    total = qs.count() if with_total else None
    ordering = runquery.parse_order(order)
    if cursor:
        after = runquery.cursor_condition(ordering, cursor)
        qs = qs.extra(where=[after.text], params=after.params)  # noqa: S610 - bound params
    direction = "-" if ordering.descending else ""
    if ordering.column:
        qs = qs.order_by(f"{direction}{ordering.column}", f"{direction}id")
    else:
        rank = ordering.rank_sql()
        value = ordering.value_sql()
        qs = qs.annotate(
            _rank=RawSQL(rank.text, rank.params),  # noqa: S611 - bound params
            _value=RawSQL(value.text, value.params, output_field=RunJSONField()),  # noqa: S611
        )
        value_order = F("_value").desc() if ordering.descending else F("_value").asc()
        qs = qs.order_by("_rank", value_order, f"{direction}id")
    runs = list(qs[: page_size + 1])
    next_cursor = None
    if len(runs) > page_size:
        runs = runs[:page_size]
        last = runs[-1]
        if ordering.column:
            next_cursor = runquery.encode_cursor(
                ordering, None, getattr(last, ordering.column), last.pk
            )
        else:
            next_cursor = runquery.encode_cursor(ordering, last._rank, last._value, last.pk)
    for run in runs:
        run.team = team
        run.project = project
    return RunPage(runs, next_cursor, total)


def project_metric_keys(team, project, *, prefix: str = "", include_system: bool = False):
    qs = ProjectMetricKey.objects.for_team(team).filter(project=project)
    if prefix:
        qs = qs.filter(name__startswith=prefix)
    if not include_system:
        qs = qs.exclude(name__startswith="system/")
    return list(qs.order_by("name").values_list("name", flat=True))


def run_files(team, run) -> list[RunFile]:
    return list(RunFile.objects.for_team(team).filter(run=run).order_by("path"))


def run_file_get(team, run, path: str) -> RunFile:
    record = RunFile.objects.for_team(team).filter(run=run, path=path).first()
    if record is None:
        raise NotFound("No such file.")
    return record


def console_lines(team, run, *, offset: int = 0, limit: int = 1000) -> list[ConsoleLine]:
    limit = max(1, min(limit, 10_000))
    return list(
        ConsoleLine.objects.for_team(team)
        .filter(run=run, line__gte=max(0, offset))
        .order_by("line")[:limit]
    )


def run_metric_stats(team, run) -> dict[str, dict]:
    """Per logged key: count, NaN count, min, max, mean (NaN ignored), last value and its
    step — the summaries ingest maintains per batch."""
    out = {}
    for key in MetricKey.objects.for_team(team).filter(run=run).order_by("name"):
        finite = key.count - key.nan_count
        out[key.name] = {
            "count": key.count,
            "nan_count": key.nan_count,
            "min": None if key.min is None else json_number(key.min, key.integral),
            "max": None if key.max is None else json_number(key.max, key.integral),
            "mean": json_safe(key.sum / finite) if finite else None,
            "last": None if key.last is None else json_number(key.last, key.integral),
            "last_step": key.max_step,
        }
    return out


# --------------------------------------------------------------------------- chart runs

MAX_CHART_RUNS = 1000
# Grouping keys besides config.*: the run columns W&B groups by.
GROUP_COLUMNS = {"group": "group", "job_type": "job_type"}


@dataclass
class ChartRun:
    """What a multi-run chart needs of a run: ids, the _runtime origin, its group value."""

    pk: int
    uid: str
    start: float  # created_at in Unix seconds
    group: Any = None


@dataclass
class ChartRunSet:
    runs: list[ChartRun]
    matched: int  # runs matching the selection, before the limit
    truncated: bool  # more matched than `limit`: the newest `limit` were kept


def validate_group_by(group_by: str | None) -> str:
    if group_by in GROUP_COLUMNS:
        return group_by
    if isinstance(group_by, str) and group_by.startswith("config.") and len(group_by) > 7:
        runquery.json_expr(group_by)  # validates the path
        return group_by
    raise runquery.bad("group_by must be config.<field>, group or job_type.", "group_by")


def chart_runs(
    team,
    project,
    *,
    group_by: str,
    filters: Any = None,
    uids: list[str] | None = None,
    limit: int = MAX_CHART_RUNS,
) -> ChartRunSet:
    """The project's runs picked by explicit ids or by a runs-query filter (all runs when
    neither is given), newest first, at most `limit`, each with its `group_by` value
    (config.* value, group or job_type; None where the run has none). Reads only ids,
    created_at and the group value, never whole config or summary documents."""
    group_by = validate_group_by(group_by)
    qs = Run.objects.for_team(team).filter(project=project)
    if uids is not None:
        qs = qs.filter(uid__in=uids)
    if filters:
        where = runquery.Compiler().compile(filters)
        qs = qs.extra(where=[where.text], params=where.params)  # noqa: S610 - bound params
    if group_by in GROUP_COLUMNS:
        qs = qs.annotate(_group=F(GROUP_COLUMNS[group_by]))
    else:
        expr = runquery.json_expr(group_by)
        qs = qs.annotate(_group=RawSQL(expr.text, expr.params, output_field=RunJSONField()))  # noqa: S611
    rows = list(
        qs.order_by("-created_at", "-id").values_list("pk", "uid", "created_at", "_group")[
            : limit + 1
        ]
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    blank_is_none = group_by in GROUP_COLUMNS  # a run column "" means "no group"
    runs = [
        ChartRun(pk, uid, created.timestamp(), (group or None) if blank_is_none else group)
        for pk, uid, created, group in rows
    ]
    return ChartRunSet(runs, qs.count() if truncated else len(runs), truncated)


# --------------------------------------------------------------------------- live catch-up

MAX_CATCH_UP_RUNS = 1000


def runs_catch_up(
    team, project, *, since: dict[str, int], updated_after: float | None = None
) -> list[dict]:
    """What a reconnecting live client missed, read from the database: for each run it
    names (uid -> the last step it saw; -1 for none) and, with `updated_after` (Unix
    seconds), each run of the project updated after then (new runs included, up to
    MAX_CATCH_UP_RUNS): its current state, times, summary, and per key the last stored
    step where that is past the client's step (`steps`; `since` echoes the client's)."""
    condition = Q(uid__in=list(since)[:MAX_CATCH_UP_RUNS])
    if updated_after is not None:
        condition |= Q(updated_at__gt=datetime.fromtimestamp(updated_after, tz=UTC))
    runs = list(
        Run.objects.for_team(team)
        .filter(project=project)
        .filter(condition)
        .order_by("-updated_at", "-id")[:MAX_CATCH_UP_RUNS]
    )
    last_steps: dict[int, dict[str, int]] = {}
    for run_id, name, max_step in (
        MetricKey.objects.for_team(team)
        .filter(run_id__in=[run.pk for run in runs], max_step__isnull=False)
        .values_list("run_id", "name", "max_step")
    ):
        last_steps.setdefault(run_id, {})[name] = max_step
    out = []
    for run in runs:
        after = since.get(run.uid, -1)
        end = run.finished_at or run.heartbeat_at
        out.append(
            {
                "run": run.uid,
                "name": run.name,
                "state": run.state,
                "created_at": run.created_at.timestamp(),
                "heartbeat_at": run.heartbeat_at.timestamp(),
                "finished_at": run.finished_at.timestamp() if run.finished_at else None,
                "runtime": max(0.0, (end - run.created_at).total_seconds()),
                "group": run.group,
                "job_type": run.job_type,
                "tags": list(run.tags),
                "summary": run.summary,
                "since": after,
                "steps": {k: s for k, s in last_steps.get(run.pk, {}).items() if s > after},
            }
        )
    return out
