"""Reads of the media index and of logged tables. Every function takes the team first
and reads only that team's rows (`for_team`, or `team_id = %s` in the table SQL); the
run passed in was itself looked up in the team (apps.runs.selectors.runs.run_get)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from django.db import connection, transaction
from django.db.models import Count, Max, Min

from apps.core.errors import DomainError, NotFound, field_error
from apps.media.models import ChartPreset, MediaItem, MediaType, TableRow
from apps.runs.models import Run, RunFile

MAX_PAGE = 1000
MAX_TABLE_PAGE = 1000
MAX_FILTERS = 20
MAX_RUNS = 50  # runs per across-runs request (the image grid's columns)
MAX_STEPS_LISTED = 10_000  # distinct steps the step slider is given
MAX_HEATMAP_STEPS = 500
MAX_HEATMAP_BINS = 256
OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def media_list(
    team,
    run: Run,
    *,
    key: str | None = None,
    media_type: str | None = None,
    step: int | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[MediaItem], bool]:
    """The run's top-level items (not table cells) by key, step, index; (page, more)."""
    items = MediaItem.objects.for_team(team).filter(run=run, parent__isnull=True)
    if key is not None:
        items = items.filter(key=key)
    if media_type is not None:
        if media_type not in MediaType.values:
            raise field_error(f"type must be one of {MediaType.values}.", "type")
        items = items.filter(type=media_type)
    if step is not None:
        items = items.filter(step=step)
    if min_step is not None:
        items = items.filter(step__gte=min_step)
    if max_step is not None:
        items = items.filter(step__lte=max_step)
    page = list(items.order_by("key", "step", "index")[offset : offset + limit + 1])
    for item in page:
        item.run = run
    return page[:limit], len(page) > limit


def media_keys(team, run: Run) -> list[dict]:
    """Per logged key: its type, how many items and the step range (the panels' index)."""
    rows = (
        MediaItem.objects.for_team(team)
        .filter(run=run, parent__isnull=True)
        .values("key", "type")
        .annotate(count=Count("pk"), min_step=Min("step"), max_step=Max("step"))
        .order_by("key", "type")
    )
    return list(rows)


def media_get(team, run: Run, media_id: int) -> MediaItem:
    item = MediaItem.objects.for_team(team).filter(run=run, pk=media_id).first()
    if item is None:
        raise NotFound("Media not found.")
    item.run = run
    return item


@dataclass
class StoredMedia:
    storage_name: str
    size: int
    path: str
    content_type: str
    sha256: str


def media_file(team, item: MediaItem, mask: str | None = None) -> StoredMedia:
    """The stored bytes of an item (or of one of an image's masks). A file replaced
    since it was validated (another sha256 under the same path) is not served."""
    if mask is not None:
        masks = item.metadata.get("masks") if isinstance(item.metadata, dict) else None
        entry = masks.get(mask) if isinstance(masks, dict) else None
        if not isinstance(entry, dict):
            raise NotFound("This image has no such mask.")
        record = (
            RunFile.objects.for_team(team)
            .filter(run_id=item.run_id, path=entry.get("path"))
            .first()
        )
        if record is None or record.sha256 != entry.get("sha256"):
            raise NotFound("The mask's file is gone.")
        return StoredMedia(
            record.storage_name, record.size, record.path, "image/png", record.sha256
        )
    if item.file_id is None:
        raise NotFound("This media item has no file.")
    record = RunFile.objects.for_team(team).filter(pk=item.file_id).first()
    if record is None or record.sha256 != item.sha256:
        raise DomainError(
            "The media file was replaced after it was logged.", code="gone", status=410
        )
    return StoredMedia(
        record.storage_name, record.size, record.path, item.content_type, item.sha256
    )


# --------------------------------------------------------------------------- tables


@dataclass
class TablePage:
    columns: list[str]
    rows: list[dict]
    total: int
    offset: int


def _column_index(columns: list[str], name: Any, field: str) -> int:
    if not isinstance(name, str) or name not in columns:
        raise field_error(f"{field} must name a column of the table: {columns[:50]}.", field)
    return columns.index(name)


def parse_filters(raw: str | None) -> list[dict]:
    """`filters` query parameter: a JSON list of {"column", "op", "value"}; op is one of
    eq, ne, lt, lte, gt, gte (JSON comparison: numbers as numbers, strings as text) or
    contains (case-insensitive substring of the cell's text)."""
    if not raw:
        return []
    try:
        filters = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise field_error("filters must be a JSON list.", "filters") from None
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise field_error(f"filters must be a JSON list of at most {MAX_FILTERS}.", "filters")
    for f in filters:
        if not isinstance(f, dict) or f.get("op") not in (*OPERATORS, "contains"):
            raise field_error(
                f"Each filter is {{column, op, value}}; op one of {[*OPERATORS, 'contains']}.",
                "filters",
            )
        if f["op"] == "contains" and not isinstance(f.get("value"), str):
            raise field_error("A contains filter needs a string value.", "filters")
        if "\x00" in orjson.dumps(f.get("value")).decode():
            raise field_error("Filter values must not contain NUL.", "filters")
    return filters


def table_page(
    team,
    item: MediaItem,
    *,
    offset: int = 0,
    limit: int = 50,
    sort: str | None = None,
    descending: bool = False,
    filters: list[dict] | None = None,
) -> TablePage:
    """One page of a logged table, sorted and filtered by PostgreSQL (apps.media.models
    explains the storage). Sorting is by the cells' JSONB order, ties by row order."""
    if item.type not in (MediaType.TABLE, MediaType.CHART):
        raise DomainError("This media item is not a table.", code="not_a_table")
    columns = list(item.metadata.get("columns") or [])
    where = ["team_id = %s", "table_id = %s"]
    params: list[Any] = [team.pk, item.pk]
    for f in filters or []:
        index = _column_index(columns, f.get("column"), "filters")
        if f["op"] == "contains":
            escaped = f["value"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(cells ->> %s) ILIKE %s")
            params += [index, f"%{escaped}%"]
        else:
            where.append(f"(cells -> %s) {OPERATORS[f['op']]} %s::jsonb")
            params += [index, orjson.dumps(f.get("value")).decode()]
    order = "row_index"
    order_params: list[Any] = []
    if sort is not None:
        index = _column_index(columns, sort, "sort")
        direction = "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
        order = f"(cells -> %s) {direction}, row_index"
        order_params = [index]
    # The SQL text is built from constants only (column positions and values are
    # parameters), so nothing a client sends becomes SQL.
    table = TableRow._meta.db_table
    condition = " AND ".join(where)
    sql = f"SELECT row_index, cells::text FROM {table} WHERE {condition} ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608, E501
    with transaction.atomic(), connection.cursor() as cursor:
        # A deep page of a sort keeps offset + limit rows: sort them in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, [*params, *order_params, limit, offset])
        rows = [
            {"index": index, "cells": orjson.loads(cells)} for index, cells in cursor.fetchall()
        ]
        if filters:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params)  # noqa: S608
            total = cursor.fetchone()[0]
        else:
            total = int(item.metadata.get("nrows") or 0)
    return TablePage(columns, rows, total, offset)


# --------------------------------------------------------------------------- across runs


def media_keys_across_runs(team, runs: list[Run]) -> list[dict]:
    """Per key logged by any of `runs`: its type, how many of the runs logged it, the
    item count and the step range (the workspace's Media section: one panel per key)."""
    rows = (
        MediaItem.objects.for_team(team)
        .filter(run__in=runs, parent__isnull=True)
        .values("key", "type")
        .annotate(
            runs=Count("run", distinct=True),
            count=Count("pk"),
            min_step=Min("step"),
            max_step=Max("step"),
        )
        .order_by("key", "type")
    )
    return list(rows)


@dataclass
class RunsMedia:
    steps: list[int]  # distinct steps of the key over the runs (the slider's stops)
    steps_truncated: bool
    at: dict[str, tuple[int | None, list[MediaItem]]]  # run uid -> (step shown, items)


def media_across_runs(team, runs: list[Run], key: str, step: int | None) -> RunsMedia:
    """For each run, the items of `key` at `step` or, where the run has none there, at
    its nearest step before it (W&B's image panel does the same); without `step`, each
    run's last step. Two indexed queries per run (run, key, step), so the cost does not
    grow with how many steps a run logged."""
    base = MediaItem.objects.for_team(team).filter(key=key, parent__isnull=True)
    steps = list(
        base.filter(run__in=runs)
        .order_by("step")
        .values_list("step", flat=True)
        .distinct()[: MAX_STEPS_LISTED + 1]
    )
    at: dict[str, tuple[int | None, list[MediaItem]]] = {}
    for run in runs:
        mine = base.filter(run=run)
        if step is not None:
            mine = mine.filter(step__lte=step)
        shown = mine.order_by("-step").values_list("step", flat=True).first()
        items = list(mine.filter(step=shown).order_by("index")) if shown is not None else []
        for item in items:
            item.run = run
        at[run.uid] = (shown, items)
    return RunsMedia(steps[:MAX_STEPS_LISTED], len(steps) > MAX_STEPS_LISTED, at)


# --------------------------------------------------------------------------- histograms


@dataclass
class Heatmap:
    steps: list[int]
    edges: list[float]
    counts: list[list[float]]
    total_steps: int


def histogram_heatmap(team, run: Run, key: str, *, bins: int = 64, max_steps: int = 200) -> Heatmap:
    """A histogram key over time as one matrix: each logged histogram re-binned onto
    `bins` common bins spanning every step's range (counts spread over the new bins in
    proportion to overlap, so totals are kept), for at most `max_steps` steps chosen
    evenly over the run (first and last included). The browser only draws it."""
    items = MediaItem.objects.for_team(team).filter(
        run=run, key=key, type=MediaType.HISTOGRAM, parent__isnull=True, index=0
    )
    all_steps = list(items.order_by("step").values_list("step", flat=True))
    if len(all_steps) > max_steps:
        picks = np.unique(np.linspace(0, len(all_steps) - 1, max_steps).round().astype(int))
        chosen = [all_steps[i] for i in picks]
    else:
        chosen = all_steps
    found = {
        step: metadata
        for step, metadata in items.filter(step__in=chosen).values_list("step", "metadata")
    }
    series = []
    for step in chosen:
        metadata = found.get(step) or {}
        edges = np.asarray(metadata.get("bins") or [], dtype=float)
        values = np.asarray(metadata.get("values") or [], dtype=float)
        if len(edges) != len(values) + 1 or not len(values):
            continue
        good = np.isfinite(edges).all() and np.isfinite(values).all()
        if good and np.all(np.diff(edges) >= 0):
            series.append((step, edges, values))
    if not series:
        return Heatmap([], [], [], len(all_steps))
    low = min(float(e[0]) for _, e, _ in series)
    high = max(float(e[-1]) for _, e, _ in series)
    if high <= low:
        high = low + 1.0
    target = np.linspace(low, high, bins + 1)
    counts = []
    for _, edges, values in series:
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        if edges[-1] > edges[0]:
            row = np.diff(np.interp(target, edges, cumulative))
        else:  # every value at one point: the bin holding it ([low, high), last closed)
            row = np.zeros(bins)
            where = int(np.searchsorted(target, edges[0], side="right")) - 1
            row[min(max(where, 0), bins - 1)] = cumulative[-1]
        counts.append([round(float(c), 6) for c in row])
    return Heatmap([s for s, _, _ in series], [float(t) for t in target], counts, len(all_steps))


# --------------------------------------------------------------------------- presets


def presets_list(team) -> list[ChartPreset]:
    return list(ChartPreset.objects.for_team(team).select_related("created_by").order_by("name"))


def preset_get(team, preset_id: int) -> ChartPreset:
    preset = ChartPreset.objects.for_team(team).filter(pk=preset_id).first()
    if preset is None:
        raise NotFound("Chart preset not found.")
    return preset
