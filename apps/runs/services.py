"""Run writes: create / resume, update, heartbeat, finish, delete, crash marking, ingest,
files. Every function receives objects already resolved inside the caller's team scope.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.automations import hooks as automation_hooks
from apps.comments.cleanup import comments_remove
from apps.core import jsonlimits
from apps.core.access import require_owner_or
from apps.core.errors import Conflict, NotFound, field_error
from apps.core.storage import delete_stored, delete_stored_on_commit, spooled_upload
from apps.projects import services as project_services
from apps.realtime import events, groups
from apps.runs import ingest
from apps.runs.models import MetricKey, Run, RunFile, RunState
from apps.teams import roles

UID_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_TAGS = 100
MAX_TAG_LENGTH = 64
RESUME_MODES = ("allow", "must", "never", None)
UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Run names are <adjective>-<noun>-<number>, as in W&B.
_ADJECTIVE_WORDS = (
    "amber autumn bold brisk calm cosmic crisp dainty dapper eager fancy fluent "
    "gentle golden hardy icy jolly keen lively lucid mellow misty noble polar proud "
    "quiet rapid royal rustic silent sleek snowy solar spry stellar sunny swift tidy "
    "vivid wild witty"
)
_NOUN_WORDS = (
    "aurora bird brook cloud comet dawn dew dream dust field fire flower forest frost "
    "glade grass haze hill lake leaf meadow moon morning mountain night ocean paper "
    "pine planet pond rain resonance river sea shadow sky smoke snow sound star sun "
    "surf thunder tree violet voice water wave wind wood"
)
_ADJECTIVES = _ADJECTIVE_WORDS.split()
_NOUNS = _NOUN_WORDS.split()


def _str(data: dict, field: str, max_length: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise field_error(f"{field} must be a string of at most {max_length} characters.", field)
    jsonlimits.check(value, field)
    return value


def _dict(data: dict, field: str) -> dict | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise field_error(f"{field} must be a JSON object.", field)
    jsonlimits.check(value, field)
    return value


def _tags(data: dict) -> list[str] | None:
    value = data.get("tags")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in value)
    ):
        raise field_error(
            f"tags must be a list of at most {MAX_TAGS} strings of 1-{MAX_TAG_LENGTH} characters.",
            "tags",
        )
    jsonlimits.check(value, "tags")
    return list(dict.fromkeys(value))


def _generated_uid() -> str:
    return "".join(secrets.choice(UID_ALPHABET) for _ in range(8))


def _generated_name(team, project) -> str:
    number = Run.objects.for_team(team).filter(project=project).count() + 1
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{number}"


def high_water(run: Run) -> dict[str, int]:
    """The last stored step of every key of the run (what a resumed client continues from)."""
    rows = MetricKey.objects.for_team(run.team).filter(run=run, max_step__isnull=False)
    return dict(rows.values_list("name", "max_step"))


def run_create_or_resume(
    *,
    team,
    project,
    project_name: str,
    actor,
    data: dict,
    permissions: frozenset[str] = frozenset(),
):
    """POST /runs: create a run, or resume the one with the given id.

    Returns (run, created, project). The project is created on first use (W&B behaviour)
    when the caller may create projects; `project` is None in that case. Resuming is a
    write to an existing run: the ownership rule applies (the caller's own run, or any
    with runs:write in `permissions`; the default reaches only the caller's own runs).
    """
    resume = data.get("resume")
    if resume is True:  # wandb.init(resume=True) means "allow"
        resume = "allow"
    if resume not in RESUME_MODES:
        raise field_error("resume must be 'allow', 'must', 'never' or null.", "resume")
    uid = data.get("id")
    if uid is not None and (not isinstance(uid, str) or not UID_RE.match(uid)):
        raise field_error("id must be 1-64 characters from a-z, 0-9, '_' and '-'.", "id")
    fields = _create_fields(data)

    if project is None:
        project = project_services.project_get_or_create(team=team, name=project_name, actor=actor)
    if uid is not None:
        existing = Run.objects.for_team(team).filter(project=project, uid=uid).first()
        if existing is not None:
            return _resume(existing, resume, fields, actor, permissions), False, project
        if resume == "must":
            raise NotFound(f"Run {uid!r} does not exist, and resume='must' was requested.")
    else:
        if resume == "must":
            raise field_error("resume='must' needs the id of the run to resume.", "id")
        uid = _generated_uid()
    try:
        with transaction.atomic():
            run = Run.objects.for_team(team).create(
                team=team,
                project=project,
                uid=uid,
                name=fields.pop("name", None) or _generated_name(team, project),
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
                **fields,
            )
        _publish_run(run, "created", **_run_fields(run))
    except IntegrityError:
        # Another request created the same id a moment ago.
        existing = Run.objects.for_team(team).filter(project=project, uid=uid).first()
        if existing is None:
            raise
        return _resume(existing, resume, fields, actor, permissions), False, project
    return run, True, project


def _create_fields(data: dict) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, limit in (("name", 128), ("group", 128), ("job_type", 64), ("host", 255)):
        value = _str(data, name, limit)
        if value is not None:
            fields[name] = value
    for name in ("notes", "program"):
        value = _str(data, name, 1_000_000 if name == "notes" else 512)
        if value is not None:
            fields[name] = value
    for name in ("config", "git", "metadata"):
        value = _dict(data, name)
        if value is not None:
            fields[name] = value
    args = data.get("args")
    if args is not None:
        if not isinstance(args, list):
            raise field_error("args must be a list.", "args")
        jsonlimits.check(args, "args")
        fields["args"] = args
    tags = _tags(data)
    if tags is not None:
        fields["tags"] = tags
    return fields


def _resume(run: Run, resume: str | None, fields: dict, actor, permissions) -> Run:
    if resume in (None, "never"):
        raise Conflict(
            f"Run {run.uid!r} already exists; pass resume='allow' to continue it.",
            code="run_exists",
            detail={"field": "id"},
        )
    run_require_writable(run, actor=actor, permissions=permissions)
    with transaction.atomic():
        run = Run.objects.for_team(run.team).select_for_update(no_key=True).get(pk=run.pk)
        now = timezone.now()
        run.state = RunState.RUNNING
        run.heartbeat_at = now
        run.updated_at = now
        run.finished_at = None
        run.exit_code = None
        if "config" in fields:
            run.config = {**run.config, **fields.pop("config")}
        if "tags" in fields:
            run.tags = list(dict.fromkeys([*run.tags, *fields.pop("tags")]))
        for name in ("git", "metadata", "host", "program", "args", "group", "job_type"):
            if name in fields:
                setattr(run, name, fields[name])
        run.save()
    _publish_state(run)
    return run


@transaction.atomic
def run_update(*, run: Run, data: dict) -> Run:
    """PATCH: name, notes, group, job_type, tags (replace), config (merge), summary
    (user values override the logged ones; null removes an override)."""
    run = Run.objects.for_team(run.team).select_for_update(no_key=True).get(pk=run.pk)
    for name, limit in (("name", 128), ("notes", 1_000_000), ("group", 128), ("job_type", 64)):
        value = _str(data, name, limit)
        if value is not None:
            setattr(run, name, value)
    tags = _tags(data)
    if tags is not None:
        run.tags = tags
    config = _dict(data, "config")
    if config is not None:
        run.config = {**run.config, **config}
    summary = _dict(data, "summary")
    if summary is not None:
        overrides = dict(run.summary_overrides)
        effective = dict(run.summary)
        removed = [key for key, value in summary.items() if value is None]
        for key in removed:
            overrides.pop(key, None)
            effective.pop(key, None)
        logged = (
            MetricKey.objects.for_team(run.team)
            .filter(run=run, name__in=removed, max_step__isnull=False)
            .values_list("name", "last", "integral")
        )
        for key, last, integral in logged:
            effective[key] = ingest.json_number(last, integral)
        for key, value in summary.items():
            if value is not None:
                overrides[key] = value
                effective[key] = value
        run.summary_overrides = overrides
        run.summary = effective
    run.updated_at = timezone.now()
    run.save()
    _publish_run(run, "updated", **_run_fields(run), summary=run.summary)
    return run


def run_heartbeat(*, run: Run) -> Run:
    """One UPDATE in the common case; a crashed run that beats again is running again."""
    now = timezone.now()
    rows = Run.objects.for_team(run.team).filter(pk=run.pk)
    revived = rows.filter(state=RunState.CRASHED).update(state=RunState.RUNNING, heartbeat_at=now)
    if revived:
        run.state = RunState.RUNNING
        _publish_state(run)
    else:
        rows.update(heartbeat_at=now)
    run.heartbeat_at = now
    if not revived:
        _publish_run(run, "heartbeat", state=run.state, **_times(run))
    return run


def run_finish(*, run: Run, data: dict) -> Run:
    exit_code = data.get("exit_code")
    if exit_code is not None and (
        type(exit_code) is not int or not -(2**31) <= exit_code <= 2**31 - 1  # an integer column
    ):
        raise field_error("exit_code must be a 32-bit integer or null.", "exit_code")
    state = data.get("state")
    if state not in (None, RunState.FINISHED, RunState.FAILED):
        raise field_error("state must be 'finished', 'failed' or null.", "state")
    if state is None:
        state = RunState.FAILED if exit_code not in (None, 0) else RunState.FINISHED
    with transaction.atomic():
        run = Run.objects.for_team(run.team).select_for_update(no_key=True).get(pk=run.pk)
        now = timezone.now()
        run.state = state
        run.exit_code = exit_code
        run.finished_at = now
        run.heartbeat_at = now
        run.updated_at = now
        run.save()
    _publish_state(run)
    return run


def run_require_writable(run: Run, *, actor, permissions: frozenset[str]) -> None:
    """The run-ownership rule for writes the API does not address by URL (resume by id,
    a run named in a body): `actor`'s own run, or any run with runs:write (admins).
    PermissionDenied (403) otherwise. Routes addressing the run in their URL get the same
    rule from their policy entry (apps.core.access.Scope.require_owner)."""
    require_owner_or(
        permissions, roles.RUNS_WRITE, owner_id=run.created_by_id, actor=actor, what="run"
    )


def run_delete(*, run: Run, actor, permissions: frozenset[str]) -> None:
    """Admins (runs:delete) delete any run; members (runs:delete_own) only their own."""
    require_owner_or(
        permissions, roles.RUNS_DELETE, owner_id=run.created_by_id, actor=actor, what="run"
    )
    blobs = list(
        RunFile.objects.for_team(run.team).filter(run=run).values_list("storage_name", flat=True)
    )
    with transaction.atomic():
        # The statement trigger on runs_run deletes the run's points and rollups.
        Run.objects.for_team(run.team).filter(pk=run.pk).delete()
        comments_remove(run.team, "run", [run.pk])
        delete_stored_on_commit(blobs)


def runs_mark_crashed(*, team, timeout_s: float) -> list[int]:
    """Running runs of `team` without a heartbeat for `timeout_s` become crashed.
    Idempotent: a second call finds nothing more to mark."""
    cutoff = timezone.now() - timedelta(seconds=timeout_s)
    with transaction.atomic():
        stale = list(
            Run.objects.for_team(team)
            .select_for_update(no_key=True, skip_locked=True)
            .filter(state=RunState.RUNNING, heartbeat_at__lt=cutoff)
        )
        if not stale:
            return []
        now = timezone.now()
        Run.objects.for_team(team).filter(pk__in=[r.pk for r in stale]).update(
            state=RunState.CRASHED, updated_at=now
        )
        for run in stale:
            run.state = RunState.CRASHED
            _publish_state(run)
    return [run.pk for run in stale]


def _publish_run(run: Run, kind: str, **fields) -> None:
    """A live event about `run` to its own group and its project's, after commit."""
    events.publish_on_commit(
        [groups.run_group(run.team_id, run.pk), groups.project_group(run.team_id, run.project_id)],
        {"type": kind, "run": run.uid, **fields},
    )


def _times(run: Run) -> dict:
    """Unix seconds, and runtime as the runs table shows it (to finish or last heartbeat)."""
    end = run.finished_at or run.heartbeat_at
    return {
        "heartbeat_at": run.heartbeat_at.timestamp(),
        "finished_at": run.finished_at.timestamp() if run.finished_at else None,
        "runtime": max(0.0, (end - run.created_at).total_seconds()),
    }


def _run_fields(run: Run) -> dict:
    """What a runs-table row shows of a new or edited run (config and summary excepted)."""
    return {
        "name": run.name,
        "state": run.state,
        "created_at": run.created_at.timestamp(),
        "group": run.group,
        "job_type": run.job_type,
        "tags": list(run.tags),
        **_times(run),
    }


def _publish_state(run: Run) -> None:
    _publish_run(run, "state", state=run.state, exit_code=run.exit_code, **_times(run))
    automation_hooks.run_state_changed(run)  # failed/crashed notices, automations (after commit)


def run_ingest(
    *, run: Run, body: dict | None = None, batch: ingest.Batch | None = None
) -> ingest.IngestResult:
    """Store one ingest batch — a JSON body, or a Batch already decoded and validated
    (ingest.decode_request) — then publish a compact live event."""
    if batch is None:
        batch = ingest.validate(body or {})
    result = ingest.write_batch(run, batch)
    automation_hooks.run_ingested(run, result.accepted)  # metric automations, where rules exist
    if result.accepted or result.console_accepted or result.summary or batch.heartbeat:
        events.publish_on_commit(
            [
                groups.run_group(run.team_id, run.pk),
                groups.project_group(run.team_id, run.project_id),
            ],
            {
                "type": "ingest",
                "run": run.uid,
                "state": result.state,
                "accepted": result.accepted,
                "console": result.console_accepted,
                "steps": result.steps,
                "summary": result.summary,
            },
        )
    return result


# --------------------------------------------------------------------------- files

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_FILE_PATH = 512


def clean_file_path(path: Any) -> str:
    """A run file name: relative, '/'-separated, no '.', '..' or empty segments, no
    backslashes, drive letters or control characters. It is only ever a label: blobs are
    stored under server-chosen names."""
    if not isinstance(path, str) or not path or len(path) > MAX_FILE_PATH:
        raise field_error(f"File path must be 1-{MAX_FILE_PATH} characters.", "path")
    if path.startswith("/") or _DRIVE.match(path):
        raise field_error("File path must be relative.", "path")
    if "\\" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise field_error("File path must not contain backslashes or control characters.", "path")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise field_error("File path must not contain '.', '..' or empty segments.", "path")
    return path


def run_file_put(
    *, run: Run, path: str, stream: BinaryIO | None, content_type: str = ""
) -> RunFile:
    """Store (or replace) a run file from a stream, hashing it on the way."""
    path = clean_file_path(path)
    with spooled_upload(stream, settings.RUN_FILE_MAX_BYTES) as upload:
        name = f"runs/{run.team_id}/{run.pk}/{uuid.uuid4().hex}"
        stored = default_storage.save(name, File(upload.spool, name=name))
    size, sha256 = upload.size, upload.sha256
    try:
        for attempt in range(2):
            try:
                return _run_file_record(run, path, stored, size, sha256, content_type)
            except IntegrityError:
                if attempt:  # a concurrent upload created the row; the retry replaces it
                    raise
    except Exception:
        delete_stored([stored])
        raise
    raise RuntimeError("unreachable")  # pragma: no cover


@transaction.atomic
def _run_file_record(run, path, stored, size, sha256, content_type) -> RunFile:
    now = timezone.now()
    previous = (
        RunFile.objects.for_team(run.team).select_for_update().filter(run=run, path=path).first()
    )
    old_blob = previous.storage_name if previous else None
    record = previous or RunFile(team_id=run.team_id, run=run, path=path, created_at=now)
    record.storage_name = stored
    record.size = size
    record.sha256 = sha256
    record.content_type = (content_type or "")[:255]
    record.updated_at = now
    record.save()
    if old_blob:
        delete_stored_on_commit([old_blob])
    return record


def run_file_delete(*, run: Run, path: str) -> None:
    record = RunFile.objects.for_team(run.team).filter(run=run, path=path).first()
    if record is None:
        raise NotFound("No such file.")
    with transaction.atomic():
        record.delete()
        delete_stored_on_commit([record.storage_name])
