"""`gradline sync`: upload run directories (offline runs, or runs whose upload did not
finish) from their WALs.

- Idempotent: the server stores every (key, step) and console line once, and the
  acknowledged offset in upload.json skips what is known to be there already.
- A WAL whose tail was cut by a crash gives up every complete record; damaged records
  in the middle are skipped and reported (the reader resynchronises on the next frame).
- Each directory is synced on its own: one failing (corrupt, refused, unreachable) does
  not stop the others.
- A directory locked by a live process is skipped.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Callable

from gradline.artifact_upload import has_unfinished, sync_records
from gradline.settings import DEFAULT_BASE_URL, Settings
from gradline.transport import Backoff, CommError, HttpClient
from gradline.uploader import (
    FILES_DIR,
    HISTOGRAM_FILE,
    STATE_FILE,
    WAL_FILE,
    RunInfo,
    Uploader,
    UploadState,
)
from gradline.wal import Record, read_all


class StaticSource:
    """Records of a fully read WAL, served by offset like the live tail."""

    def __init__(self, records: list[Record]):
        self.records = records
        self.starts = [r.start for r in records]

    def read(self, offset: int, max_records: int = 256) -> list[Record]:
        i = bisect.bisect_left(self.starts, offset)
        return self.records[i : i + max_records]


class SyncResult:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.status = "pending"  # synced | already | active | failed | empty
        self.message = ""
        self.records = 0
        self.truncated = False
        self.corrupt_bytes = 0
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.artifacts = 0  # artifact records (versions, usages, links) sent
        self.url: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("synced", "already", "empty")

    def __repr__(self) -> str:
        return f"SyncResult({self.run_dir.name}: {self.status} {self.message})"


def find_run_dirs(paths: list[str] | None, settings: Settings) -> list[Path]:
    """Run directories named by `paths` (a run directory, or a folder of them); with no
    paths, every run directory under the settings' root."""
    roots = [Path(p).expanduser() for p in paths] if paths else [settings.root_dir]
    found: list[Path] = []
    for root in roots:
        if (root / WAL_FILE).exists():
            found.append(root)
            continue
        if root.is_dir():
            for child in sorted(root.iterdir()):
                if child.is_dir() and not child.is_symlink() and (child / WAL_FILE).exists():
                    found.append(child)
        elif paths:
            found.append(root)  # reported as missing
    seen: set = set()
    unique = []
    for path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def is_synced(run_dir: Path) -> bool:
    """Cheap check: everything in the WAL acknowledged (no parse needed) and no artifact
    record pending."""
    state = UploadState(run_dir)
    try:
        size = os.path.getsize(run_dir / WAL_FILE)
    except OSError:
        return False
    return state.created and state.acked >= size and not has_unfinished(run_dir)


class Progress:
    """A one-line progress bar on stderr (only redrawn on a terminal)."""

    def __init__(self, label: str, total: int, enabled: bool = True):
        self.label = label
        self.total = max(1, total)
        self.enabled = enabled
        self.stream = sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = -1.0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        frac = min(1.0, max(0.0, done / self.total))
        now = time.monotonic()
        if self.tty and (now - self._last >= 0.1 or frac >= 1.0):
            self._last = now
            width = 30
            filled = int(frac * width)
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}%")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def sync_dir(
    run_dir: Path,
    settings: Settings,
    *,
    entity: str | None = None,
    project: str | None = None,
    base_url: str | None = None,
    force: bool = False,
    progress: bool = True,
    max_wait: float = 120.0,
    report: Callable[[str], None] | None = None,
) -> SyncResult:
    result = SyncResult(Path(run_dir))
    report = report or (lambda msg: print(msg, file=sys.stderr))
    run_dir = Path(run_dir)
    wal_path = run_dir / WAL_FILE
    if not wal_path.exists():
        result.status, result.message = "failed", f"no {WAL_FILE} in {run_dir}"
        return result
    lock_fd = None
    try:
        lock_fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if lock_fd is not None:
            os.close(lock_fd)
        result.status = "active"
        result.message = "a running process is still writing this run; skipped"
        return result
    try:
        return _sync_locked(
            run_dir,
            settings,
            result,
            entity=entity,
            project=project,
            base_url=base_url,
            force=force,
            progress=progress,
            max_wait=max_wait,
            report=report,
        )
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)


def _sync_locked(
    run_dir, settings, result, *, entity, project, base_url, force, progress, max_wait, report
) -> SyncResult:
    read = read_all(str(run_dir / WAL_FILE))
    result.records = len(read.records)
    result.truncated = read.truncated_tail
    result.corrupt_bytes = sum(b - a for a, b in read.corrupt_ranges)
    run_record = next((r.data for r in read.records if r.kind == "run"), None)
    if run_record is None or "id" not in run_record:
        result.status = "failed"
        result.message = "the WAL has no readable run record; nothing can be uploaded"
        return result
    if read.corrupt_ranges:
        report(
            f"gradline: {run_dir.name}: skipped {result.corrupt_bytes} damaged bytes in "
            f"{len(read.corrupt_ranges)} place(s); every intact record is kept"
        )
    if read.truncated_tail:
        report(
            f"gradline: {run_dir.name}: the last record was cut short (a crash while "
            f"writing); recovered the {len(read.records)} complete records before it"
        )
    info = RunInfo(run_record)
    if entity:
        info.entity = entity
    if project:
        info.project = project
    state = UploadState(run_dir)
    if force:
        state.acked = 0
    last_end = read.records[-1].end if read.records else 0
    has_finish = any(r.kind == "fin" for r in read.records)
    wal_done = state.created and state.acked >= last_end and not force
    if wal_done and not has_unfinished(run_dir):
        result.status = "already"
        result.message = "already synced"
        result.url = state.server.get("url")
        return result
    url = base_url or _configured_base_url(settings) or info.base_url or DEFAULT_BASE_URL
    if not settings.api_key:
        result.status = "failed"
        result.message = "no API key: run `gradline login` or set GRADLINE_API_KEY"
        return result
    client = HttpClient(url, settings.api_key, settings.http_timeout)
    source = StaticSource(read.records)
    engine = Uploader(
        run_dir, client, info, state, source, max_points=settings.batch_max_points, report=report
    )
    start = state.acked
    bar = Progress(f"sync {run_dir.name}", max(1, last_end - start), enabled=progress)
    backoff = Backoff(cap=settings.retry_max_backoff)
    deadline = time.monotonic() + max_wait
    try:
        while not wal_done:
            try:
                if not state.created or engine.create_response is None:
                    engine.create()
                if not engine.step():
                    break
                backoff.reset()
                bar.update(state.acked - start)
            except CommError as exc:
                if not exc.retryable or time.monotonic() > deadline:
                    raise
                time.sleep(backoff.next(exc.retry_after))
        if not has_finish and not state.finished:
            # The process ended without finish() (killed, crashed): the run failed.
            client.json(
                "POST", f"{info.run_path()}/finish", json={"exit_code": None, "state": "failed"}
            )
            state.finished = True
            state.save()
        hist = run_dir / FILES_DIR / HISTOGRAM_FILE
        if hist.exists() and not wal_done:
            with open(hist, "rb") as fh:
                client.request(
                    "PUT", f"{info.run_path()}/files/{HISTOGRAM_FILE}", data=fh, compress=False
                )
        if has_unfinished(run_dir):
            if not info.entity:  # a run started offline without a team, synced before
                info.entity = (client.json("GET", "/api/v1/viewer") or {}).get("default_team")
            result.artifacts, errors = sync_records(
                run_dir, client, info, settings=settings, deadline=deadline, report=report
            )
            if errors:
                raise CommError(f"{len(errors)} artifact record(s) failed: {errors[0]}")
    except CommError as exc:
        bar.close()
        result.status = "failed"
        result.message = exc.message
        _fill_stats(result, engine)
        return result
    finally:
        client.close()
    _fill_stats(result, engine)
    result.status = "synced"
    result.url = state.server.get("url")
    result.message = (
        f"{engine.stats.accepted} stored, {engine.stats.duplicates} already there"
        + (f", {engine.stats.rejected} rejected" if engine.stats.rejected else "")
        + (f", {result.artifacts} artifact record(s) sent" if result.artifacts else "")
    )
    bar.close()
    return result


def _fill_stats(result: SyncResult, engine: Uploader) -> None:
    result.accepted = engine.stats.accepted
    result.duplicates = engine.stats.duplicates
    result.rejected = engine.stats.rejected


def _configured_base_url(settings: Settings) -> str | None:
    """The base URL only when the user configured one (env or login), not the default."""
    if settings.base_url and settings.base_url.rstrip("/") != DEFAULT_BASE_URL:
        return settings.base_url
    if os.environ.get("GRADLINE_BASE_URL") or os.environ.get("WANDB_BASE_URL"):
        return settings.base_url
    return None


def sync_paths(
    paths: list[str] | None,
    settings: Settings,
    *,
    include_synced: bool = False,
    sweeps: list | None = None,
    **kwargs,
) -> list[SyncResult]:
    """Sync every run directory found; never stops at a failing one. Offline sweeps
    (`gradline agent --local`) found there go first: each is created on the server
    (sweeps_local.sync_sweep, idempotent), then its runs are uploaded into its team and
    project; their results are appended to `sweeps` when given."""
    from gradline.sweeps_local import find_local_sweeps, sync_sweep

    results = []
    done: set = set()
    for ledger in find_local_sweeps(paths, settings.root_dir):
        swept = sync_sweep(
            ledger,
            settings,
            entity=kwargs.get("entity"),
            project=kwargs.get("project"),
            base_url=kwargs.get("base_url"),
            force=bool(kwargs.get("force")),
        )
        if sweeps is not None:
            sweeps.append(swept)
        for run_dir in swept.run_dirs:
            done.add(os.path.realpath(run_dir))  # only with its sweep, into its project
            if not swept.ok or not (run_dir / WAL_FILE).exists():
                continue
            if not include_synced and is_synced(run_dir):
                continue
            where = {**kwargs, "entity": swept.entity, "project": swept.project}
            results.append(_sync_one(run_dir, settings, where))
    for run_dir in find_run_dirs(paths, settings):
        if os.path.realpath(run_dir) in done:
            continue
        if not paths and not include_synced and is_synced(run_dir):
            continue
        results.append(_sync_one(run_dir, settings, kwargs))
    return results


def _sync_one(run_dir: Path, settings: Settings, kwargs: dict) -> SyncResult:
    try:
        return sync_dir(run_dir, settings, **kwargs)
    except Exception as exc:  # a corrupt directory must not stop the others
        failed = SyncResult(run_dir)
        failed.status = "failed"
        failed.message = f"{type(exc).__name__}: {exc}"
        return failed


__all__ = ["STATE_FILE", "SyncResult", "find_run_dirs", "sync_dir", "sync_paths"]
