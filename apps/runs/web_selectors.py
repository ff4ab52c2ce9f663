"""Run reads that only the web pages need: one run's page (overview, config and summary
tables, the git diff, metric and system keys, files, the artifacts it logged and used,
the sweep it belongs to) and the comparison of several runs side by side.

Like apps/runs/selectors, the first argument is the team and every query goes through
`for_team`; these build on those selectors rather than repeat them. Links to other
projects (an artifact a run used from elsewhere) are offered only where the caller may
see that project; the rest is named without a link.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.core.access import may_act_on
from apps.core.jsonlimits import encodable
from apps.projects.selectors import projects_visible
from apps.registry import selectors as registry_selectors
from apps.runs.converters import RunUidConverter
from apps.runs.ingest import SYSTEM_PREFIX
from apps.runs.models import MetricKey, Run, RunFile
from apps.runs.selectors import runs as run_selectors
from apps.sweeps.models import SweepTrial
from apps.teams import roles

# The diff is rendered line by line; a larger one is cut and offered as a download.
DIFF_MAX_BYTES = 1024 * 1024
DIFF_MAX_LINES = 5000
DIFF_FILE = "diff.patch"
# Config and summary documents are flattened to dotted keys; deeper than this stays JSON.
FLATTEN_DEPTH = 6
MAX_COMPARED = 10
PICKER_RUNS = 100
RUN_UID = re.compile(RunUidConverter.regex)


# --------------------------------------------------------------------------- values


def value_text(value: Any) -> str:
    """How a config or summary value reads in a table cell: numbers as Python writes
    them (NaN and infinities by name), strings as they are, the rest as compact JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    # encodable: a value stored before the JSON limits may be nested past orjson's limit
    return orjson.dumps(encodable(value), option=orjson.OPT_SORT_KEYS).decode()


def flatten(document: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """A nested dict as {"optimizer.lr": 0.1, ...}; lists and empty dicts stay values.
    W&B-style config entries {"value": v, "desc": ...} read as their value."""
    if not isinstance(document, dict):
        return {prefix: document} if prefix else {}
    if prefix and set(document) <= {"value", "desc"} and "value" in document:
        return {prefix: document["value"]}
    if prefix and (not document or depth >= FLATTEN_DEPTH):
        return {prefix: document}
    out: dict[str, Any] = {}
    for key in sorted(document, key=str):
        name = f"{prefix}.{key}" if prefix else str(key)
        out.update(flatten(document[key], name, depth + 1))
    return out


@dataclass
class Row:
    key: str
    text: str
    numeric: bool = False
    # Summary rows of logged keys: count, min, max, mean as ingest keeps them.
    stats: dict | None = None
    full: str = ""  # the exact value where `text` shows it rounded


def _short(value) -> str:
    return "—" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def _rounded(text: str) -> str:
    """A summary float to 6 significant digits (0.0016666666666666668 -> 0.00166667)."""
    try:
        value = float(text)
    except ValueError:
        return text
    if "." not in text and "e" not in text:
        return text  # an integer
    return f"{value:.6g}"


def _rows(document: dict) -> list[Row]:
    return [
        Row(key, value_text(value), isinstance(value, int | float) and not isinstance(value, bool))
        for key, value in flatten(document).items()
    ]


# --------------------------------------------------------------------------- run page


@dataclass
class DiffLine:
    kind: str  # "file" | "hunk" | "add" | "del" | "ctx"
    text: str


@dataclass
class Diff:
    lines: list[DiffLine]
    files_changed: int
    additions: int
    deletions: int
    truncated: bool


def _diff_kind(line: str) -> str:
    if line.startswith(("diff --git", "index ", "--- ", "+++ ", "new file", "deleted file")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


def parse_diff(text: str) -> Diff:
    """A unified diff as classified lines (the template colours them; nothing of the
    diff is ever rendered as markup)."""
    all_lines = text.splitlines()
    lines = [DiffLine(_diff_kind(line), line) for line in all_lines[:DIFF_MAX_LINES]]
    counted = [_diff_kind(line) for line in all_lines]
    return Diff(
        lines=lines,
        files_changed=sum(1 for line in all_lines if line.startswith("diff --git")),
        additions=counted.count("add"),
        deletions=counted.count("del"),
        truncated=len(all_lines) > DIFF_MAX_LINES,
    )


def _diff_text(run: Run, files: list[RunFile]) -> tuple[str, bool]:
    """The run's uncommitted changes: the SDK sends small diffs with the run (git.diff)
    and saves every diff as the run file diff.patch. (text, cut short)."""
    inline = (run.git or {}).get("diff") if isinstance(run.git, dict) else None
    if isinstance(inline, str) and inline:
        return inline, False
    record = next((f for f in files if f.path == DIFF_FILE), None)
    if record is None:
        return "", False
    try:
        with default_storage.open(record.storage_name, "rb") as handle:
            data = handle.read(DIFF_MAX_BYTES + 1)
    except OSError:
        return "", False
    return data[:DIFF_MAX_BYTES].decode("utf-8", errors="replace"), len(data) > DIFF_MAX_BYTES


@dataclass
class FileEntry:
    path: str
    size: int
    content_type: str
    url: str  # the API download URL (session-authenticated in the browser)


def api_base(team, project) -> str:
    return f"/api/v1/teams/{team.slug}/projects/{project.name}"


def file_url(team, project, run: Run, path: str) -> str:
    return f"{api_base(team, project)}/runs/{run.uid}/files/{quote(path)}"


@dataclass
class ArtifactLink:
    label: str  # name:v3
    type: str
    project: str
    url: str | None  # None when the caller may not see the artifact's project


@dataclass
class RunPage:
    run: Run
    user: str | None
    command: str
    python: str
    host: str
    metadata: list[Row]
    git_commit: str
    git_remote: str
    git_branch: str
    diff: Diff | None
    diff_url: str
    config: list[Row]
    summary: list[Row]
    metrics: dict[str, dict]
    metric_keys: list[str]
    system_keys: list[str]
    files: list[FileEntry]
    logged: list[ArtifactLink]
    used: list[ArtifactLink]
    sweep: Any | None
    trial: SweepTrial | None
    can_edit: bool
    can_delete: bool


def run_rights(run: Run, actor, permissions: frozenset[str]) -> tuple[bool, bool]:
    """(may edit, may delete) by the run-ownership rule: admins (runs:write, runs:delete)
    change any run; members (runs:write_own, runs:delete_own) only the runs they created.
    This only decides which controls the page offers; the API enforces the rule on every
    write."""
    owner = run.created_by_id
    return (
        may_act_on(permissions, roles.RUNS_WRITE_OWN, owner_id=owner, actor=actor),
        may_act_on(permissions, roles.RUNS_DELETE_OWN, owner_id=owner, actor=actor),
    )


def _command(run: Run) -> str:
    args = run.args if isinstance(run.args, list) else []
    parts = [run.program, *(str(a) for a in args)] if run.program else []
    return " ".join(_shell_quote(p) for p in parts)


def _shell_quote(part: str) -> str:
    if part and all(c.isalnum() or c in "-_./=:,@+%" for c in part):
        return part
    return "'" + part.replace("'", "'\"'\"'") + "'"


def _artifact_links(versions, visible: set[int], team) -> list[ArtifactLink]:
    links = []
    for version in versions:
        artifact = version.artifact
        url = None
        if artifact.project_id in visible:
            url = reverse(
                "web:artifact-version-detail",
                kwargs={
                    "team": team.slug,
                    "project": artifact.project.name,
                    "name": artifact.name,
                    "ref": version.label,
                },
            )
        links.append(
            ArtifactLink(
                label=f"{artifact.name}:{version.label}",
                type=artifact.type,
                project=artifact.project.name,
                url=url,
            )
        )
    return links


def run_page(team, project, run: Run, *, membership, user, permissions) -> RunPage:
    """Everything the run page renders on the server (charts, console and file previews
    load from the API in the browser)."""
    files = run_selectors.run_files(team, run)
    diff_text, cut = _diff_text(run, files)
    diff = parse_diff(diff_text) if diff_text else None
    if diff is not None and cut:
        diff.truncated = True
    keys = list(
        MetricKey.objects.for_team(team)
        .filter(run=run)
        .order_by("name")
        .values_list("name", flat=True)
    )
    artifacts = registry_selectors.run_artifacts(team, run)
    visible = set(
        projects_visible(team, membership=membership, user=user).values_list("pk", flat=True)
    )
    trial = (
        SweepTrial.objects.for_team(team)
        .filter(project=project, run_uid=run.uid)
        .select_related("sweep")
        .first()
    )
    metadata = run.metadata if isinstance(run.metadata, dict) else {}
    git = run.git if isinstance(run.git, dict) else {}
    can_edit, can_delete = run_rights(run, user, permissions)
    metrics = run_selectors.run_metric_stats(team, run)
    summary = _rows(run.summary if isinstance(run.summary, dict) else {})
    for row in summary:
        rounded = _rounded(row.text)
        if rounded != row.text:
            row.text, row.full = rounded, row.text
        stats = metrics.get(row.key)
        if stats:
            row.stats = {
                "min": _short(stats["min"]),
                "max": _short(stats["max"]),
                "count": stats["count"],
            }
    created_by = run.created_by if run.created_by_id else None
    return RunPage(
        run=run,
        user=created_by.email if created_by else None,
        command=_command(run),
        python=" ".join(
            str(v) for v in (metadata.get("python_implementation"), metadata.get("python")) if v
        ),
        host=run.host or str(metadata.get("host") or ""),
        metadata=_rows(
            {k: v for k, v in metadata.items() if k not in ("python", "python_implementation")}
        ),
        git_commit=str(git.get("commit") or ""),
        git_remote=str(git.get("remote") or ""),
        git_branch=str(git.get("branch") or ""),
        diff=diff,
        diff_url=file_url(team, project, run, DIFF_FILE),
        config=_rows(run.config if isinstance(run.config, dict) else {}),
        summary=summary,
        metrics=metrics,
        metric_keys=[k for k in keys if not k.startswith(SYSTEM_PREFIX)],
        system_keys=[k for k in keys if k.startswith(SYSTEM_PREFIX)],
        files=[
            FileEntry(f.path, f.size, f.content_type, file_url(team, project, run, f.path))
            for f in files
        ],
        logged=_artifact_links(artifacts["logged"], visible, team),
        used=_artifact_links(artifacts["used"], visible, team),
        sweep=trial.sweep if trial else None,
        trial=trial,
        can_edit=can_edit,
        can_delete=can_delete,
    )


# --------------------------------------------------------------------------- compare


@dataclass
class Cell:
    text: str  # floats to 6 significant digits
    full: str  # the exact value (shown on hover where it differs from `text`)


@dataclass
class CompareRow:
    key: str
    cells: list[Cell | None]  # one per run; None where the run lacks the key
    differs: bool  # judged on the exact values


@dataclass
class Comparison:
    runs: list[Run]
    missing: list[str]  # requested ids with no run in the project
    config: list[CompareRow]
    summary: list[CompareRow]
    metric_keys: list[str]

    @property
    def config_differences(self) -> int:
        return sum(1 for row in self.config if row.differs)


def _compare_rows(documents: list[dict]) -> list[CompareRow]:
    flat = [flatten(d if isinstance(d, dict) else {}) for d in documents]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        exact = [value_text(f[key]) if key in f else None for f in flat]
        cells = [None if text is None else Cell(_rounded(text), text) for text in exact]
        rows.append(CompareRow(key, cells, differs=len(set(exact)) > 1))
    return rows


def compare_runs(team, project, uids: list[str]) -> Comparison:
    """The runs named by `uids` (in that order, at most MAX_COMPARED) side by side:
    config and summary by dotted key, each row marked where the runs differ, and the
    metric keys any of them logged (system keys excluded) for overlaid charts."""
    uids = uids[:MAX_COMPARED]
    # An id no run can have (NUL, capitals …) is reported missing without a query.
    valid = [uid for uid in uids if RUN_UID.fullmatch(uid)]
    found = {run.uid: run for run in run_selectors.runs_get_many(team, project, valid)}
    runs = [found[uid] for uid in uids if uid in found]
    keys = (
        MetricKey.objects.for_team(team)
        .filter(run__in=[run.pk for run in runs])
        .exclude(name__startswith=SYSTEM_PREFIX)
        .values_list("name", flat=True)
        .distinct()
    )
    return Comparison(
        runs=runs,
        missing=[uid for uid in uids if uid not in found],
        config=_compare_rows([run.config for run in runs]),
        summary=_compare_rows([run.summary for run in runs]),
        metric_keys=sorted(keys),
    )


def compare_candidates(team, project) -> list[Run]:
    """The project's newest runs, offered by the compare page's run picker."""
    return run_selectors.runs_query(team, project, order="-created_at", page_size=PICKER_RUNS).runs
