"""Registering logged media: the SDK uploads each media file as a run file, then posts
the items naming them (POST …/runs/<run>/media). Each item is validated by content
(apps.media.validation) in a savepoint of its own, so one bad item is refused with a
clear error and the others — and everything else of the run — are kept. Re-sent items
(the same run, key, step and index) are counted as duplicates and left as they are."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.core import jsonlimits
from apps.core.errors import Conflict, DomainError, field_error
from apps.media import validation
from apps.media.models import ChartPreset, MediaItem, MediaType, TableRow
from apps.projects.services import validate_view_spec
from apps.runs.models import Run, RunFile

MAX_ITEMS = 1000
MAX_KEY = 255
MAX_STEP = 2**53
MAX_BINS = 512
MAX_COLUMNS = 1000
COPY_CHUNK = 5000  # rows held at once while a table is ingested
ANALYZE_ROWS = 10_000
COPY_ROWS = """COPY media_tablerow (team_id, table_id, row_index, cells) FROM STDIN"""
TYPE_OF = {
    "image-file": MediaType.IMAGE,
    "audio-file": MediaType.AUDIO,
    "video-file": MediaType.VIDEO,
    "html-file": MediaType.HTML,
    "object3D-file": MediaType.OBJECT3D,
    "plotly-file": MediaType.PLOTLY,
    "histogram": MediaType.HISTOGRAM,
    "table-file": MediaType.TABLE,
    "custom-chart": MediaType.CHART,
}
TABLE_TYPES = {MediaType.TABLE, MediaType.CHART}
# Descriptor fields that become columns of the item; the rest is its metadata.
_OWN = {"key", "step", "index", "wall_time", "_type", "path", "sha256", "size", "format"}


@dataclass
class Registered:
    accepted: int = 0
    duplicates: int = 0
    errors: list = field(default_factory=list)

    def body(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": len(self.errors),
            "errors": self.errors,
        }


def media_register(*, run: Run, body: Any) -> Registered:
    """Add the body's items to the run's media index (see the module doc)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise field_error("items must be a list of media items.", "items")
    if len(items) > MAX_ITEMS:
        raise field_error(f"At most {MAX_ITEMS} items per request.", "items")
    result = Registered()
    paths = [i.get("path") for i in items if isinstance(i, dict) and isinstance(i.get("path"), str)]
    files = {f.path: f for f in RunFile.objects.for_team(run.team).filter(run=run, path__in=paths)}
    for position, raw in enumerate(items):
        try:
            with transaction.atomic():
                if _register_one(run, raw, position, files):
                    result.accepted += 1
                else:
                    result.duplicates += 1
        except DomainError as exc:
            raw = raw if isinstance(raw, dict) else {}
            result.errors.append(
                {
                    "index": position,
                    "key": raw.get("key"),
                    "step": raw.get("step"),
                    "code": exc.code,
                    "message": exc.message,
                    "detail": exc.detail,
                }
            )
    return result


def _int(raw: dict, name: str, position: int, low: int, high: int, default=None) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise field_error(
            f"{name} must be an integer from {low} to {high}.", f"items[{position}].{name}"
        )
    return value


def _register_one(run: Run, raw: Any, position: int, files: dict) -> bool:
    where = f"items[{position}]"
    if not isinstance(raw, dict):
        raise field_error("Each media item must be an object.", where)
    key = raw.get("key")
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or "\x00" in key:
        raise field_error(f"key must be a string of 1 to {MAX_KEY} characters.", f"{where}.key")
    step = _int(raw, "step", position, 0, MAX_STEP)
    index = _int(raw, "index", position, 0, 1_000_000, default=0)
    media_type = TYPE_OF.get(raw.get("_type"))
    if media_type is None:
        raise field_error(f"_type must be one of {sorted(TYPE_OF)}.", f"{where}._type")
    wall_time = raw.get("wall_time")
    if (
        not isinstance(wall_time, (int, float))
        or isinstance(wall_time, bool)
        or not math.isfinite(wall_time)
    ):
        wall_time = None
    if (
        MediaItem.objects.for_team(run.team)
        .filter(run=run, key=key, step=step, index=index)
        .exists()
    ):
        return False
    metadata = {k: v for k, v in raw.items() if k not in _OWN}
    jsonlimits.check(metadata, where)
    item = MediaItem(
        team_id=run.team_id,
        run=run,
        key=key,
        step=step,
        index=index,
        type=media_type,
        wall_time=wall_time,
        metadata=metadata,
    )
    if media_type == MediaType.HISTOGRAM:
        _check_histogram(metadata, where)
        item.save()
        return True
    record = _run_file(files, run, raw, where)
    item.file, item.sha256, item.size = record, record.sha256, record.size
    if media_type in TABLE_TYPES:
        item.format, item.content_type = "jsonl", "application/x-ndjson"
        item.save()
        columns, nrows = _ingest_table(item, record)
        item.metadata = {**metadata, "columns": columns, "nrows": nrows, "ncols": len(columns)}
        item.save(update_fields=["metadata"])
        return True
    checked = validation.check_file(media_type, record.storage_name, record.path)
    item.format, item.content_type = checked.format, checked.content_type
    item.metadata = {**metadata, **checked.extra}
    if media_type == MediaType.IMAGE and isinstance(metadata.get("masks"), dict):
        item.metadata["masks"] = _check_masks(run, metadata["masks"], where)
    item.save()
    return True


def _run_file(files: dict, run: Run, raw: dict, where: str) -> RunFile:
    path = raw.get("path")
    if not isinstance(path, str):
        raise field_error("path must name the run file that holds the media.", f"{where}.path")
    record = files.get(path)
    if record is None:
        record = RunFile.objects.for_team(run.team).filter(run=run, path=path).first()
    if record is None:
        raise DomainError(
            f"The run has no file {path!r}; upload it (PUT …/files/{path}) first.",
            code="file_missing",
            detail={"field": f"{where}.path"},
        )
    sha256 = raw.get("sha256")
    if sha256 is not None and sha256 != record.sha256:
        raise DomainError(
            f"The run file {path!r} does not have the sha256 the item names.",
            code="file_mismatch",
            detail={"field": f"{where}.sha256"},
        )
    return record


def _check_histogram(metadata: dict, where: str) -> None:
    bins, values = metadata.get("bins"), metadata.get("values")
    numbers = (int, float)
    ok = (
        isinstance(bins, list)
        and isinstance(values, list)
        and 1 <= len(values) <= MAX_BINS
        and len(bins) == len(values) + 1
        and all(isinstance(v, numbers) and not isinstance(v, bool) for v in bins + values)
    )
    if not ok:
        raise field_error(
            f"A histogram needs values (1 to {MAX_BINS} numbers) and bins (one more).",
            f"{where}.bins",
        )


def _check_masks(run: Run, masks: dict, where: str) -> dict:
    out = {}
    for name, mask in masks.items():
        if not isinstance(mask, dict):
            raise field_error("Each mask must be an object with a path.", f"{where}.masks")
        record = _run_file({}, run, mask, f"{where}.masks.{name}")
        checked = validation.check_file(MediaType.IMAGE, record.storage_name, record.path)
        if checked.format != "png":
            raise validation.invalid(f"mask {name!r} must be a PNG image.")
        out[str(name)] = {**mask, **checked.extra, "sha256": record.sha256}
    return out


# --------------------------------------------------------------------------- tables


def _table_error(path: str, message: str) -> DomainError:
    return DomainError(f"Table {path}: {message}", code="invalid_table")


def _ingest_table(item: MediaItem, record: RunFile) -> tuple[list[str], int]:
    """Stream the table file (a header line, then one JSON array per row) into TableRow
    rows with COPY; never holds more than one row. Media cells are registered as items
    (parent = the table) and gain their `media_id`."""
    path = record.path
    limit = settings.MEDIA_MAX_TABLE_ROWS
    children_key = f"{item.key}#{item.index}"
    with default_storage.open(record.storage_name, "rb") as fh:
        lines = iter(fh)
        header = _json_line(next(lines, b""), path, "the header line")
        columns = header.get("columns") if isinstance(header, dict) else None
        if (
            not isinstance(columns, list)
            or not all(isinstance(c, str) and "\x00" not in c for c in columns)
            or len(columns) > MAX_COLUMNS
            or len(set(columns)) != len(columns)
        ):
            raise _table_error(
                path, f"the header needs columns: up to {MAX_COLUMNS} distinct names."
            )
        width = len(columns)
        count = 0
        chunk: list[tuple] = []
        try:
            with connection.cursor() as cursor:
                for line in lines:
                    line = line.strip()
                    if not line:
                        continue
                    if count >= limit:
                        raise _table_error(path, f"a table has at most {limit} rows.")
                    if b"\\u0000" in line:
                        raise _table_error(path, f"row {count} holds a NUL character.")
                    row = _json_line(line, path, f"row {count}")
                    if not isinstance(row, list) or len(row) != width:
                        raise _table_error(path, f"row {count} must be a list of {width} values.")
                    if any(isinstance(cell, dict) for cell in row):
                        # Registered before the chunk's COPY: no query may run during one.
                        line = orjson.dumps(_media_cells(item, children_key, row, count))
                    chunk.append((item.team_id, item.pk, count, line.decode()))
                    count += 1
                    if len(chunk) >= COPY_CHUNK:
                        _copy_rows(cursor, chunk)
                _copy_rows(cursor, chunk)
                if count >= ANALYZE_ROWS:
                    # Fresh statistics, so the first page is read through the primary key
                    # at once instead of after autovacuum gets round to the table.
                    cursor.execute(f"ANALYZE {TableRow._meta.db_table}")
        except DatabaseError as exc:
            raise _table_error(path, f"its rows could not be stored ({exc}).") from None
    return columns, count


def _copy_rows(cursor, chunk: list[tuple]) -> None:
    if chunk:
        with cursor.copy(COPY_ROWS) as copy:
            for row in chunk:
                copy.write_row(row)
        chunk.clear()


def _json_line(line: bytes, path: str, what: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        raise _table_error(path, f"{what} is not valid JSON.") from None


def _media_cells(table: MediaItem, key: str, row: list, row_index: int) -> list:
    run = table.run
    for col, cell in enumerate(row):
        if not isinstance(cell, dict) or cell.get("_type") not in TYPE_OF:
            continue
        if TYPE_OF[cell["_type"]] in TABLE_TYPES | {MediaType.HISTOGRAM}:
            continue
        record = _run_file({}, run, cell, f"row {row_index} column {col}")
        media_type = TYPE_OF[cell["_type"]]
        checked = validation.check_file(media_type, record.storage_name, record.path)
        child = MediaItem.objects.for_team(run.team).filter(
            run=run, key=key, step=table.step, index=row_index * len(row) + col
        ).first() or MediaItem(
            team_id=run.team_id,
            run=run,
            key=key,
            step=table.step,
            index=row_index * len(row) + col,
            type=media_type,
            parent=table,
            file=record,
            sha256=record.sha256,
            size=record.size,
            format=checked.format,
            content_type=checked.content_type,
            metadata={k: v for k, v in cell.items() if k not in _OWN} | checked.extra,
        )
        if child.pk is None:
            child.save()
        row[col] = {**cell, "media_id": child.pk}
    return row


# --------------------------------------------------------------------------- chart presets

PRESET_NAME_MAX = 128
VEGA_LITE_VIEWS = ("mark", "layer", "concat", "hconcat", "vconcat", "facet", "repeat")


def _preset_fields(data: Any, *, partial: bool) -> dict:
    if not isinstance(data, dict):
        raise field_error("The body must be a JSON object.", "body")
    extra = sorted(set(data) - {"name", "spec"})
    if extra:
        raise field_error(f"Unknown fields {extra}.", extra[0])
    out: dict = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > PRESET_NAME_MAX:
            raise field_error(f"name must be 1-{PRESET_NAME_MAX} characters.", "name")
        if "\x00" in name:
            raise field_error("name must not contain NUL characters.", "name")
        out["name"] = name.strip()
    if "spec" in data or not partial:
        # The same shape and size rules as a saved workspace view's document.
        spec = validate_view_spec(data.get("spec"))
        if not any(part in spec for part in VEGA_LITE_VIEWS):
            raise field_error(
                f"spec must be a Vega-Lite spec (with one of {list(VEGA_LITE_VIEWS)}).", "spec"
            )
        out["spec"] = spec
    return out


def _save_preset(preset: ChartPreset) -> ChartPreset:
    try:
        with transaction.atomic():
            preset.save()
    except IntegrityError as exc:
        raise Conflict(
            f"A chart preset named {preset.name!r} already exists in this team.",
            code="preset_exists",
            detail={"field": "name"},
        ) from exc
    return preset


def preset_create(*, team, actor, data: Any) -> ChartPreset:
    """A team's new named custom chart (a Vega-Lite spec over data named "table")."""
    fields = _preset_fields(data, partial=False)
    preset = ChartPreset(
        team=team,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        **fields,
    )
    return _save_preset(preset)


def preset_update(*, preset: ChartPreset, data: Any) -> ChartPreset:
    for name, value in _preset_fields(data, partial=True).items():
        setattr(preset, name, value)
    return _save_preset(preset)


def preset_delete(*, preset: ChartPreset) -> None:
    ChartPreset.objects.for_team(preset.team).filter(pk=preset.pk).delete()
