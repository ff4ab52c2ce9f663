"""The Run: what `gradline.init()` returns and `gradline.log()` writes to."""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import string
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gradline import artifacts, meta
from gradline.alerts import alert_level, alert_wait_seconds
from gradline.api import Api
from gradline.artifact_upload import ArtifactWorker
from gradline.console import ConsoleCapture
from gradline.metrics import Metric
from gradline.pipeline import (
    CONFIG,
    CONSOLE,
    METRIC,
    RECORD,
    ROW,
    SAVE,
    SAVE_END,
    SUMMARY,
    SYSTEM,
    Pipeline,
    expand_glob,
    stderr_report,
)
from gradline.run_config import Config
from gradline.run_summary import Summary
from gradline.settings import Settings
from gradline.system import SystemMonitor
from gradline.transport import CommError, HttpClient, UsageError
from gradline.uploader import FILES_DIR, RunInfo, UploadState
from gradline.values import merge_into, to_jsonable

RUN_ID_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
# Folders log_code() never descends into: environments, caches, run and VCS folders.
_CODE_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "gradline-runs",
        "wandb",
        "artifacts",
    }
)


# Runs whose console capture is on (at most one: see start_run).
_capturing: weakref.WeakSet = weakref.WeakSet()


@dataclass(frozen=True)
class RunStatus:
    """What `run.status()` answers (W&B's fields): bytes of the run's write-ahead log
    written and not yet acknowledged by the server, and when the server last answered."""

    sync_items_total: int
    sync_items_pending: int
    sync_time: datetime | None
    connected: bool | None


_ID_ALPHABET = string.ascii_lowercase + string.digits


def generate_id(length: int = 8) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def normalize_resume(resume: Any) -> str | None:
    if resume is None or resume is False:
        return None
    if resume is True or resume == "auto":
        return "allow"
    if resume in ("allow", "must", "never"):
        return resume
    raise ValueError("resume must be 'allow', 'must', 'never', True, False or None")


class Run:
    """A tracked run. Create it with `gradline.init()`."""

    def __init__(self) -> None:  # filled in by _start / _disabled
        self._finished = False
        self._lock = threading.Lock()
        self._pending: dict = {}
        self._step = 0
        self._warned: set = set()
        self._pipeline: Pipeline | None = None
        self._append = _NullBuffer.append  # the buffer's append, bound once for log()
        self._console: ConsoleCapture | None = None
        self._monitor: SystemMonitor | None = None
        self._lock_fd: int | None = None
        self._server_summary: dict = {}
        self._start_time = time.time()
        self.config = Config(on_change=self._config_changed)
        self.summary = Summary(self._summary_view, self._summary_set)
        self.id = ""
        self.project = ""
        self.entity: str | None = None
        self._name: str | None = None
        self._url: str | None = None
        self.dir = ""
        self.mode = "disabled"
        self.resumed = False
        self._tags: tuple = ()
        self._notes: str | None = None
        self.group: str | None = None
        self.job_type: str | None = None
        self.sweep_id: str | None = None  # W&B's run.sweep_id: set by init() for a sweep trial
        # Called first thing in finish() while log() still works (TensorBoard sync's last read).
        self._finish_hooks: list = []
        self.settings: Settings = Settings(mode="disabled")
        self._report = stderr_report(True)
        self._artifacts: ArtifactWorker | None = None
        self._api = None  # an Api on this run's settings, for artifact reads

    # -- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or self.id

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._patch({"name": self._name})

    @property
    def url(self) -> str | None:
        if self._url:
            return self._url
        if self.mode == "disabled":
            return None
        base = self.settings.base_url
        return f"{base}/{self.entity or '<team>'}/{self.project}/runs/{self.id}"

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def tags(self) -> tuple:
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._tags = tuple(str(t) for t in (value or ()))
        self._patch({"tags": list(self._tags)})

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value
        self._patch({"notes": value})

    @property
    def step(self) -> int:
        return self._step

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    @property
    def disabled(self) -> bool:
        return self.mode == "disabled"

    def __repr__(self) -> str:
        return f"<gradline Run {self.path} ({self.mode})>"

    # -- logging -----------------------------------------------------------------------
    def log(
        self,
        data: Mapping,
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log a row. Only copies into a buffer: no I/O, no encoding, no network.

        W&B semantics: without `step`, each call is a new step unless commit=False (then
        the values join the pending step). With `step`, values join that step; a larger
        step commits the pending one first; a smaller step is ignored with a warning.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError("gradline.log() takes a dict of values")
        if self._finished:
            self._warn_once("finished", "gradline: log() after finish() is ignored")
            return
        with self._lock:
            if step is None:
                pending = self._pending
                merge_into(pending, data)
                if commit is False:
                    return
                self._append((ROW, self._step, pending, time.time()))
                self._pending = {}
                self._step += 1
                return
            self._log_at_step(data, step, commit)

    def _log_at_step(self, data: Mapping, step: Any, commit: bool | None) -> None:
        try:
            step = int(step)
            if isinstance(step, bool) or step < 0:
                raise ValueError
        except (TypeError, ValueError):
            self._warn_once(
                "badstep", f"gradline: step must be a non-negative int, got {step!r}; row ignored"
            )
            return
        if step < self._step:
            self._warn_once(
                f"lowstep:{step}",
                f"gradline: step {step} is less than the current step {self._step}; steps must "
                "increase, so this data is ignored",
            )
            return
        if step > self._step:
            if self._pending:
                self._buffer.append((ROW, self._step, self._pending, time.time()))
                self._pending = {}
            self._step = step
        merge_into(self._pending, data)
        if commit:
            self._buffer.append((ROW, self._step, self._pending, time.time()))
            self._pending = {}
            self._step += 1

    def _flush_pending(self) -> None:
        with self._lock:
            if self._pending:
                self._buffer.append((ROW, self._step, self._pending, time.time()))
                self._pending = {}
                self._step += 1

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        metric = Metric(
            name,
            step_metric=step_metric,
            step_sync=step_sync,
            hidden=hidden,
            summary=summary,
            goal=goal,
        )
        self._buffer.append((METRIC, metric))
        return metric

    def save(self, glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
        """Upload files matching glob_str: "now" once, "live" now and whenever they change,
        "end" when the run finishes. Returns the paths as stored in the run."""
        if policy not in ("live", "now", "end"):
            raise ValueError('policy must be "live", "now" or "end"')
        if not glob_str:
            raise ValueError("save() needs a path or glob")
        glob_str = os.fspath(glob_str)
        if self.mode == "disabled":
            return []
        self._buffer.append((SAVE, glob_str, base_path, policy))
        self._pipeline.wake()
        return [rel for _, rel in expand_glob(glob_str, base_path)]

    def alert(self, title: str, text: str, level: Any = "INFO", wait_duration: Any = None) -> None:
        """W&B's `run.alert`: the server notifies the run's owner (in-app, email, per their
        settings) unless an alert with this title was sent less than `wait_duration`
        (seconds or a timedelta; W&B's default one minute) before. Works offline: the
        alert is written to the WAL and `gradline sync` delivers it later, once."""
        level = alert_level(level)
        wait = alert_wait_seconds(wait_duration)
        if self.mode == "disabled":
            return
        self._buffer.append(
            (
                RECORD,
                {
                    "t": "alert",
                    "id": uuid.uuid4().hex,
                    "title": str(title),
                    "text": str(text),
                    "level": str(level),
                    "wait_duration": wait,
                    "wall_time": time.time(),
                },
            )
        )

    def mark_preempting(self) -> bool:
        """W&B's: this sweep trial's run is being preempted; if it now ends unfinished, the
        sweep re-runs the trial and the re-run resumes this run (docs/sweeps.md)."""
        from gradline import sweeps

        return sweeps.mark_preempting(self)

    def status(self) -> RunStatus:
        """How far the upload is: W&B's RunStatus (sync_items_* count WAL bytes here)."""
        pipeline = self._pipeline
        if pipeline is None:
            return RunStatus(0, 0, None, None)
        synced = pipeline.last_ack_time
        return RunStatus(
            sync_items_total=pipeline.wal.offset,
            sync_items_pending=pipeline.unsent_bytes(),
            sync_time=datetime.fromtimestamp(synced).astimezone() if synced else None,
            connected=pipeline.connected,
        )

    def log_code(
        self,
        root: str | os.PathLike = ".",
        name: str | None = None,
        include_fn: Callable[..., bool] | None = None,
        exclude_fn: Callable[..., bool] | None = None,
    ) -> artifacts.Artifact | None:
        """Log source files under `root` as a "code" artifact (W&B's semantics: `*.py` by
        default, `include_fn(path, root)` / `exclude_fn(path, root)` to choose; virtual
        environments, VCS and run folders are skipped). None when nothing matched."""
        root_path = Path(root).expanduser().resolve()
        include = include_fn or (lambda path, root=None: str(path).endswith(".py"))
        artifact = artifacts.Artifact(name or f"source-{self.project}-{self.id}", type="code")
        found = False
        for dirpath, dirnames, filenames in os.walk(root_path):
            dirnames[:] = sorted(d for d in dirnames if d not in _CODE_SKIP_DIRS)
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                if not _code_choice(include, path, root_path) or (
                    exclude_fn is not None and _code_choice(exclude_fn, path, root_path)
                ):
                    continue
                artifact.add_file(path, name=os.path.relpath(path, root_path))
                found = True
        if not found:
            return None
        return self.log_artifact(artifact)

    # -- artifacts and models (gradline/artifacts.py) --------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> artifacts.Artifact:
        """Log an Artifact (or a file/directory path). The files are hashed into the local
        cache now; the upload happens in the background (`artifact.wait()` blocks).
        `tags` are stored with the version, as W&B's are."""
        return artifacts.log_artifact(self, artifact_or_path, name, type, aliases, tags)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None) -> artifacts.Artifact:
        """Get a version ("name:alias", "project/name:v2", "team/project/name:latest") and
        record that this run used it."""
        return artifacts.use_artifact(self, artifact_or_name, type)

    def log_model(
        self, path: Any, name: str | None = None, aliases: list[str] | None = None
    ) -> artifacts.Artifact:
        return artifacts.log_model(self, path, name, aliases)

    def use_model(self, name: str) -> str:
        return artifacts.use_model(self, name)

    def link_model(
        self,
        path: Any,
        registered_model_name: str,
        name: str | None = None,
        aliases: list[str] | None = None,
    ) -> artifacts.Artifact:
        return artifacts.link_model(self, path, registered_model_name, name, aliases)

    def link_artifact(
        self, artifact: artifacts.Artifact, target_path: str, aliases: list[str] | None = None
    ) -> None:
        artifacts.link_artifact(self, artifact, target_path, aliases)

    def _artifact_worker(self) -> ArtifactWorker:
        if self._artifacts is None:
            pipeline = self._pipeline
            if pipeline is None:
                raise UsageError("this run cannot log artifacts (it belongs to another process)")
            self._artifacts = ArtifactWorker(
                pipeline.run_dir,
                self.settings,
                pipeline.info,
                pipeline.state,
                upload=pipeline.engine is not None,
                report=self._report,
            )
        return self._artifacts

    def _artifact_api(self):
        if self._api is None:
            entity = self._pipeline.info.entity if self._pipeline is not None else self.entity
            self._api = Api._from_settings(self.settings, entity or self.entity)
        return self._api

    def _cache_root(self) -> Path:
        if self.settings.cache_dir:
            return Path(self.settings.cache_dir).expanduser()
        return Path(self.dir).parent / "artifact-cache"  # beside the run folders

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """W&B's `watch`: gradient / parameter histograms of PyTorch models every
        `log_freq` batches (gradline/integration/torch.py)."""
        from gradline.integration import torch as _torch

        _torch.watch(self, models, criterion, log, log_freq, idx, log_graph)

    def _label(self, **labels: Any) -> None:
        """W&B's integration telemetry label (transformers calls it): nothing to record."""

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks `watch` put on `models` (all of them without an argument)."""
        from gradline.integration import torch as _torch

        _torch.unwatch(self, models)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Flush and upload (waiting at most the finish_timeout setting), then mark the run
        finished (or failed for a non-zero exit code). Never raises on network trouble."""
        if self._finished:
            return
        for hook in list(self._finish_hooks):
            hook()
        # Capture ends first, so a last partial console line still belongs to the run.
        if self._monitor is not None:
            self._monitor.stop()
        if self._console is not None:
            self._console.stop()
            _capturing.discard(self)
        self._flush_pending()
        self._finished = True
        from gradline import _clear_current

        _clear_current(self)
        if self.mode == "disabled":
            return
        code = int(exit_code) if exit_code is not None else 0
        state = "finished" if code == 0 else "failed"
        pipeline = self._pipeline
        timeout = self.settings.finish_timeout
        deadline = time.monotonic() + timeout
        unsent_artifacts = 0
        if self._artifacts is not None:  # before "fin": the run is live while they upload
            self._artifacts.close(timeout)
            unsent_artifacts = len(self._artifacts.unfinished())
        self._buffer.append((SAVE_END,))
        self._buffer.append((RECORD, {"t": "fin", "exit_code": code, "state": state}))
        complete = pipeline.close(max(0.0, deadline - time.monotonic()))
        self._release_lock()
        quiet = self.settings.silent if quiet is None else quiet
        always = stderr_report(False)
        if self.mode == "offline" or pipeline.engine is None:
            always(
                f"gradline: offline run saved in {self.dir}\n"
                f"gradline: upload it with: gradline sync {self.dir}"
            )
        elif not complete or unsent_artifacts:
            if pipeline.failed is not None:
                reason = f"the server refused the upload ({pipeline.failed.message})"
            elif not complete:
                reason = f"the upload did not finish within {timeout:g}s"
            else:
                reason = f"{unsent_artifacts} artifact record(s) were not uploaded"
            always(
                f"gradline: {reason}; what is missing is safe in {self.dir}\n"
                f"gradline: upload it with: gradline sync {self.dir}"
            )
        elif not quiet:
            stats = pipeline.engine.stats
            rejected = f", {stats.rejected} rejected" if stats.rejected else ""
            always(
                f"gradline: run {self.name} {state}: {stats.accepted} records stored"
                f"{rejected}. {self.url}"
            )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            code = 0
        elif issubclass(exc_type, KeyboardInterrupt):
            code = 130
        elif issubclass(exc_type, SystemExit):
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 1
        self.finish(exit_code=code)
        return False

    # -- helpers -----------------------------------------------------------------------
    @property
    def _buffer(self):
        return self._pipeline.buffer if self._pipeline is not None else _NullBuffer

    def _after_fork_in_child(self) -> None:
        """A forked child (DataLoader workers …) has no writer thread: what it logs or
        prints would pile up in its copy of the buffer. It logs nothing instead; the
        parent's run is unaffected."""
        self._append = _NullBuffer.append
        self._pipeline = None
        self._console = None
        self._monitor = None
        self._artifacts = None
        self._finished = True
        self._warned.add("finished")  # silently: the child never owned the run
        self._lock_fd = None

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._report(message)

    def _config_changed(self, changes: dict) -> None:
        if self._pipeline is not None and not self._finished:
            self._buffer.append((CONFIG, changes))

    def _summary_set(self, changes: dict) -> None:
        if self._pipeline is not None and not self._finished:
            self._buffer.append((SUMMARY, changes))

    def _summary_view(self) -> dict:
        view = dict(self._server_summary)
        if self._pipeline is not None:
            if not self._finished:
                self._pipeline.wait_processed()
            view.update(self._pipeline.metrics.summary_view())
        return view

    def _patch(self, changes: dict) -> None:
        if self._pipeline is not None and not self._finished:
            self._buffer.append((RECORD, {"t": "patch", "d": changes}))

    def _emit_system(self, points: list) -> None:
        self._buffer.append((SYSTEM, points))

    def _emit_console(self, stream: str, wall_time: float, line: str) -> None:
        if not self._finished:
            self._buffer.append((CONSOLE, stream, wall_time, line))

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            except OSError:
                pass
            self._lock_fd = None

    def _on_created(self, resp: dict) -> None:
        """The server created the run after init had fallen back to offline."""
        if self._pipeline is not None:
            self.entity = self._pipeline.info.entity
        self._name = self._name or resp.get("name")
        self._url = resp.get("url") or self._url
        self._report(f"gradline: connected; run {self.name} is live at {self.url}")

    def _on_connection(self, ok: bool, reason: str) -> None:
        if ok:
            self._report("gradline: connection to the server is back; uploading")
        else:
            self._report(
                f"gradline: cannot reach the server ({reason}); logging continues "
                "to the local WAL and uploads resume when it is back"
            )


class _NullBufferType:
    def append(self, item: Any) -> None:
        pass


_NullBuffer = _NullBufferType()


def start_run(
    *,
    settings: Settings,
    project: str | None,
    entity: str | None,
    name: str | None,
    run_id: str | None,
    config: Any,
    tags: Any,
    notes: str | None,
    group: str | None,
    job_type: str | None,
    resume: Any,
    started_by: str | None = None,
    sweep_params: dict | None = None,
) -> Run:
    """Start a run. `started_by` names the call (log_model …) that started it for the
    script, which the one line printed says. `sweep_params` are set and locked in the
    config before the script's own config (whose values for them are ignored)."""
    run = Run()
    run.settings = settings
    run.mode = settings.mode
    run._report = stderr_report(settings.silent)
    run.project = project or settings.project or "uncategorized"
    run.entity = entity or settings.entity
    if run.mode != "disabled":
        _check_names(run.project, run.entity)
    run._name = name or settings.run_name
    run._notes = notes or settings.notes
    run.group = group or settings.run_group
    run.job_type = job_type or settings.job_type
    if tags is None and settings.tags:
        tags = [t.strip() for t in settings.tags.split(",") if t.strip()]
    run._tags = tuple(str(t) for t in (tags or ()))
    resume = normalize_resume(resume if resume is not None else settings.resume)
    given_id = run_id or settings.run_id
    if given_id is not None and not RUN_ID_RE.match(str(given_id)):
        raise ValueError(
            f"run id {given_id!r} is not valid: use 1-64 lowercase letters, digits, - or _"
        )
    run.id = str(given_id) if given_id else generate_id()
    if sweep_params:
        run.config._lock(sweep_params, "sweep")
    if config is not None:
        run.config._load({})
        run.config.update(config, allow_val_change=True)
    if run.mode == "disabled":
        return run

    if run.mode == "online" and not settings.api_key:
        raise UsageError(
            "No API key. Run `gradline login`, set GRADLINE_API_KEY, or use mode='offline' "
            f"(server: {settings.base_url})."
        )

    # Local run directory and its lock (sync skips directories a live process holds).
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    prefix = "run" if run.mode == "online" else "offline-run"
    root = settings.root_dir
    name = f"{prefix}-{stamp}-{run.id}"
    try:
        run_dir = _make_run_dir(root, name)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"gradline-runs-{os.getuid()}"
        run._report(
            f"gradline: cannot write to {root} ({exc.strerror or exc}); "
            f"keeping this run in {fallback} instead"
        )
        try:
            root, run_dir = fallback, _make_run_dir(fallback, name)
        except OSError as exc2:
            raise UsageError(f"cannot create a run directory in {root}: {exc2}") from exc2
    run.dir = str(run_dir)
    run._lock_fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(run._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _point_latest(root, run_dir)

    body = _create_body(run, settings, run_dir)
    info = RunInfo(
        {
            "id": run.id,
            "entity": run.entity,
            "project": run.project,
            "base_url": settings.base_url,
            "body": body,
            "resume": resume,
            "id_generated": given_id is None,
        }
    )
    state = UploadState(run_dir)
    pipeline = Pipeline(
        run_dir,
        settings,
        info,
        state,
        upload=run.mode == "online",
        report=run._report,
        on_created=run._on_created,
        on_connection=run._on_connection,
    )
    run._pipeline = pipeline
    run._append = pipeline.buffer.append
    _register_fork_guard(run)
    pipeline.write_record_now(
        {
            "t": "run",
            "v": 1,
            "id": run.id,
            "entity": run.entity,
            "project": run.project,
            "base_url": settings.base_url,
            "body": body,
            "resume": resume,
            "id_generated": given_id is None,
            "created_at": time.time(),
        }
    )

    system_start = 0
    if run.mode == "online":
        engine = pipeline.engine
        try:
            resp = engine.create(timeout=settings.init_timeout)
            run.entity = info.entity
        except CommError as exc:
            if not exc.retryable:
                pipeline.abort()
                run._release_lock()
                _remove_tree(run_dir)
                raise UsageError(_init_error(exc, run, settings, resume)) from None
            if not settings.offline_fallback:
                pipeline.abort()
                run._release_lock()
                _remove_tree(run_dir)
                raise UsageError(
                    f"cannot reach the Gradline server at {settings.base_url}: {exc.message}"
                ) from None
            run._report(
                f"gradline: server {settings.base_url} unreachable ({exc.message}); logging "
                f"offline to {run_dir} and uploading when it is back"
            )
            pipeline.connected = False
        else:
            pipeline.connected = True
            system_start = _apply_create_response(run, resp)
            if run.resumed:
                pipeline.console_seq = _console_next(engine.client, info, resp)
    pipeline.start()
    if resume in ("allow", "must") and given_id is not None and not pipeline.connected:
        # Without the server there is no high-water mark to continue from (W&B ignores
        # resume offline too); say what will happen to steps that clash.
        run._report(
            f"gradline: resume={resume!r} needs the server to continue run {run.id} where "
            "it stopped; offline, this run logs from step 0, and `gradline sync` reports "
            "steps the server already holds for it as conflicts instead of storing them"
        )

    for rel in _write_metadata_files(run, settings, run_dir):
        run._buffer.append((RECORD, {"t": "file", "path": rel}))
    if settings.system_metrics:
        run._monitor = SystemMonitor(
            run._emit_system, settings.system_interval, system_start, disk_path=str(root)
        )
        run._monitor.start()
    if settings.console != "off":
        if any(other._console is not None for other in _capturing):
            # reinit="create_new": the terminal has one owner; a second capture would
            # interleave both runs' output into each other.
            run._report("gradline: console output stays with the first active run")
        else:
            run._console = ConsoleCapture(run._emit_console, mode=settings.console)
            run._console.start()
            _capturing.add(run)
    if not settings.silent:
        where = run.url if run.mode == "online" else run.dir
        verb = "resumed" if run.resumed else "started"
        if started_by:
            run._report(
                f"gradline: {started_by}() started run {run.name} (job type {run.job_type}, "
                f"{run.mode}) in {run.entity or '<team>'}/{run.project}; it finishes when the "
                f"script exits: {where}"
            )
        else:
            run._report(f"gradline: run {run.name} {verb} ({run.mode}): {where}")
    return run


def _console_next(client: HttpClient, info: RunInfo, resp: dict) -> int:
    """The next console line index of a resumed run, so its lines continue the old ones
    (the client numbers lines for exactly-once storage). The create/resume answer carries
    it; only a server from before `console_next` is probed (O(log n) console requests)."""
    if isinstance(resp.get("console_next"), int):
        return resp["console_next"]
    path = f"{info.run_path()}/console"

    def has_line_at_or_after(offset: int) -> bool:
        page = client.json("GET", path, params={"offset": offset, "limit": 1})
        return bool((page or {}).get("lines"))

    try:
        if not has_line_at_or_after(0):
            return 0
        lo, hi = 0, 1  # invariant: a line exists at or after lo; find hi with none after
        while has_line_at_or_after(hi):
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if has_line_at_or_after(mid):
                lo = mid
            else:
                hi = mid
        return hi
    except CommError:
        return 0


def _apply_create_response(run: Run, resp: dict) -> int:
    run._name = resp.get("name") or run._name
    run._url = resp.get("url") or None
    run.resumed = bool(resp.get("resumed"))
    system_start = 0
    if run.resumed:
        server_config = {
            k: v for k, v in (resp.get("config") or {}).items() if not k.startswith("_gradline")
        }
        local = run.config.as_dict()
        run.config._load(server_config)
        run.config._load(local)
        run._server_summary = dict(resp.get("summary") or {})
        last_step = resp.get("last_step")
        high_water = resp.get("high_water") or {}
        user_steps = [v for k, v in high_water.items() if not k.startswith("system/")]
        if last_step is None and user_steps:
            last_step = max(user_steps)
        if last_step is not None:
            run._step = int(last_step) + 1
        sys_steps = [v for k, v in high_water.items() if k.startswith("system/")]
        if sys_steps:
            system_start = int(max(sys_steps)) + 1
        if resp.get("tags"):
            run._tags = tuple(dict.fromkeys([*resp["tags"], *run._tags]))
    return system_start


# The server's naming rules (apps/api/names.py), checked before anything is written, so a
# bad name is a clear error at init rather than a run that can never upload.
_PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_TEAM_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def _check_names(project: str, entity: str | None) -> None:
    if not _PROJECT_RE.match(project) or project in (".", ".."):
        raise UsageError(
            f"{project!r} is not a valid project name: use 1-128 letters, digits, '_', '.' or '-'"
        )
    if entity and not _TEAM_RE.match(entity):
        raise UsageError(
            f"{entity!r} is not a valid entity (team) name: use 1-64 lowercase letters, "
            "digits or '-', not starting or ending with '-'"
        )


def _init_error(exc: CommError, run: Run, settings: Settings, resume: str | None) -> str:
    where = f"{run.entity}/{run.project}"
    if exc.status == 401:
        return (
            f"the API key was rejected by {settings.base_url} (HTTP 401). "
            "Run `gradline login` or set GRADLINE_API_KEY."
        )
    if exc.status == 403:
        return f"this API key may not create runs in {where} (HTTP 403: {exc.message})"
    if exc.status == 404:
        if resume == "must" and "resume" in (exc.message or ""):
            return f"run {run.id} does not exist in {where}, and resume='must' was given"
        return f"{where} was not found on {settings.base_url} ({exc.message})"
    if exc.status == 409:
        return (
            f"run {run.id} already exists in {where}; pass resume='allow' to continue it "
            f"({exc.message})"
        )
    return f"the server refused to create the run: {exc.message}"


def _create_body(run: Run, settings: Settings, run_dir: Path) -> dict:
    body: dict[str, Any] = {"config": run.config.as_dict()}
    if run._name:
        body["name"] = run._name
    if run._tags:
        body["tags"] = list(run._tags)
    for key, value in (("notes", run._notes), ("group", run.group), ("job_type", run.job_type)):
        if value:
            body[key] = value
    if settings.metadata:
        program = meta.program_info()
        system = meta.system_info()
        body["host"] = system["host"]
        body["program"] = program["program"]
        body["args"] = program["args"]
        body["metadata"] = dict(system)
    run._git = meta.git_state() if settings.git else None
    if run._git:
        diff = run._git["diff"]
        body["git"] = {
            "commit": run._git["commit"],
            "remote": run._git["remote"],
            "diff": diff if len(diff) <= meta.MAX_DIFF_IN_BODY else "",
        }
    return to_jsonable(body)


def _write_metadata_files(run: Run, settings: Settings, run_dir: Path) -> list[str]:
    """Files every run carries: diff.patch, requirements.txt, metadata.json, and with
    save_code the main script under code/."""
    written = []
    files = run_dir / FILES_DIR
    try:
        git = getattr(run, "_git", None)
        if git and git.get("diff"):
            (files / "diff.patch").write_text(git["diff"], encoding="utf-8")
            written.append("diff.patch")
        if settings.pip_freeze:
            (files / "requirements.txt").write_text(
                "\n".join(meta.pip_freeze()) + "\n", encoding="utf-8"
            )
            written.append("requirements.txt")
        code = _save_main_script(files) if settings.save_code else None
        if code:
            written.append(f"code/{code}")
        if settings.metadata:
            info = {
                **meta.system_info(),
                **meta.program_info(),
                "git": {k: v for k, v in (git or {}).items() if k != "diff"} or None,
                "started_at": datetime.now().astimezone().isoformat(),
                "codePath": code,
            }
            (files / "metadata.json").write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2))
            written.append("metadata.json")
    except OSError as exc:
        run._report(f"gradline: could not write run metadata files: {exc}")
    return written


def _save_main_script(files: Path) -> str | None:
    """save_code: copy the script being run into files/code/<path relative to the working
    directory> (W&B's layout); None in a notebook or an interactive session."""
    import __main__

    main = getattr(__main__, "__file__", None)
    if not main or not os.path.isfile(main):
        return None
    src = os.path.abspath(main)
    rel = os.path.relpath(src, os.getcwd())
    if rel.startswith(".."):
        rel = os.path.basename(src)
    target = files / "code" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return rel.replace(os.sep, "/")


def _code_choice(fn: Callable[..., bool], path: str, root: Path) -> bool:
    """W&B calls include_fn/exclude_fn with (path, root); older code takes (path)."""
    try:
        return bool(fn(path, str(root)))
    except TypeError:
        return bool(fn(path))


def _register_fork_guard(run: Run) -> None:
    ref = weakref.ref(run)

    def in_child() -> None:
        target = ref()
        if target is not None and not target._finished:
            target._after_fork_in_child()

    os.register_at_fork(after_in_child=in_child)


def _make_run_dir(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    run_dir = root / name
    for n in range(2, 1000):  # a resumed run in the same second gets a fresh folder
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            run_dir = root / f"{name}-{n}"
    (run_dir / FILES_DIR).mkdir(parents=True, exist_ok=True)
    return run_dir


def _point_latest(root: Path, run_dir: Path) -> None:
    link = root / "latest-run"
    try:
        tmp = root / f".latest-run.{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        pass


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
