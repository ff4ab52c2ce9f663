"""Production prediction logging (docs/monitoring.md "SDK").

    from gradline.monitoring import Monitor

    monitor = Monitor.create("fraud-prod", registered_model="fraud", alias="production",
                             features=[{"name": "amount", "type": "numeric"}],
                             prediction_type="binary")
    monitor.set_reference(train_df, predictions=train_scores)
    monitor.log("req-1", {"amount": 12.5}, 0.93, latency_ms=4.1)   # never blocks on I/O
    monitor.log_ground_truth("req-1", 1)                            # later, by id
    monitor.close()

The logger is safe to share between the threads of a web service: `log()` appends to an
in-memory buffer under a lock and returns; a writer thread frames batches into a
write-ahead log (gradline.wal, checksummed records) and an uploader thread sends them
(gradline.transport) with exponential back-off and Retry-After, acknowledging the WAL
offset only after the server answered. The server stores each prediction id once, so a
batch re-sent after a lost response (or by `sync()` after a crash) is harmless. A server
outage never raises into the caller; `close()` waits a bounded time, and what did not
reach the server stays in the WAL for `gradline.monitoring.sync()`.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from gradline import settings as settings_mod
from gradline import wal
from gradline.transport import Backoff, CommError, HttpClient, UsageError

BATCH = 5000  # records per request (the server takes at most 10,000)
MAX_REFERENCE_ROWS = 200_000
KEEP_REJECTED = 1000


def _team_path(entity: str, name: str) -> str:
    return f"/api/v1/teams/{entity}/monitors/{name}"


def _resolve(entity: str | None, settings: Any) -> tuple[settings_mod.Settings, str]:
    resolved = settings_mod.load(settings)
    entity = entity or resolved.entity
    if not entity:
        client = HttpClient(resolved.base_url, resolved.api_key, resolved.http_timeout)
        try:
            viewer = client.json("GET", "/api/v1/viewer")
        finally:
            client.close()
        entity = (viewer or {}).get("default_team")
        if not entity:
            raise UsageError("give entity= (this API key has no team)")
    return resolved, entity


def _jsonable(value: Any) -> Any:
    """numpy / pandas scalars and arrays as plain JSON values; NaN as "NaN"."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value
    if hasattr(value, "tolist"):
        value = value.tolist()
        if isinstance(value, list):
            return [_jsonable(v) for v in value]
        return _jsonable(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def _columns(data: Any) -> dict[str, list]:
    """A pandas DataFrame, a dict of sequences or a list of dicts, as columns."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return {str(c): [_jsonable(v) for v in data[c].tolist()] for c in data.columns}
    if isinstance(data, dict):
        return {str(k): [_jsonable(v) for v in list(vs)] for k, vs in data.items()}
    rows = list(data)
    names = sorted({k for row in rows for k in row})
    return {k: [_jsonable(row.get(k)) for row in rows] for k in names}


class Monitor:
    """A production monitor on the server, and this process's logger for it."""

    def __init__(
        self,
        name: str,
        *,
        entity: str | None = None,
        settings: Any = None,
        dir: str | os.PathLike | None = None,
        batch_size: int = BATCH,
        flush_interval: float = 0.2,
    ):
        self.settings, self.entity = _resolve(entity, settings)
        self.name = name
        self.path = _team_path(self.entity, name)
        self.batch_size = max(1, min(int(batch_size), 10_000))
        self.flush_interval = flush_interval
        self.accepted = 0
        self.duplicates = 0
        self.rejected: list[dict] = []
        self.failed: list[str] = []  # batches the server refused outright (4xx)
        self._client = HttpClient(
            self.settings.base_url, self.settings.api_key, self.settings.http_timeout
        )
        root = Path(dir) if dir else self.settings.root_dir / "monitoring"
        folder = root / self.entity / name
        folder.mkdir(parents=True, exist_ok=True)
        session = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.wal_path = str(folder / f"{session}.wal")
        self._writer = wal.WalWriter(self.wal_path, fsync=self.settings.wal_fsync)
        self._writer.append(
            orjson.dumps(
                {
                    "t": "h",
                    "base_url": self.settings.base_url,
                    "entity": self.entity,
                    "monitor": name,
                }
            )
        )
        self._acked = self._writer.offset
        self._state = _State(self.wal_path)
        self._state.save(self._acked)
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._buffer: list[tuple[str, dict]] = []
        self._written = threading.Condition()
        self._wal_end = self._writer.offset
        self._stop = threading.Event()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._write_loop, name="gradline-monitor-wal", daemon=True),
            threading.Thread(target=self._upload_loop, name="gradline-monitor-upload", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        _live.add(self)

    # ------------------------------------------------------------------ server side

    @classmethod
    def create(
        cls,
        name: str,
        *,
        registered_model: str,
        features: list[dict],
        prediction_type: str,
        alias: str | None = None,
        version: int | str | None = None,
        classes: list | None = None,
        window: str = "hourly",
        retention_days: int = 30,
        drift: dict | None = None,
        entity: str | None = None,
        settings: Any = None,
        exist_ok: bool = True,
        **logger: Any,
    ) -> Monitor:
        """Create the monitor on the server (or reuse it when exist_ok), then log to it."""
        resolved, entity = _resolve(entity, settings)
        body = {
            "name": name,
            "registered_model": registered_model,
            "features": features,
            "prediction_type": prediction_type,
            "window": window,
            "retention_days": retention_days,
        }
        if alias is not None:
            body["alias"] = alias
        if version is not None:
            body["version"] = version
        if classes is not None:
            body["classes"] = classes
        if drift is not None:
            body["drift"] = drift
        client = HttpClient(resolved.base_url, resolved.api_key, resolved.http_timeout)
        try:
            client.json("POST", f"/api/v1/teams/{entity}/monitors", json=body)
        except CommError as exc:
            if not (exist_ok and exc.status == 409):
                raise
        finally:
            client.close()
        return cls(name, entity=entity, settings=resolved, **logger)

    def info(self) -> dict:
        return self._client.json("GET", self.path)

    def set_reference(
        self, data: Any, predictions: Iterable | None = None, *, max_rows: int = MAX_REFERENCE_ROWS,
        seed: int = 0,
    ) -> dict:  # fmt: skip
        """Profile reference data (training or validation) on the server: a DataFrame, a
        dict of columns or a list of row dicts, plus optional predictions. Larger frames
        are sampled down to `max_rows` rows (a seeded, uniform sample)."""
        columns = _columns(data)
        preds = [_jsonable(p) for p in predictions] if predictions is not None else None
        n = len(next(iter(columns.values()), preds or []))
        if n > max_rows:
            import random

            keep = sorted(random.Random(seed).sample(range(n), max_rows))
            columns = {k: [v[i] for i in keep] for k, v in columns.items()}
            preds = [preds[i] for i in keep] if preds is not None else None
        body: dict = {"columns": columns}
        if preds is not None:
            body["predictions"] = preds
        return self._client.json("PUT", f"{self.path}/reference", json=body, timeout=300)

    def metrics(
        self, start: float | None = None, end: float | None = None, format: str = "windows"
    ) -> dict:
        """Window metrics: per window objects ("windows") or the dashboard's columnar
        series ("series")."""
        params = {k: v for k, v in {"from": start, "to": end}.items() if v is not None}
        if format == "windows":
            params["view"] = "windows"
        return self._client.json("GET", f"{self.path}/metrics", params=params)

    def drift(self, window: float | None = None, version: str | None = None) -> dict:
        params = {k: v for k, v in {"window": window, "version": version}.items() if v}
        return self._client.json("GET", f"{self.path}/drift", params=params)

    # ------------------------------------------------------------------ logging

    def log(
        self,
        id: str | int,
        features: dict,
        prediction: Any = None,
        *,
        time: float | str | None = None,
        latency_ms: float | None = None,
        version: int | None = None,
        error: str | None = None,
        scores: Any = None,
    ) -> None:
        """Queue one prediction; returns at once (no I/O). `time` defaults to now."""
        record: dict = {
            "id": id,
            "time": _now() if time is None else time,
            "features": features,
        }
        if prediction is not None:
            record["prediction"] = prediction
        if latency_ms is not None:
            record["latency_ms"] = latency_ms
        if version is not None:
            record["version"] = version
        if error is not None:
            record["error"] = error
        if scores is not None:
            record["scores"] = scores
        self._queue("p", record)

    def log_ground_truth(self, id: str | int, target: Any) -> None:
        """Queue the true outcome of prediction `id` (joined on the server)."""
        self._queue("g", {"id": id, "target": target})

    def _queue(self, kind: str, record: dict) -> None:
        if self._closed:
            raise UsageError("this monitor logger is closed")
        with self._lock:
            self._buffer.append((kind, record))

    def _drain(self) -> int:
        with self._drain_lock:  # the WAL writer has one caller at a time
            return self._drain_locked()

    def _drain_locked(self) -> int:
        with self._lock:
            taken, self._buffer = self._buffer, []
        if not taken:
            return 0
        batch: list[dict] = []
        kind = taken[0][0]
        for k, record in taken:
            if k != kind or len(batch) >= self.batch_size:
                self._append(kind, batch)
                batch, kind = [], k
            batch.append(record)
        self._append(kind, batch)
        return len(taken)

    def _append(self, kind: str, batch: list[dict]) -> None:
        if not batch:
            return
        payload = orjson.dumps(
            {"t": kind, "records": batch}, default=_jsonable, option=orjson.OPT_SERIALIZE_NUMPY
        )
        end = self._writer.append(payload)
        with self._written:
            self._wal_end = end
            self._written.notify_all()

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.flush_interval)
            try:
                self._drain()
            except Exception as exc:
                self.failed.append(f"wal: {exc}")

    def _upload_loop(self) -> None:
        tail = wal.WalTail(self.wal_path)
        backoff = Backoff(cap=self.settings.retry_max_backoff)
        try:
            while True:
                with self._written:
                    if self._acked >= self._wal_end:
                        if self._stop.is_set():
                            return
                        self._written.wait(0.5)
                        continue
                for record in tail.read(self._acked):
                    if not self._send(record, backoff):
                        return
                    self._acked = record.end
                    self._state.save(self._acked)
                with self._written:
                    self._written.notify_all()
        finally:
            tail.close()

    def _send(self, record: wal.Record, backoff: Backoff) -> bool:
        """Upload one WAL record until the server answers (False: gave up at close)."""
        result = send_record(self._client, self.path, record, self._stop, self._deadline, backoff)
        if result is None:
            return False
        kind, body = result
        if kind == "error":
            self.failed.append(body)
        elif body:
            self.accepted += body.get("accepted", 0)
            self.duplicates += body.get("duplicates", 0)
            self.rejected.extend(body.get("rejected", []))
            del self.rejected[:-KEEP_REJECTED]
        return True

    _deadline: float | None = None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything logged so far reached the server (True) or `timeout`."""
        self._drain()
        deadline = time.monotonic() + timeout
        with self._written:
            target = self._wal_end
            while self._acked < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._threads[1].is_alive():
                    return False
                self._written.wait(min(left, 0.5))
        return True

    @property
    def pending(self) -> bool:
        return self._acked < self._wal_end or bool(self._buffer)

    def close(self, timeout: float = 30.0) -> bool:
        """Flush within `timeout`, stop the threads; True when nothing is left unsent
        (otherwise the WAL keeps it for sync())."""
        if self._closed:
            return not self.pending
        self._closed = True
        done = self.flush(timeout)
        self._deadline = time.monotonic()  # stop retrying what is still failing
        self._stop.set()
        with self._written:
            self._written.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._drain()
        self._writer.close()
        self._client.close()
        _live.discard(self)
        if done and not self.pending:
            _State(self.wal_path).remove_done()
        return done and not self.pending

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _now() -> float:
    return time.time()


def send_record(client, path, record, stop, deadline, backoff):
    """("ok", response body) | ("error", message) for a refused batch | None when the
    logger closed while the server stayed unreachable. Headers ("h") are skipped."""
    kind = record.kind
    if kind not in ("p", "g"):
        return "ok", None
    route = f"{path}/predictions" if kind == "p" else f"{path}/ground-truth"
    while True:
        try:
            resp = client.request(
                "POST",
                route,
                data=record.payload,
                headers={"Content-Type": "application/json"},
            )
            backoff.reset()
            return "ok", orjson.loads(resp.content)
        except CommError as exc:
            if not exc.retryable:
                return "error", str(exc)
            wait = backoff.next(exc.retry_after)
        if stop.is_set() and (deadline is None or time.monotonic() >= deadline):
            return None
        stop.wait(wait) if not stop.is_set() else time.sleep(min(wait, 0.2))


class _State:
    """The acknowledged WAL offset, next to the WAL (<session>.wal.acked)."""

    def __init__(self, wal_path: str):
        self.path = wal_path + ".acked"
        self.wal_path = wal_path

    def save(self, offset: int) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(offset))
        os.replace(tmp, self.path)

    def load(self) -> int:
        try:
            return int(Path(self.path).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def remove_done(self) -> None:
        for p in (self.wal_path, self.path):
            with contextlib.suppress(OSError):
                os.remove(p)


def sync(dir: str | os.PathLike | None = None, *, settings: Any = None) -> dict:
    """Upload what earlier loggers left in their WALs (a crash, an outage at close).
    Returns {"files", "accepted", "duplicates", "rejected"}; a WAL fully sent is removed."""
    resolved = settings_mod.load(settings)
    root = Path(dir) if dir else resolved.root_dir / "monitoring"
    totals = {"files": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    live = {m.wal_path for m in _live}
    for path in sorted(root.rglob("*.wal")):
        if str(path) in live:
            continue
        state = _State(str(path))
        acked = state.load()
        result = wal.read_all(str(path))
        header = next((r.data for r in result.records if r.kind == "h"), None)
        if header is None:
            continue
        client = HttpClient(header.get("base_url") or resolved.base_url, resolved.api_key)
        stop = threading.Event()
        stop.set()
        try:
            for record in result.records:
                if record.end <= acked:
                    continue
                out = send_record(
                    client, _team_path(header["entity"], header["monitor"]), record, stop,
                    time.monotonic() + 60, Backoff(),
                )  # fmt: skip
                if out is None:
                    break
                kind, body = out
                if kind == "ok" and body:
                    totals["accepted"] += body.get("accepted", 0)
                    totals["duplicates"] += body.get("duplicates", 0)
                    totals["rejected"] += len(body.get("rejected", []))
                acked = record.end
                state.save(acked)
        finally:
            client.close()
        totals["files"] += 1
        if acked >= result.end:
            state.remove_done()
    return totals


_live: weakref.WeakSet[Monitor] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for monitor in list(_live):
        with contextlib.suppress(Exception):
            monitor.close(timeout=min(10.0, monitor.settings.finish_timeout))
