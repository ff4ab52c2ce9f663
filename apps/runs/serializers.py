"""JSON shapes of runs, files and console lines (plain functions, no per-row DRF work)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.runs.models import ConsoleLine, Run, RunFile

# What the runs list returns when no `columns` are asked for (git, metadata and args can
# be large and are on the run detail instead).
LIST_FIELDS = (
    "id", "name", "state", "user", "created_at", "updated_at", "heartbeat_at", "finished_at",
    "exit_code", "runtime", "tags", "notes", "group", "job_type", "host", "config", "summary",
)  # fmt: skip
DETAIL_FIELDS = (*LIST_FIELDS, "url", "project", "program", "args", "git", "metadata")


def _time(value) -> str | None:
    return value.isoformat() if value else None


def run_url(run: Run) -> str:
    return f"{settings.PUBLIC_BASE_URL}/{run.team.slug}/{run.project.name}/runs/{run.uid}"


def _field(run: Run, name: str) -> Any:
    if name == "id":
        return run.uid
    if name == "user":
        user = run.created_by if run.created_by_id else None
        return user.email if user else None
    if name == "runtime":
        end = run.finished_at or run.heartbeat_at
        return max(0.0, (end - run.created_at).total_seconds())
    if name == "url":
        return run_url(run)
    if name == "project":
        return run.project.name
    value = getattr(run, name)
    if name.endswith("_at"):
        return _time(value)
    return value


def _pick(document: dict, path: str) -> tuple[bool, Any]:
    if path in document:
        return True, document[path]
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def run_out(run: Run, columns: list[str] | None = None, *, detail: bool = False) -> dict:
    """A run as JSON. `columns` selects fields: top-level names, or config.<path> /
    summary.<path> for single values (returned nested under config / summary)."""
    if not columns:
        return {name: _field(run, name) for name in (DETAIL_FIELDS if detail else LIST_FIELDS)}
    out: dict[str, Any] = {"id": run.uid}
    for column in columns:
        root, _, rest = column.partition(".")
        root = "summary" if root == "summary_metrics" else root
        if rest and root in ("config", "summary"):
            present, value = _pick(getattr(run, root), rest)
            if present:
                out.setdefault(root, {})[rest] = value
            else:
                out.setdefault(root, {})
        elif column in DETAIL_FIELDS:
            out[column] = _field(run, column)
    return out


def valid_columns(columns: list[str]) -> list[str]:
    unknown = [
        c
        for c in columns
        if c not in DETAIL_FIELDS
        and not (c.partition(".")[0] in ("config", "summary", "summary_metrics") and "." in c)
    ]
    return unknown


def file_out(record: RunFile) -> dict:
    return {
        "path": record.path,
        "size": record.size,
        "sha256": record.sha256,
        "content_type": record.content_type,
        "updated_at": _time(record.updated_at),
    }


def console_out(line: ConsoleLine) -> dict:
    return {"line": line.line, "stream": line.stream, "time": line.wall_time, "text": line.text}
