"""Background half of a run: buffer -> WAL (writer thread) -> server (uploader thread).

The caller's thread only appends tuples to `buffer` (a deque: append is atomic and
lock-free under the GIL). The writer thread drains it every `flush_interval`, encodes
rows into points, applies define_metric, frames one WAL record per drain and wakes the
uploader. The uploader follows the WAL file and posts batches (see uploader.py).
"""

from __future__ import annotations

import contextlib
import glob as globlib
import os
import shutil
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import orjson

from gradline import batchfmt
from gradline.batchfmt import Columns, KeyTable
from gradline.console import write_to_terminal
from gradline.media import MediaSink
from gradline.metrics import NO_SUMMARY, MetricState
from gradline.settings import Settings
from gradline.transport import Backoff, CommError, HttpClient
from gradline.uploader import (
    FILES_DIR,
    HISTOGRAM_FILE,
    WAL_FILE,
    RunInfo,
    Uploader,
    UploadState,
)
from gradline.values import Encoded, encode_row, to_jsonable
from gradline.wal import Record, WalTail, WalWriter, encode_frame

# Buffer item kinds (first tuple element).
ROW = "h"  # ("h", step, row, wall_time)
SYSTEM = "sys"  # ("sys", [[key, idx, value, wall_time], ...])
CONSOLE = "con"  # ("con", stream, wall_time, line)
CONFIG = "cfg"  # ("cfg", {key: value})
SUMMARY = "sum"  # ("sum", {key: value})
METRIC = "metric"  # ("metric", Metric)
SAVE = "save"  # ("save", glob, base_path, policy)
SAVE_END = "save_end"  # ("save_end",)
RECORD = "rec"  # ("rec", dict) written as its own WAL record (finish, alert, file)
SYNC = "sync"  # ("sync", threading.Event) set once everything before it is processed
# Consecutive HTTP 500 answers tolerated once finish() is waiting: a server bug answers
# the same request the same way, so retrying it until the finish timeout only spins.
MAX_SERVER_ERRORS_CLOSING = 3
MEDIA_RECORD_ITEMS = 500  # media items per WAL record (and per POST .../media)


class Pipeline:
    def __init__(
        self,
        run_dir: Path,
        settings: Settings,
        info: RunInfo,
        state: UploadState,
        *,
        upload: bool,
        console_offset: int = 0,
        report: Callable[[str], None],
        on_created: Callable[[dict], None] | None = None,
        on_connection: Callable[[bool, str], None] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.settings = settings
        self.info = info
        self.state = state
        self.report = report
        self.on_created = on_created
        self.on_connection = on_connection
        self.buffer: deque = deque()
        self.metrics = MetricState()
        self.keys = KeyTable()  # one per process: record key lists agree (batchfmt)
        self.wal_path = str(self.run_dir / WAL_FILE)
        self.wal = WalWriter(self.wal_path, settings.wal_fsync)
        self.tail = WalTail(self.wal_path)
        self._memory_mode = False
        self.console_seq = console_offset
        self._summary_sent: dict = {}
        self._saved: list[tuple[str, str | None, str]] = []
        self._file_sigs: dict[str, tuple] = {}
        self._last_live_check = time.monotonic()
        self._hist_dirty = False
        self._wake_writer = threading.Event()
        self._wake_uploader = threading.Event()
        self._stop_writer = threading.Event()
        self._writer_done = threading.Event()
        self._abort = threading.Event()
        self._closing = False
        self.done = threading.Event()
        self.last_ack_time: float | None = None  # wall time of the server's last answer
        self.failed: CommError | None = None
        self._reported: set = set()
        self.connected: bool | None = None
        self.upload = upload
        self.engine: Uploader | None = None
        self._writer = threading.Thread(
            target=self._writer_main, name="gradline-writer", daemon=True
        )
        self._uploader: threading.Thread | None = None
        if upload:
            self.engine = Uploader(
                self.run_dir,
                HttpClient(settings.base_url, settings.api_key, settings.http_timeout),
                info,
                state,
                self.tail,
                max_points=settings.batch_max_points,
                report=report,
            )
            self._uploader = threading.Thread(
                target=self._uploader_main, name="gradline-uploader", daemon=True
            )

    # -- control -----------------------------------------------------------------------
    def write_record_now(self, data: dict) -> None:
        """Write a record synchronously (the run record at init, before threads start)."""
        self._append(data)

    def start(self) -> None:
        self._writer.start()
        if self._uploader is not None:
            self._uploader.start()

    def wake(self) -> None:
        self._wake_writer.set()

    def wait_processed(self, timeout: float = 2.0) -> bool:
        """Block until everything enqueued so far has been through the writer."""
        if not self._writer.is_alive():
            return False
        event = threading.Event()
        self.buffer.append((SYNC, event))
        self._wake_writer.set()
        return event.wait(timeout)

    def close(self, timeout: float) -> bool:
        """Flush everything to the WAL, then wait (bounded) for the upload.
        Returns True when the server has everything."""
        deadline = time.monotonic() + max(0.0, timeout)
        self._closing = True
        self._stop_writer.set()
        self._wake_writer.set()
        self._writer.join(max(0.1, deadline - time.monotonic()))
        if self._uploader is None:
            self.done.set()
        else:
            self._wake_uploader.set()
            self.done.wait(max(0.0, deadline - time.monotonic()))
        complete = self.done.is_set() and self.failed is None and self._uploader is not None
        self._abort.set()
        self._wake_uploader.set()
        if not self._writer.is_alive():
            try:
                self.wal.close()
            except OSError as exc:
                self.report(f"gradline: closing the WAL failed: {exc}")
        return complete

    def abort(self) -> None:
        self._abort.set()
        self._stop_writer.set()
        self._wake_writer.set()
        self._wake_uploader.set()

    # -- writer ------------------------------------------------------------------------
    def _writer_main(self) -> None:
        interval = max(0.005, self.settings.flush_interval)
        while True:
            self._wake_writer.wait(interval)
            self._wake_writer.clear()
            stopping = self._stop_writer.is_set()
            try:
                self._drain()
                if (
                    (self._saved or self._hist_dirty)
                    and not stopping
                    and (
                        time.monotonic() - self._last_live_check
                        >= self.settings.live_files_interval
                    )
                ):
                    self._last_live_check = time.monotonic()
                    self._snapshot_files(("live",))
                    self._flush_histograms()
            except Exception as exc:  # never let the writer die silently
                self.report(f"gradline: internal error in the writer thread: {exc!r}")
            if stopping and not self.buffer:
                break
        with contextlib.suppress(OSError):
            self.wal.sync()
        self._writer_done.set()
        self._wake_uploader.set()

    def _drain(self) -> None:
        buf = self.buffer
        if not buf:
            return
        keys = self.keys
        batch = _Batch(keys)
        max_points = self.settings.batch_max_points
        metrics = self.metrics
        while True:
            try:
                item = buf.popleft()
            except IndexError:
                break
            kind = item[0]
            if kind == ROW:
                row = item[2]
                if metrics.step_metric_keys:
                    metrics.fill_step_metrics(row)
                start = len(batch.pkey)
                try:
                    plain = encode_row(item[1], row, item[3], batch.enc)
                except OverflowError:  # a step beyond int64 (the server's limit is 2^53)
                    self._report_once("bigstep", f"gradline: step {item[1]} is too large")
                    continue
                if plain and not (metrics.exact or metrics.globs):
                    metrics.last.update(row)  # the fast path: plain numbers, no definitions
                else:
                    self._observe(batch, start)
            elif kind == SYSTEM:
                append = batch.system.append
                for key, index, value, wall_time in item[1]:
                    try:
                        append(keys[key], index, value, wall_time)
                    except (TypeError, ValueError, OverflowError):
                        continue  # a sensor that answered something other than a number
            elif kind == CONSOLE:
                if not batch.console:
                    batch.console_offset = self.console_seq
                batch.console.append([item[1], item[2], item[3]])
                self.console_seq += 1
            elif kind == CONFIG:
                batch.config.update(item[1])
            elif kind == SUMMARY:
                metrics.user_keys.update(item[1])
                batch.summary.update(item[1])
            elif kind == METRIC:
                metrics.define(item[1])
                batch.config["_gradline"] = {"metrics": metrics.definitions()}
            elif kind == SAVE:
                self._saved.append((item[1], item[2], item[3]))
                if item[3] in ("now", "live"):
                    self._flush_batch(batch)
                    batch = _Batch(keys)
                    self._snapshot_files((item[3],), only=(item[1], item[2]))
            elif kind == SAVE_END:
                self._flush_batch(batch)
                batch = _Batch(keys)
                self._snapshot_files(("live", "end"))
                self._flush_histograms()
            elif kind == RECORD:
                self._flush_batch(batch)
                batch = _Batch(keys)
                data = dict(item[1])
                if data.get("t") == "alert":
                    data["console_offset"] = self.console_seq
                    self.console_seq += 1
                self._append(data)
            elif kind == SYNC:
                self._flush_batch(batch)
                batch = _Batch(keys)
                item[1].set()
            if len(batch.pkey) + len(batch.skey) >= max_points:  # arrays: len in C
                self._flush_batch(batch)
                batch = _Batch(keys)
        self._flush_batch(batch)

    def _observe(self, batch: _Batch, start: int) -> None:
        metrics = self.metrics
        enc = batch.enc
        defined = bool(metrics.exact or metrics.globs)
        user = metrics.user_keys
        names = enc.keys.names
        points = enc.points
        if not defined:
            last = metrics.last
            for i in range(start, len(points)):
                last[names[points.key[i]]] = points.value[i]
        else:
            for i in range(start, len(points)):
                key, value = names[points.key[i]], points.value[i]
                entry = metrics.observe(key, value)
                if entry is not None and key not in user:
                    batch.summary_auto[key] = None if entry is NO_SUMMARY else entry
        if enc.last:
            for key, value in enc.last.items():
                metrics.last[key] = value
                if key not in user:
                    batch.summary_auto[key] = value
            enc.last.clear()
        if enc.histograms:
            for key, _, hist, _ in enc.histograms[batch.hist_seen :]:
                metrics.last[key] = hist
                if key not in user:
                    batch.summary_auto[key] = hist
            batch.hist_seen = len(enc.histograms)
        if enc.unsupported:
            for what in enc.unsupported:
                self._report_once(
                    f"unsupported:{what}", f"gradline: cannot log {what}; value skipped"
                )
            enc.unsupported.clear()

    def _flush_batch(self, batch: _Batch) -> None:
        """One WAL record per drain, already an ingest body, so the uploader forwards it
        without decoding: a binary batch (batchfmt) when it has points or system values,
        with the other parts in its header; a JSON record ("t": "b") otherwise."""
        record: dict[str, Any] = {"t": "b", "heartbeat": True}
        points, system = batch.enc.points, batch.system
        if batch.enc.histograms:
            self._write_histograms(batch.enc.histograms)
        if batch.enc.media or batch.enc.histograms:
            self._write_media(batch)
        summary = {k: v for k, v in batch.summary_auto.items() if k not in batch.summary}
        summary.update({k: to_jsonable(v) for k, v in batch.summary.items()})
        if summary:
            record["summary"] = summary
        if batch.config:
            record["config"] = batch.config
        if batch.console:
            record["console"] = batch.console
            record["console_offset"] = batch.console_offset
        if len(points) or len(system):
            del record["t"]
            used = max(max(points.key, default=-1), max(system.key, default=-1)) + 1
            self._append(batchfmt.encode(self.keys.names[:used], points, system, record))
        elif len(record) > 2:
            self._append(record)

    def _write_histograms(self, rows: list) -> None:
        """Histograms go to files/media/histograms.jsonl (one JSON row per key and step),
        uploaded like a live file; the last one of each key is also in the summary."""
        path = self.run_dir / FILES_DIR / HISTOGRAM_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                for key, step, hist, wall_time in rows:
                    fh.write(
                        orjson.dumps({"key": key, "_step": step, "_timestamp": wall_time, **hist})
                        + b"\n"
                    )
        except OSError as exc:
            self._report_once("histograms", f"gradline: cannot write {path}: {exc}")
            return
        self._hist_dirty = True

    def _write_media(self, batch: _Batch) -> None:
        """Encode the batch's media on this (writer) thread: files under files/media/,
        one file record each (uploaded first), then media records naming them — the
        server's media index. Histograms join the media records as they are (no file).
        A value that cannot be encoded is reported and skipped; the rest of the row is
        unaffected."""
        sink = MediaSink(self.run_dir / FILES_DIR)
        items: list[dict] = []
        user = self.metrics.user_keys
        for key, step, value, wall_time in batch.enc.media:
            values = value if isinstance(value, list) else [value]
            described = []
            for index, media in enumerate(values):
                try:
                    ref = media.materialize(sink, key, step, index)
                except Exception as exc:  # a bad value must not stop the run
                    self._report_once(
                        f"media:{key}:{type(exc).__name__}",
                        f"gradline: cannot log {type(media).__name__} {key!r} at step {step}: "
                        f"{exc}; value skipped",
                    )
                    continue
                described.append(ref)
                items.append(
                    {"key": key, "step": step, "index": index, "wall_time": wall_time, **ref}
                )
            if not described:
                continue
            if isinstance(value, list):
                summary_value = {
                    "_type": "media-list",
                    "count": len(described),
                    "items": described[:8],
                }
            else:
                summary_value = described[0]
            self.metrics.last[key] = summary_value
            if key not in user:
                batch.summary_auto[key] = summary_value
        for key, step, hist, wall_time in batch.enc.histograms:
            items.append({"key": key, "step": step, "index": 0, "wall_time": wall_time, **hist})
        batch.enc.media = []
        for rel in sink.written:
            self._append({"t": "file", "path": rel})
        for start in range(0, len(items), MEDIA_RECORD_ITEMS):
            self._append({"t": "media", "items": items[start : start + MEDIA_RECORD_ITEMS]})

    def _flush_histograms(self) -> None:
        if self._hist_dirty:
            self._hist_dirty = False
            self._append({"t": "file", "path": HISTOGRAM_FILE})

    def _append(self, data: dict | bytes) -> None:
        """Append a record (a dict, or a binary batch's bytes) to the WAL."""
        if self._memory_mode:
            self._append_memory(data)
            return
        try:
            payload = data if isinstance(data, bytes) else orjson.dumps(data)
        except TypeError as exc:
            self._report_once("encode", f"gradline: could not encode a record: {exc}")
            return
        try:
            self.wal.append(payload)
        except OSError as exc:
            self._memory_mode = True
            self.tail.disk_end = self.wal.offset
            self.report(
                f"gradline: cannot write {self.wal_path} ({exc.strerror or exc}); "
                "keeping records in memory from now on — they are lost if this process "
                "dies before they are uploaded"
            )
            self._append_memory(data)
            return
        self._wake_uploader.set()

    def _append_memory(self, data: dict | bytes) -> None:
        if self._uploader is None:
            return  # offline with a broken disk: nowhere to keep it (reported once above)
        if isinstance(data, bytes):
            payload, decoded = data, None
        else:
            payload, decoded = orjson.dumps(data), data
        size = len(encode_frame(payload))
        start = self.wal.offset
        self.wal.offset = start + size
        with self.tail.lock:
            self.tail.memory.append(Record(start, start + size, payload, decoded))
        self._wake_uploader.set()

    # -- files -------------------------------------------------------------------------
    def _snapshot_files(self, policies: tuple, only: tuple | None = None) -> None:
        """Copy saved files that changed into run_dir/files and queue their upload."""
        entries = [only] if only else [(g, b) for g, b, p in self._saved if p in policies]
        for glob_str, base_path in entries:
            for src, rel in expand_glob(glob_str, base_path):
                try:
                    stat = os.stat(src)
                except OSError:
                    continue
                sig = (stat.st_mtime_ns, stat.st_size)
                if self._file_sigs.get(rel) == sig:
                    continue
                dest = self.run_dir / FILES_DIR / rel
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if os.path.abspath(src) != os.path.abspath(dest):
                        shutil.copy2(src, dest)
                except OSError as exc:
                    self._report_once(f"copy:{rel}", f"gradline: cannot save {src}: {exc}")
                    continue
                self._file_sigs[rel] = sig
                self._append({"t": "file", "path": rel})

    # -- uploader ----------------------------------------------------------------------
    def _uploader_main(self) -> None:
        engine = self.engine
        assert engine is not None
        backoff = Backoff(cap=self.settings.retry_max_backoff)
        last_contact = time.monotonic()
        server_errors = 0  # consecutive HTTP 500 answers
        while not self._abort.is_set():
            try:
                if not self.state.created:
                    resp = engine.create()
                    if self.on_created is not None:
                        self.on_created(resp)
                did = engine.step()
                if did:
                    server_errors = 0
                    backoff.reset()
                    last_contact = time.monotonic()
                    self.last_ack_time = time.time()
                    self._set_connected(True, "")
                    continue
                if self._writer_done.is_set() and not engine.pending():
                    self.done.set()
                    return
                if time.monotonic() - last_contact >= self.settings.heartbeat_interval:
                    engine.heartbeat()
                    last_contact = time.monotonic()
                    self._set_connected(True, "")
                self._wake_uploader.wait(0.25)
                self._wake_uploader.clear()
            except CommError as exc:
                server_errors = server_errors + 1 if exc.status == 500 else 0
                # While the script runs, a 500 is retried with back-off (a redeployed
                # server picks the upload up again); once finish() waits, a few are enough.
                gave_up = self._closing and server_errors >= MAX_SERVER_ERRORS_CLOSING
                if not exc.retryable or gave_up:
                    self.failed = exc
                    self.report(
                        f"gradline: upload stopped: {exc.message}. Everything is kept in "
                        f"{self.run_dir}; fix the problem and run: gradline sync {self.run_dir}"
                    )
                    self.done.set()
                    return
                self._set_connected(False, exc.message)
                self._abort.wait(backoff.next(exc.retry_after))
            except Exception as exc:  # a bug must not kill uploading for good
                self._report_once(
                    f"bug:{type(exc).__name__}",
                    f"gradline: internal error in the uploader: {exc!r}",
                )
                self._abort.wait(backoff.next())

    def _set_connected(self, ok: bool, reason: str) -> None:
        if self.connected is ok:
            return
        previous = self.connected
        self.connected = ok
        if self.on_connection is not None and previous is not None:
            self.on_connection(ok, reason)

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.report(message)

    def unsent_bytes(self) -> int:
        return max(0, self.wal.offset - self.state.acked)


class _Batch:
    __slots__ = (
        "config",
        "console",
        "console_offset",
        "enc",
        "hist_seen",
        "pkey",
        "skey",
        "summary",
        "summary_auto",
        "system",
    )

    def __init__(self, keys: KeyTable):
        self.enc = Encoded(keys)
        self.system = Columns()
        self.pkey = self.enc.points.key  # the key columns, for cheap length checks
        self.skey = self.system.key
        self.console: list = []
        self.console_offset = 0
        self.config: dict = {}
        self.summary: dict = {}
        self.summary_auto: dict = {}
        self.hist_seen = 0


def expand_glob(glob_str: str, base_path: str | None) -> list[tuple[str, str]]:
    """(source path, path inside the run's files) pairs for a save() glob, as W&B does:
    relative globs keep their path relative to the working directory, absolute ones are
    relative to the glob's directory, unless base_path says otherwise."""
    expanded = os.path.expanduser(glob_str)
    if base_path is not None:
        root = os.path.abspath(os.path.expanduser(base_path))
    elif os.path.isabs(expanded):
        cut = min((expanded.find(c) for c in "*?[" if c in expanded), default=len(expanded))
        root = os.path.dirname(expanded[:cut])
    else:
        root = os.getcwd()
    pattern = os.path.abspath(expanded)
    out = []
    for src in sorted(globlib.glob(pattern, recursive=True)):
        if not os.path.isfile(src):
            continue
        rel = os.path.relpath(src, root)
        if rel.startswith(".."):
            rel = os.path.basename(src)
        out.append((src, rel.replace(os.sep, "/")))
    return out


def stderr_report(silent: bool) -> Callable[[str], None]:
    """Messages go to the real stderr (not through console capture), one line each."""

    def report(message: str) -> None:
        if silent and not message.startswith("gradline: upload stopped"):
            return
        with contextlib.suppress(OSError, ValueError, AttributeError):
            write_to_terminal(message.rstrip("\n") + "\n")

    return report
