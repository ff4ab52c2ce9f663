"""Uploading a run directory's WAL: the same engine serves the live background thread
and `gradline sync`.

Protocol: records are read from the acknowledged offset on; consecutive batch records
(binary "bin", JSON "b"/"p") are merged into one ingest request — binary batches by
joining their columns, sent as application/x-gradline-batch (JSON to a server that
does not take it); other records (file, finish, alert) are
barriers sent on their own. The acknowledged offset advances only after the server
answered 2xx, and is saved in `upload.json`. Anything re-sent after a lost response
or a crash is stored once by the server (exactly-once per (run, key, step), console
lines by their client offset), so the protocol only has to never skip a record.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import orjson

from gradline import batchfmt
from gradline.transport import CommError, HttpClient, gzip_bytes
from gradline.wal import BINARY_KIND, Record

STATE_FILE = "upload.json"
WAL_FILE = "run.wal"
FILES_DIR = "files"
HISTOGRAM_FILE = "media/histograms.jsonl"
MAX_REQUEST_BYTES = 12 * 1024 * 1024


class UploadState:
    """What the server has acknowledged; losing this file only causes harmless re-sends."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / STATE_FILE
        self.acked = 0
        self.created = False
        self.finished = False
        self.server: dict = {}
        try:
            data = orjson.loads(self.path.read_bytes())
            self.acked = int(data.get("acked", 0))
            self.created = bool(data.get("created", False))
            self.finished = bool(data.get("finished", False))
            self.server = data.get("server") or {}
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        self._lock = threading.Lock()

    def save(self) -> None:
        data = {
            "acked": self.acked,
            "created": self.created,
            "finished": self.finished,
            "server": self.server,
        }
        with self._lock:
            tmp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.{threading.get_ident()}")
            try:
                tmp.write_bytes(orjson.dumps(data))
                os.replace(tmp, self.path)
            except OSError:
                pass  # best effort: a stale state file means re-sending, never losing


class RunInfo:
    """The run record (first WAL record): where and what to create on the server."""

    def __init__(self, data: dict):
        self.id: str = data["id"]
        self.entity: str | None = data.get("entity")
        self.project: str = data.get("project") or "uncategorized"
        self.base_url: str | None = data.get("base_url")
        self.body: dict = data.get("body") or {}
        self.resume: str | None = data.get("resume")
        self.id_generated: bool = bool(data.get("id_generated", True))

    def project_path(self) -> str:
        team = quote(self.entity or "", safe="")
        return f"/api/v1/teams/{team}/projects/{quote(self.project, safe='')}"

    def run_path(self) -> str:
        return f"{self.project_path()}/runs/{quote(self.id, safe='')}"


class Stats:
    def __init__(self):
        self.requests = 0
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.points_sent = 0
        self.rejections: dict[str, int] = {}


class Uploader:
    """One run's upload engine. `source.read(offset)` returns records from `offset` on."""

    def __init__(
        self,
        run_dir: Path,
        client: HttpClient,
        info: RunInfo,
        state: UploadState,
        source: Any,
        *,
        max_points: int = 20000,
        report: Callable[[str], None] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.client = client
        self.info = info
        self.state = state
        self.source = source
        self.max_points = max(1, max_points)
        self.report = report or (lambda msg: None)
        self.stats = Stats()
        self._queue: deque[Record] = deque()
        self._read_pos = state.acked
        self._create_attempted = False
        self._reported: set = set()
        self.create_response: dict | None = None
        self.binary = True  # False once the server refused the binary format

    # -- run creation ------------------------------------------------------------------
    def create(self, timeout: float | None = None) -> dict:
        """Create or resume the run on the server. Raises CommError."""
        if not self.info.entity:  # started offline without a team: ask for the default
            viewer = self.client.json("GET", "/api/v1/viewer", timeout=timeout)
            self.info.entity = (viewer or {}).get("default_team")
            if not self.info.entity:
                raise CommError("this API key has no team; set entity", status=400)
        body = dict(self.info.body)
        body["id"] = self.info.id
        resume = self.info.resume
        if self.state.created or (self._create_attempted and resume != "must"):
            resume = "allow"  # it is ours already (or may be: a lost response)
        elif resume is None and self.info.id_generated:
            resume = "allow"  # a random id of ours: allow makes a retry idempotent
        body["resume"] = resume
        self._create_attempted = True
        resp = self.client.json(
            "POST", f"{self.info.project_path()}/runs", json=body, timeout=timeout, compress=True
        )
        self.state.created = True
        self.state.server = {k: resp.get(k) for k in ("name", "url", "state") if k in resp}
        self.state.save()
        self.create_response = resp
        return resp

    # -- reading -----------------------------------------------------------------------
    def _fill(self, want_points: int) -> None:
        points = sum(_points_of(r) for r in self._queue)
        size = sum(r.end - r.start for r in self._queue)
        while points < want_points and size < MAX_REQUEST_BYTES:
            records = self.source.read(self._read_pos)
            if not records:
                return
            for record in records:
                if record.start < self._read_pos:
                    continue
                self._queue.append(record)
                self._read_pos = record.end
                points += _points_of(record)
                size += record.end - record.start
            if len(records) == 0:
                return

    def pending(self) -> bool:
        """True if records past the acknowledged offset are available now."""
        self._fill(1)
        return bool(self._queue)

    def _ack(self, end: int) -> None:
        while self._queue and self._queue[0].end <= end:
            self._queue.popleft()
        if end > self.state.acked:
            self.state.acked = end
            self.state.save()
        drop = getattr(self.source, "drop_memory_before", None)
        if drop is not None:
            drop(end)

    # -- one step ----------------------------------------------------------------------
    def step(self) -> bool:
        """Send the next request. True if something was sent (or skipped), False if there
        was nothing to send. Raises CommError (check .retryable) when a request failed."""
        self._fill(self.max_points)
        if not self._queue:
            return False
        head = self._queue[0]
        kind = head.kind
        if kind in BATCH_KINDS:
            self._send_batches()
        elif kind == "file":
            self._send_file(head)
            self._ack(head.end)
        elif kind == "fin":
            self._send_finish(head)
            self._ack(head.end)
        elif kind == "alert":
            self._send_alert(head)
            self._ack(head.end)
        elif kind == "patch":
            self._send_patch(head)
            self._ack(head.end)
        elif kind == "media":
            self._send_media(head)
            self._ack(head.end)
        else:  # the run record, skipped damage, or kinds a newer SDK wrote
            self._ack(head.end)
        return True

    def _send_batches(self) -> None:
        taken: list[Record] = []
        points = 0
        size = 0
        family: str | None = None
        keys: list = []
        for record in self._queue:
            if record.kind not in BATCH_KINDS:
                break
            n = _points_of(record)
            rsize = len(record.payload) if record.payload else record.end - record.start
            if taken and (points + n > self.max_points or size + rsize > MAX_REQUEST_BYTES):
                break
            if taken and not _console_follows(taken, record):
                break
            mine = _family(record)
            if taken and family and mine and mine != family:
                break  # binary and JSON point records are sent in separate requests
            if mine == BINARY_KIND:
                theirs = record.data.get("keys") or []
                shorter, longer = sorted((keys, theirs), key=len)
                if longer[: len(shorter)] != shorter:
                    break  # another process's key table (a resumed run's WAL)
                keys = longer
            family = family or mine
            taken.append(record)
            points += n
            size += rsize
        self._post_ingest(_request_body(taken))
        self.stats.points_sent += points
        self._ack(taken[-1].end)

    def _post_ingest(self, body: dict | bytes, depth: int = 0) -> None:
        """POST one ingest body: a dict, JSON bytes or a binary batch (both forwarded as
        they are, gzipped)."""
        binary = isinstance(body, bytes) and batchfmt.is_batch(body)
        if binary and not self.binary:
            body, binary = batchfmt.to_json_body(body), False
        try:
            if isinstance(body, bytes):
                ctype = batchfmt.CONTENT_TYPE if binary else "application/json"
                resp = self.client.json(
                    "POST",
                    f"{self.info.run_path()}/ingest",
                    data=gzip_bytes(body),
                    headers={"Content-Type": ctype, "Content-Encoding": "gzip"},
                )
            else:
                resp = self.client.json(
                    "POST", f"{self.info.run_path()}/ingest", json=body, compress=True
                )
        except CommError as exc:
            # A server without the binary format: 415, or (older) 400 "not valid JSON".
            if binary and (exc.status == 415 or (exc.status == 400 and exc.code == "invalid_json")):
                self.binary = False
                self._post_ingest(batchfmt.to_json_body(body), depth)
                return
            too_big = exc.status == 413 or (exc.status == 400 and exc.code == "too_many_points")
            if too_big:
                if binary:
                    body = batchfmt.to_json_body(body)
                elif isinstance(body, bytes):
                    body = orjson.loads(body)
                halves = split_ingest(body)
                if halves is None or depth > 16:
                    self._report_once(
                        "too_big",
                        f"gradline: a record was refused as too large "
                        f"({exc.message}); it stays in {self.run_dir / WAL_FILE}",
                    )
                    return
                self.max_points = max(1, min(self.max_points, _body_points(body) // 2))
                for half in halves:
                    self._post_ingest(half, depth + 1)
                return
            if exc.status == 400:
                self._report_once(
                    f"400:{exc.code}",
                    f"gradline: the server refused a batch ({exc.message}); "
                    f"it stays in {self.run_dir / WAL_FILE}",
                )
                return
            raise
        self.stats.requests += 1
        if isinstance(resp, dict):
            self.stats.accepted += int(resp.get("accepted") or 0)
            self.stats.duplicates += int(resp.get("duplicates") or 0)
            self.stats.rejected += int(resp.get("rejected") or 0)
            for err in resp.get("errors") or []:
                reason = str(err.get("reason"))
                self.stats.rejections[reason] = self.stats.rejections.get(reason, 0) + 1
                self._report_once(
                    f"rej:{reason}",
                    f"gradline: the server rejected a {err.get('part', 'record')} record: {reason}",
                )

    def _send_file(self, record: Record) -> None:
        rel = record.data.get("path") or ""
        local = self.run_dir / FILES_DIR / rel
        try:
            fh = open(local, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            self._report_once(f"file:{rel}", f"gradline: cannot read {local} for upload: {exc}")
            return
        try:
            self.client.request(
                "PUT",
                f"{self.info.run_path()}/files/{quote(rel)}",
                data=fh,
                headers={"Content-Type": "application/octet-stream"},
                compress=False,
            )
        except CommError as exc:
            if exc.retryable:
                raise
            self._report_once(f"file:{rel}", f"gradline: file {rel} was refused: {exc.message}")
        finally:
            fh.close()

    def _send_finish(self, record: Record) -> None:
        body = {"exit_code": record.data.get("exit_code"), "state": record.data.get("state")}
        self.client.json("POST", f"{self.info.run_path()}/finish", json=body)
        self.state.finished = True

    def _send_alert(self, record: Record) -> None:
        """The alert itself (POST …/alerts: the server rate-limits and notifies; the id
        makes a re-sent record one alert), then the console line the run page shows."""
        data = record.data
        if data.get("id"):
            fields = ("id", "title", "text", "level", "wait_duration", "wall_time")
            body = {k: data.get(k) for k in fields}
            try:
                self.client.json("POST", f"{self.info.run_path()}/alerts", json=body)
            except CommError as exc:
                if exc.retryable:
                    raise
                self._report_once(f"alert:{exc.status}", f"gradline: alert refused: {exc.message}")
        line = (
            f"[gradline alert {data.get('level', 'INFO')}] {data.get('title')}: {data.get('text')}"
        )
        body = {"console": [["stderr", data.get("wall_time"), line]]}
        offset = data.get("console_offset")
        if offset is not None:
            body["console_offset"] = offset
        self.client.json("POST", f"{self.info.run_path()}/ingest", json=body)

    def _send_patch(self, record: Record) -> None:
        try:
            self.client.json(
                "PATCH", self.info.run_path(), json=record.data.get("d") or {}, compress=True
            )
        except CommError as exc:
            if exc.retryable:
                raise
            self._report_once(f"patch:{exc.status}", f"gradline: run update refused: {exc.message}")

    def _send_media(self, record: Record) -> None:
        """Register media items whose files were uploaded by the file records before
        this one. The server validates each item by content; a refused item is reported
        (once per reason) and the others are kept."""
        try:
            resp = self.client.json(
                "POST",
                f"{self.info.run_path()}/media",
                json={"items": record.data.get("items") or []},
                compress=True,
            )
        except CommError as exc:
            if exc.retryable:
                raise
            self._report_once(f"media:{exc.status}", f"gradline: media refused: {exc.message}")
            return
        for err in (resp or {}).get("errors") or []:
            self._report_once(
                f"media:{err.get('code')}:{err.get('key')}",
                f"gradline: the server refused media {err.get('key')!r} at step "
                f"{err.get('step')}: {err.get('message')}",
            )

    def heartbeat(self) -> None:
        self.client.json("POST", f"{self.info.run_path()}/heartbeat", json={})

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.report(message)


BATCH_KINDS = frozenset({"b", "p", BINARY_KIND})
# What every points-only JSON record ("t": "p") starts with: SDKs before the binary
# format wrote them; such WALs still sync, spliced at the byte level.
POINTS_PREFIX = b'{"t":"p","heartbeat":true,"points":['


def _points_of(record: Record) -> int:
    if record.kind == BINARY_KIND:
        data = record.data
        return int(data.get("n_points") or 0) + int(data.get("n_system") or 0)
    payload = record.payload
    if payload.startswith(POINTS_PREFIX):
        # Counting separators is exact unless a key contains "],[" (then it over-counts,
        # which only makes batches smaller).
        return payload.count(b"],[") + 1
    data = record.data
    return len(data.get("points") or ()) + len(data.get("system") or ())


def _family(record: Record) -> str | None:
    """How a batch record carries points: "bin", "json", or None (it has none)."""
    if record.kind == BINARY_KIND:
        return BINARY_KIND
    if record.kind == "p":
        return "json"
    data = record.data
    return "json" if data.get("points") or data.get("system") else None


def _console_follows(taken: list[Record], record: Record) -> bool:
    """Console lines in one request must be contiguous in client offsets."""
    if record.kind == "p" or "console" not in record.data:
        return True
    last_end = None
    for r in taken:
        if r.kind != "p" and "console" in r.data:
            last_end = r.data["console_offset"] + len(r.data["console"])
    return last_end is None or last_end == record.data["console_offset"]


def _request_body(records: list[Record]) -> dict | bytes:
    """The ingest body for consecutive batch records: the payload itself for one record,
    the columns of binary records joined (their parts merged), a byte-level splice for
    JSON points-only records, a decoded merge otherwise."""
    if len(records) == 1 and records[0].payload:
        return records[0].payload
    binary = [batchfmt.Decoded(r.payload) for r in records if r.kind == BINARY_KIND]
    if binary:
        parts = build_ingest(
            [d.parts() for d in binary] if len(binary) == len(records) else _parts_of(records)
        )
        keys = max((d.keys for d in binary), key=len)
        return batchfmt.merge(binary, keys, parts)
    if all(r.payload.startswith(POINTS_PREFIX) for r in records):
        cut = len(POINTS_PREFIX)
        return POINTS_PREFIX + b",".join(r.payload[cut:-2] for r in records) + b"]}"
    return build_ingest([r.data for r in records])


def _parts_of(records: list[Record]) -> list[dict]:
    """Each record's non-point parts, in order (binary headers, JSON records)."""
    skip = ("t", "keys", "n_points", "n_system")
    return [{k: v for k, v in r.data.items() if k not in skip} for r in records]


_LIST_PARTS = ("points", "system", "console")


def _body_points(body: dict) -> int:
    return sum(len(body.get(k) or ()) for k in ("points", "system"))


def split_ingest(body: dict) -> tuple[dict, dict] | None:
    """Two bodies that together carry what `body` does, or None if it cannot be split."""
    items = [(part, item) for part in _LIST_PARTS for item in body.get(part) or ()]
    if len(items) < 2:
        return None
    mid = len(items) // 2
    first: dict = {k: v for k, v in body.items() if k not in _LIST_PARTS}
    second: dict = {"heartbeat": True}
    for target, chunk in ((first, items[:mid]), (second, items[mid:])):
        for part, item in chunk:
            target.setdefault(part, []).append(item)
    first.pop("console_offset", None)
    if "console" in first:
        first["console_offset"] = body["console_offset"]
    if "console" in second:
        second["console_offset"] = body["console_offset"] + len(first.get("console", ()))
    return first, second


def build_ingest(parts: list[dict]) -> dict:
    """Merge batch records (in order) into one ingest body."""
    body: dict = {"heartbeat": True}
    points: list = []
    system: list = []
    console: list = []
    summary: dict = {}
    config: dict = {}
    console_offset = None
    for part in parts:
        if "points" in part:
            points.extend(part["points"])
        if "system" in part:
            system.extend(part["system"])
        if "summary" in part:
            summary.update(part["summary"])
        if "config" in part:
            config.update(part["config"])
        if "console" in part:
            if console_offset is None:
                console_offset = part["console_offset"]
            console.extend(part["console"])
    if points:
        body["points"] = points
    if system:
        body["system"] = system
    if summary:
        body["summary"] = summary
    if config:
        body["config"] = config
    if console:
        body["console"] = console
        body["console_offset"] = console_offset
    return body
