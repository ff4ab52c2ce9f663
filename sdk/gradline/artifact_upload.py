"""Getting artifacts to the server without losing them.

`log_artifact` hashes the files into the content cache and writes a pending record in
the run directory (`artifacts/NNNNNN.json`); so do `use_artifact` (lineage) and
`link_model` / `link_artifact` (registry links). Records are processed in order, by a
background thread of the live run (`ArtifactWorker`) or by `gradline sync`
(`sync_records`), with the same retry, back-off and Retry-After behaviour as metric
uploads. Every step is idempotent on the server (blobs by SHA-256, versions by manifest
digest, usages and links by their source), so a record re-sent after a crash or a lost
answer stores nothing twice; a record is marked done only after the server answered.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import orjson

from gradline.artifact_store import ContentCache
from gradline.settings import Settings
from gradline.transfers import (
    SMALL_FILE,
    each_in_parallel,
    in_bundles,
    note_if_route_absent,
    route_absent,
)
from gradline.transport import Backoff, CommError, GradlineError, HttpClient
from gradline.uploader import RunInfo, UploadState

PENDING_DIR = "artifacts"
MISSING_BATCH = 10_000
BLOB_BUNDLE = "artifact-blobs/bundle"
MAX_SERVER_ERRORS_CLOSING = 3
DONE, PENDING, FAILED = "done", "pending", "failed"


class ArtifactUploadError(GradlineError):
    """A record that cannot succeed as it is (its cached copy is gone, the artifact it
    refers to failed): retrying does not help."""


def _q(part: str) -> str:
    return quote(str(part), safe="")


class PendingRecords:
    """The run directory's `artifacts/` folder: one JSON file per record, rewritten
    atomically when its state changes."""

    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir) / PENDING_DIR
        self._next: int | None = None
        self._lock = threading.Lock()

    def load(self) -> list[dict]:
        records = []
        try:
            names = sorted(os.listdir(self.dir))
        except OSError:
            return []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                record = orjson.loads((self.dir / name).read_bytes())
            except (OSError, ValueError):
                continue  # a torn write of a temporary file never gets a .json name
            if isinstance(record, dict) and isinstance(record.get("seq"), int):
                records.append(record)
        return sorted(records, key=lambda r: r["seq"])

    def unfinished(self) -> list[dict]:
        return [r for r in self.load() if r.get("state") != DONE]

    def add(self, record: dict) -> dict:
        with self._lock:
            if self._next is None:
                self._next = max((r["seq"] for r in self.load()), default=0) + 1
            record = {"v": 1, "seq": self._next, "state": PENDING, **record}
            self._next += 1
        self.save(record)
        return record

    def save(self, record: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.dir / f"{record['seq']:06d}.json"
        tmp = self.dir / f".{final.name}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_bytes(orjson.dumps(record))
        os.replace(tmp, final)


def has_unfinished(run_dir: Path | str) -> bool:
    return bool(PendingRecords(run_dir).unfinished())


# -- the protocol (docs/registry.md "Uploading a version") ----------------------------
def upload_version(client: HttpClient, project_path: str, record: dict, run_uid: str | None):
    """Blobs the team lacks, then the version. Returns the version object."""
    cache = ContentCache(record["cache"])
    files = record["files"]
    sizes = {f["sha256"]: f["size"] for f in files}
    digests = sorted(sizes)
    missing: list[str] = []
    for i in range(0, len(digests), MISSING_BATCH):
        answer = client.json(
            "POST",
            f"{project_path}/artifact-blobs/missing",
            json={"sha256": digests[i : i + MISSING_BATCH]},
        )
        missing.extend((answer or {}).get("missing") or [])
    _put_blobs(client, project_path, cache, missing, sizes)
    body = {
        "type": record["type"],
        "description": record.get("description") or "",
        "metadata": record.get("metadata") or {},
        "aliases": record.get("aliases") or [],
        "run": run_uid,
        "files": files,
    }
    if record.get("tags"):
        body["tags"] = record["tags"]
    if record.get("ttl_seconds") is not None:  # Artifact.ttl; absent: never expires
        body["ttl_seconds"] = record["ttl_seconds"]
    if record.get("references"):  # only then: a server without references still takes the rest
        body["references"] = record["references"]
    url = f"{project_path}/artifacts/{_q(record['name'])}/versions"
    for _ in range(3):
        try:
            return client.json("POST", url, json=body)
        except CommError as exc:
            gone = (exc.detail or {}).get("missing") if isinstance(exc.detail, dict) else None
            if exc.status == 409 and exc.code == "missing_blobs" and gone:
                _put_blobs(client, project_path, cache, gone, sizes)  # collected since we asked
                continue
            raise
    raise ArtifactUploadError(f"artifact {record['name']}: blobs keep disappearing on the server")


def _put_blobs(
    client: HttpClient, project_path: str, cache: ContentCache, digests, sizes: dict[str, int]
) -> None:
    """Small blobs in tar bundles, the others one PUT each, on parallel threads."""
    digests = list(digests)
    small = [d for d in digests if sizes.get(d, SMALL_FILE) < SMALL_FILE]
    if len(small) < 2 or route_absent(client, BLOB_BUNDLE):
        small = []  # a bundle of one saves nothing
    bundled = set(small)
    jobs: list[tuple[bool, list[str]]] = [(False, [d]) for d in digests if d not in bundled]
    jobs += [(True, bundle) for bundle in in_bundles(small, lambda d: sizes[d])]

    def put(thread_client: HttpClient, job: tuple[bool, list[str]]) -> None:
        is_bundle, members = job
        if is_bundle:
            members = _put_bundle(client, thread_client, project_path, cache, members)
        for sha256 in members:
            _put_blob(thread_client, project_path, cache, sha256)

    each_in_parallel(client, jobs, put)


def _put_bundle(
    client: HttpClient,
    thread_client: HttpClient,
    project_path: str,
    cache: ContentCache,
    digests: list[str],
) -> list[str]:
    """POST one tar of cached blobs; returns the digests to send one by one (those the
    server rejected, or all of them when it has no bundle route or refuses the size)."""
    if route_absent(client, BLOB_BUNDLE):
        return digests
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for sha256 in digests:
            content = _read_cached(cache, sha256)
            info = tarfile.TarInfo(sha256)
            info.size, info.mode = len(content), 0o644
            archive.addfile(info, io.BytesIO(content))
    try:
        answer = thread_client.json(
            "POST",
            f"{project_path}/{BLOB_BUNDLE}",
            data=body.getvalue(),
            headers={"Content-Type": "application/x-tar"},
        )
    except CommError as exc:
        if note_if_route_absent(client, BLOB_BUNDLE, exc) or exc.status == 413:
            return digests
        raise  # retryable ones: the record is retried with back-off, as elsewhere
    ours = set(digests)
    rejected = [r.get("sha256") for r in (answer or {}).get("rejected") or []]
    # A single PUT says precisely what is wrong (a damaged cached copy raises there).
    return [sha256 for sha256 in dict.fromkeys(rejected) if sha256 in ours]


def _read_cached(cache: ContentCache, sha256: str) -> bytes:
    path = cache.path(sha256)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _cached_copy_gone(path, exc) from None


def _cached_copy_gone(path: Path, exc: OSError) -> ArtifactUploadError:
    return ArtifactUploadError(
        f"the cached copy {path} is gone ({exc.strerror or exc}); log the artifact again"
    )


def _put_blob(client: HttpClient, project_path: str, cache: ContentCache, sha256: str) -> None:
    path = cache.path(sha256)
    try:
        size = path.stat().st_size
        fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise _cached_copy_gone(path, exc) from None
    try:
        body = fh.read() if size < SMALL_FILE else fh
        client.request(
            "PUT",
            f"{project_path}/artifact-blobs/{sha256}",
            data=body,
            headers={"Content-Type": "application/octet-stream"},
        )
    except CommError as exc:
        if exc.code == "digest_mismatch":
            path.unlink(missing_ok=True)
            raise ArtifactUploadError(
                f"the cached copy of {sha256} was damaged; log the artifact again"
            ) from None
        raise
    finally:
        fh.close()


def _source(record: dict, by_seq: dict[int, dict]) -> dict:
    """{"project", "name", "ref"} of the version a use/link record refers to."""
    source = record["source"]
    if "seq" not in source:
        return {"project": source["project"], "name": source["name"], "ref": source["ref"]}
    logged = by_seq.get(source["seq"])
    if logged is None or logged.get("state") != DONE:
        raise ArtifactUploadError("the artifact it refers to was not uploaded")
    result = logged["result"]
    return {"project": result["project"], "name": result["name"], "ref": result["version"]}


def process(client: HttpClient, info: RunInfo, record: dict, by_seq: dict[int, dict]) -> dict:
    """Send one record; returns what the server answered (kept in the record)."""
    kind = record["kind"]
    if kind == "log":
        version = upload_version(client, info.project_path(), record, info.id)
        bulky = ("files", "references", "used_by")
        return {k: v for k, v in (version or {}).items() if k not in bulky}
    if kind == "use":
        source = _source(record, by_seq)
        used = client.json("POST", f"{info.run_path()}/used-artifacts", json=source)
        return {k: (used or {}).get(k) for k in ("project", "name", "version", "digest")}
    if kind == "link":
        source = _source(record, by_seq)
        body = {
            "project": source["project"],
            "artifact": source["name"],
            "ref": source["ref"],
            "aliases": record.get("aliases") or [],
        }
        team = f"/api/v1/teams/{_q(info.entity or '')}"
        link = client.json(
            "POST", f"{team}/registered-models/{_q(record['registered_model'])}/versions", json=body
        )
        return {k: (link or {}).get(k) for k in ("version", "index", "aliases")}
    raise ArtifactUploadError(f"unknown artifact record kind {kind!r}")


def describe(record: dict) -> str:
    if record["kind"] == "log":
        return f"artifact {record['name']}"
    if record["kind"] == "link":
        return f"link to registered model {record['registered_model']}"
    source = record["source"]
    return f"use of {source.get('name', 'a logged artifact')}"


# -- gradline sync ---------------------------------------------------------------------
def sync_records(
    run_dir: Path,
    client: HttpClient,
    info: RunInfo,
    *,
    settings: Settings,
    deadline: float,
    report: Callable[[str], None],
) -> tuple[int, list[str]]:
    """Process the run directory's unfinished records in order. Returns (records sent,
    error messages)."""
    records = PendingRecords(run_dir)
    all_records = records.load()
    by_seq = {r["seq"]: r for r in all_records}
    sent = 0
    errors: list[str] = []
    backoff = Backoff(cap=settings.retry_max_backoff)
    for record in all_records:
        if record.get("state") == DONE:
            continue
        while True:
            try:
                record["result"] = process(client, info, record, by_seq)
            except CommError as exc:
                if exc.retryable and time.monotonic() < deadline:
                    time.sleep(backoff.next(exc.retry_after))
                    continue
                _fail(records, record, exc.message)
                errors.append(f"{describe(record)}: {exc.message}")
            except ArtifactUploadError as exc:
                _fail(records, record, str(exc))
                errors.append(f"{describe(record)}: {exc}")
            else:
                record["state"], record["error"] = DONE, None
                records.save(record)
                sent += 1
                backoff.reset()
            break
    for message in errors:
        report(f"gradline: {run_dir.name}: {message}")
    return sent, errors


def _fail(records: PendingRecords, record: dict, message: str) -> None:
    record["state"], record["error"] = FAILED, message
    records.save(record)


# -- the live run ----------------------------------------------------------------------
class ArtifactWorker:
    """One run's artifact records: written at once by the caller, sent by a thread of
    their own (started by the first record) so big files never hold up metrics."""

    def __init__(
        self,
        run_dir: Path,
        settings: Settings,
        info: RunInfo,
        state: UploadState,
        *,
        upload: bool,
        report: Callable[[str], None],
    ):
        self.records = PendingRecords(run_dir)
        self.run_dir = Path(run_dir)
        self.settings = settings
        self.info = info
        self.state = state
        self.upload = upload
        self.report = report
        self.items: list[dict] = []
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._reported: set = set()

    def submit(self, record: dict) -> dict:
        record = self.records.add(record)
        with self._cond:
            self.items.append(record)
            self._cond.notify_all()
        if self.upload and self._thread is None and not self._abort.is_set():
            self._thread = threading.Thread(
                target=self._main, name="gradline-artifacts", daemon=True
            )
            self._thread.start()
        return record

    def wait(self, records: list[dict], timeout: float | None) -> bool:
        """Block until `records` are done or failed (True), or the timeout passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while any(r["state"] == PENDING for r in records):
                if not self.upload or self._abort.is_set():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 1.0)
        return True

    def related(self, project: str, name: str, registry: bool) -> list[dict]:
        """This run's unfinished records that a read of project/name must wait for."""
        with self._cond:
            if registry:
                return [
                    r
                    for r in self.items
                    if r["kind"] == "link"
                    and r["registered_model"] == name
                    and r["state"] == PENDING
                ]
            return [
                r
                for r in self.items
                if r["kind"] == "log"
                and r["name"] == name
                and project == self.info.project
                and r["state"] == PENDING
            ]

    def unfinished(self) -> list[dict]:
        with self._cond:
            return [r for r in self.items if r["state"] != DONE]

    def close(self, timeout: float) -> bool:
        """Wait (bounded) for every record; True when the server has them all."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self.upload:
            self.wait(list(self.items), max(0.0, timeout))
        self.abort()
        return not self.unfinished()

    def abort(self) -> None:
        self._abort.set()
        with self._cond:
            self._cond.notify_all()

    def _next(self) -> dict | None:
        with self._cond:
            return next((r for r in self.items if r["state"] == PENDING), None)

    def _main(self) -> None:
        client = HttpClient(
            self.settings.base_url, self.settings.api_key, self.settings.http_timeout
        )
        backoff = Backoff(cap=self.settings.retry_max_backoff)
        server_errors = 0
        try:
            while not self._abort.is_set():
                record = self._next()
                if record is None or not self.state.created:
                    with self._cond:  # nothing to do, or the run is not on the server yet
                        self._cond.wait(0.25)
                    continue
                try:
                    by_seq = {r["seq"]: r for r in self.items}
                    result = process(client, self.info, record, by_seq)
                except CommError as exc:
                    server_errors = server_errors + 1 if exc.status == 500 else 0
                    gave_up = self._closing and server_errors >= MAX_SERVER_ERRORS_CLOSING
                    if exc.retryable and not gave_up:
                        self._report_once(
                            "waiting",
                            f"gradline: artifact upload waiting for the server ({exc.message}); "
                            "it resumes by itself",
                        )
                        self._abort.wait(backoff.next(exc.retry_after))
                        continue
                    self._finish(record, FAILED, error=exc.message)
                except ArtifactUploadError as exc:
                    self._finish(record, FAILED, error=str(exc))
                except Exception as exc:  # a bug must not stop the other records for good
                    self._report_once(
                        f"bug:{type(exc).__name__}",
                        f"gradline: internal error in the artifact uploader: {exc!r}",
                    )
                    self._abort.wait(backoff.next())
                else:
                    server_errors = 0
                    backoff.reset()
                    self._finish(record, DONE, result=result)
        finally:
            client.close()

    def _finish(self, record: dict, state: str, *, result=None, error=None) -> None:
        with self._cond:
            record["state"], record["error"] = state, error
            if result is not None:
                record["result"] = result
        try:
            self.records.save(record)
        except OSError as exc:
            self._report_once("save", f"gradline: cannot update {self.records.dir}: {exc}")
        if state == FAILED:
            self.report(
                f"gradline: {describe(record)} was not uploaded: {error}. It stays in "
                f"{self.run_dir}; retry with: gradline sync {self.run_dir}"
            )
        with self._cond:
            self._cond.notify_all()

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.report(message)
