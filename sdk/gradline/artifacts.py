"""Artifacts and models, W&B style: `Artifact`, and what `Run.log_artifact`,
`use_artifact`, `log_model`, `use_model`, `link_model` and `link_artifact` do.

Logging hashes the files into the content cache and leaves a pending record; the run's
artifact thread uploads it (artifact_upload.py). Reading fetches a version's manifest
and downloads the files through the same cache, checking every SHA-256.
"""

from __future__ import annotations

import contextlib
import os
import re
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from enum import Enum
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

import urllib3

from gradline import artifact_refs
from gradline.artifact_store import (
    CHUNK,
    LATEST,
    REGISTRY_PROJECTS,
    VERSION_RE,
    ContentCache,
    artifacts_root,
    cache_root,
    check_aliases,
    check_model_name,
    check_name,
    check_type,
    clean_path,
    file_sha256,
    manifest_digest,
    parse_path,
    sanitize_name,
)
from gradline.artifact_upload import DONE, FAILED, PENDING, ArtifactWorker
from gradline.later import NotAvailableYet
from gradline.settings import Settings
from gradline.transfers import (
    SMALL_FILE,
    each_in_parallel,
    in_bundles,
    note_if_route_absent,
    route_absent,
)
from gradline.transport import Backoff, CommError, GradlineError, HttpClient, UsageError
from gradline.values import to_jsonable


# What this module needs of the objects that call it, so that it imports neither: an
# `Api` (gradline.api) reads versions through it, a `Run` (gradline.tracked_run) logs,
# uses and links them; both import this module, and the dependency points one way.
class Api(Protocol):
    """The read side: gradline.api.Api."""

    client: HttpClient
    settings: Settings

    @property
    def default_entity(self) -> str: ...

    def run(self, path: str) -> Any: ...


class Run(Protocol):
    """The run side: gradline.tracked_run.Run, including the private hooks it keeps
    for this module (its artifact upload thread, its Api, its reporter)."""

    id: str
    entity: str | None
    project: str
    mode: str
    dir: str
    settings: Settings
    _finished: bool
    _artifacts: ArtifactWorker | None

    def log_artifact(self, artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any: ...

    def _artifact_worker(self) -> ArtifactWorker: ...

    def _artifact_api(self) -> Api: ...

    def _cache_root(self) -> Path: ...

    def _report(self, message: str) -> None: ...


DOWNLOAD_ATTEMPTS = 5
FILES_BUNDLE = "files-bundle"


class ArtifactNotLoggedError(GradlineError, ValueError):
    """The artifact has no version on the server (yet)."""


class ArtifactFinalizedError(GradlineError, ValueError):
    """Files cannot be added to an artifact once it is logged."""


class WaitTimeoutError(GradlineError, TimeoutError):
    pass


SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# The server's bound on a version's time-to-live (apps/registry/names.py MAX_TTL_SECONDS).
MAX_TTL_SECONDS = 100 * 366 * 86_400


class ArtifactTTL(Enum):
    """W&B's `ArtifactTTL.INHERIT`: the team's default time-to-live, which is "never" on
    Gradline (there are no team TTL policies): the same as `ttl = None`."""

    INHERIT = 0


def ttl_seconds(value: Any) -> int | None:
    """An `Artifact.ttl` value as the whole seconds the server takes (None: never)."""
    if value is None or value is ArtifactTTL.INHERIT:
        return None
    if isinstance(value, Enum) and value.name == "INHERIT":  # wandb's own ArtifactTTL
        return None
    if not isinstance(value, timedelta):
        raise ValueError(
            "artifact ttl must be a datetime.timedelta, None or ArtifactTTL.INHERIT, "
            f"not {type(value).__name__}"
        )
    seconds = int(value.total_seconds())
    if seconds < 1:
        raise ValueError(f"artifact ttl must be a positive duration of at least 1 s, not {value}")
    if seconds > MAX_TTL_SECONDS:
        raise ValueError(
            f"artifact ttl must be at most {timedelta(seconds=MAX_TTL_SECONDS).days} days"
        )
    return seconds


def _q(part: str) -> str:
    return quote(str(part), safe="")


def _project_url(team: str, project: str) -> str:
    return f"/api/v1/teams/{_q(team)}/projects/{_q(project)}"


def _team_url(team: str) -> str:
    return f"/api/v1/teams/{_q(team)}"


class ManifestEntry:
    """One file of an artifact: its path inside the artifact, SHA-256 and size. A
    reference (`add_reference`) has `ref`, the URI, and the digest W&B records for it;
    its SHA-256 is known only for a `file://` reference with checksum."""

    def __init__(
        self,
        path: str,
        sha256: str | None = None,
        size: int | None = None,
        local_path: str | None = None,
        artifact: Artifact | None = None,
        ref: str | None = None,
        ref_digest: str | None = None,
        extra: dict | None = None,
    ):
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.local_path = local_path
        self._artifact = artifact
        self.ref = ref
        self._ref_digest = ref_digest
        self.extra = dict(extra or {})

    @classmethod
    def reference(cls, data: dict, artifact: Artifact | None) -> ManifestEntry:
        digest = data["digest"]
        file_sha = (
            digest if data["ref"].startswith("file://") and SHA256_HEX.fullmatch(digest) else None
        )
        return cls(
            data["path"],
            file_sha,
            data.get("size"),
            artifact=artifact,
            ref=data["ref"],
            ref_digest=digest,
            extra=data.get("extra"),
        )

    def _reference_record(self) -> dict:
        return {
            "path": self.path,
            "ref": self.ref,
            "digest": self._ref_digest,
            "size": self.size,
            "extra": self.extra,
        }

    @property
    def name(self) -> str:
        return self.path

    @property
    def digest(self) -> str | None:
        return self._ref_digest if self.ref is not None else self.sha256

    def download(self, root: str | os.PathLike | None = None) -> str:
        """Download this file alone; returns its local path."""
        if self._artifact is None:
            raise ArtifactNotLoggedError("this entry belongs to no artifact")
        return self._artifact._download_entries([self], root)[0]

    def __repr__(self) -> str:
        if self.ref is not None:
            return f"<ManifestEntry {self.path} -> {self.ref}>"
        return f"<ManifestEntry {self.path} ({self.size} bytes)>"


class Manifest:
    def __init__(self, entries: dict[str, ManifestEntry]):
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries.values())


class Artifact:
    """A versioned bundle of files. Build one and log it with `run.log_artifact()`, or
    get one with `run.use_artifact()` / `Api().artifact()` and `download()` it."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict | None = None,
        incremental: bool = False,
        use_as: str | None = None,
    ):
        if incremental:
            raise NotAvailableYet("gradline: incremental artifacts are not supported yet.")
        self._base_name = check_name(name)
        self.type = check_type(type)
        self._description = description
        self._metadata = _check_metadata(metadata)
        self._entries: dict[str, ManifestEntry] = {}
        self._aliases: list[str] = []
        self._version: str | None = None
        self._digest: str | None = None
        self._entity: str | None = None
        self._project: str | None = None
        self._api: Api | None = None
        self._run: Run | None = None
        self._record: dict | None = None
        self._staging: tempfile.TemporaryDirectory | None = None
        self._data: dict = {}
        self._loaded = True
        self._source: dict | None = None  # {"project", "name", "version"} of the files
        self._registry: dict | None = None  # {"name", "version"} when read via a registry
        self._ttl: int | None = None  # seconds; the server's value once it is known
        self._ttl_changed = False  # set since it was logged / read / saved: save() sends it

    # -- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """As in W&B: "name" before logging, "name:v3" once the version is known."""
        if self._registry is not None:
            return f"{self._registry['name']}:{self._registry['version']}"
        return f"{self._base_name}:{self._version}" if self._version else self._base_name

    @property
    def version(self) -> str | None:
        if self._version is None and self._record is not None:
            self._refresh_from_record()
        return self._registry["version"] if self._registry else self._version

    @property
    def entity(self) -> str | None:
        return self._entity

    @property
    def project(self) -> str | None:
        return "model-registry" if self._registry else self._project

    @property
    def qualified_name(self) -> str:
        return f"{self._entity}/{self.project}/{self.name}"

    @property
    def source_name(self) -> str:
        src = self._source_ref()
        return f"{src['name']}:{src['ref']}" if src else self._base_name

    @property
    def source_project(self) -> str | None:
        src = self._source_ref()
        return src["project"] if src else self._project

    @property
    def source_version(self) -> str | None:
        src = self._source_ref()
        return src["ref"] if src else None

    @property
    def source_qualified_name(self) -> str:
        return f"{self._entity}/{self.source_project}/{self.source_name}"

    @property
    def aliases(self) -> list[str]:
        if self._record is not None and self._version is None:
            self._refresh_from_record()
        self._ensure_loaded()
        return list(self._aliases)

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        self._aliases = [
            a for a in dict.fromkeys(value or []) if a == LATEST or not VERSION_RE.fullmatch(a)
        ]
        for alias in self._aliases:
            check_name(alias, "alias")

    @property
    def description(self) -> str | None:
        self._ensure_loaded()
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._ensure_loaded()
        self._description = value

    @property
    def metadata(self) -> dict:
        self._ensure_loaded()
        return self._metadata

    # W&B's version tags: stored with the version when it is logged (or saved), and the
    # filter of Api().artifacts(tags=...).
    @property
    def tags(self) -> list[str]:
        return list(getattr(self, "_tags", []))

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str):
            value = [value]
        self._tags = list(dict.fromkeys(str(t) for t in (value or [])))

    # W&B's time-to-live: the server deletes the version that long after it was created
    # (docs/registry.md "Time-to-live"). Set before log_artifact(), or after it followed by
    # save(). None (or ArtifactTTL.INHERIT): never. A version linked to the model registry
    # has none, and the server refuses to give it one.
    @property
    def ttl(self) -> timedelta | None:
        if not self._ttl_changed:
            if self._record is not None and self._version is None:
                self._refresh_from_record()
            self._ensure_loaded()
        return None if self._ttl is None else timedelta(seconds=self._ttl)

    @ttl.setter
    def ttl(self, value: Any) -> None:
        seconds = ttl_seconds(value)
        self._ensure_loaded()
        self._ttl, self._ttl_changed = seconds, True

    @metadata.setter
    def metadata(self, value: dict | None) -> None:
        self._ensure_loaded()
        self._metadata = _check_metadata(value)

    @property
    def digest(self) -> str:
        """The manifest digest (the server's); before logging, computed from the files."""
        if self._digest:
            return self._digest
        files, references = [], []
        for entry in self._entries.values():
            if entry.ref is not None:
                references.append(entry._reference_record())
                continue
            sha = entry.sha256 or (
                file_sha256(Path(entry.local_path)) if entry.local_path else None
            )
            size = entry.size if entry.size is not None else os.path.getsize(entry.local_path)
            files.append({"path": entry.path, "sha256": sha, "size": size})
        return manifest_digest(files, references)

    @property
    def manifest(self) -> Manifest:
        self._ensure_loaded()
        return Manifest(dict(self._entries))

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[ManifestEntry]:
        self._ensure_loaded()
        entries = list(self._entries.values())
        return [e for e in entries if e.path in names] if names else entries

    @property
    def size(self) -> int:
        self._ensure_loaded()
        return sum(e.size or 0 for e in self._entries.values())

    @property
    def file_count(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    @property
    def created_at(self) -> str | None:
        return self._data.get("created_at")

    @property
    def state(self) -> str:
        """ "PENDING" until the server has the version, then "COMMITTED"."""
        return "COMMITTED" if self.version else "PENDING"

    def __repr__(self) -> str:
        return f"<Artifact {self.name} ({self.type})>"

    # -- building ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._record is not None or self._version is not None:
            raise ArtifactFinalizedError(
                f"artifact {self.name} is logged; its files cannot change. Create a new "
                "Artifact (logging the same files again gives the same version)."
            )

    def add_file(
        self, local_path: str | os.PathLike, name: str | None = None, overwrite: bool = False
    ) -> ManifestEntry:
        """Add a file, at `name` inside the artifact (default: its file name). Its content
        is read when the artifact is logged."""
        self._check_open()
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(local):
            raise ValueError(f"add_file: {os.fspath(local_path)!r} is not a file")
        path = clean_path(name if name is not None else os.path.basename(local))
        known = self._entries.get(path)
        if known is not None and not overwrite and known.local_path != local:
            raise ValueError(
                f"artifact {self._base_name} already has a file at {path!r}; "
                "pass overwrite=True to replace it"
            )
        entry = ManifestEntry(path, local_path=local, artifact=self)
        self._entries[path] = entry
        return entry

    def add_dir(self, local_path: str | os.PathLike, name: str | None = None) -> None:
        """Add every file under a directory, under `name/` inside the artifact (default:
        at the top)."""
        self._check_open()
        root = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(root):
            raise ValueError(f"add_dir: {os.fspath(local_path)!r} is not a directory")
        prefix = clean_path(name) if name else ""
        found = []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for file_name in sorted(files):
                full = os.path.join(folder, file_name)
                if os.path.isfile(full):
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    found.append((full, f"{prefix}/{rel}" if prefix else rel))
        for full, path in found:
            self.add_file(full, name=path, overwrite=True)

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Write a file straight into the artifact: `with art.new_file("x.txt") as f:`."""
        self._check_open()
        if not any(ch in mode for ch in "wxa"):
            raise ValueError(f"new_file needs a writing mode, not {mode!r}")
        path = clean_path(name)
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="gradline-artifact-")
        local = Path(self._staging.name) / path
        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local, mode, encoding=encoding) as fh:
            yield fh
        self.add_file(local, name=path, overwrite=True)

    def add_reference(
        self,
        uri: Any,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ManifestEntry]:
        """Record content kept elsewhere (`file://`, `http(s)://`, `s3://`, `gs://`) without
        uploading it, as W&B does: the URI, a digest and the size; a directory or prefix
        gives one entry per object (at most `max_objects`). `download()` fetches them from
        there, checking what was recorded."""
        self._check_open()
        added = []
        for data in artifact_refs.store(uri, name, checksum, max_objects):
            known = self._entries.get(data["path"])
            if known is not None and known.ref != data["ref"]:
                raise ValueError(
                    f"artifact {self._base_name} already has an entry at {data['path']!r}"
                )
            entry = ManifestEntry.reference(data, self)
            self._entries[entry.path] = entry
            added.append(entry)
        return added

    def remove(self, item: str | ManifestEntry) -> None:
        self._check_open()
        path = item.path if isinstance(item, ManifestEntry) else clean_path(item)
        if self._entries.pop(path, None) is None:
            raise FileNotFoundError(f"artifact {self._base_name} has no file {path!r}")

    def _stage(self, cache: ContentCache) -> list[dict]:
        """Hash every file while copying it into the cache: the manifest logged."""
        files = []
        for path in sorted(self._entries):
            entry = self._entries[path]
            if entry.ref is not None:
                continue  # references: recorded, never uploaded
            if entry.local_path and not (entry.sha256 and _is_in(cache, entry)):
                try:
                    entry.sha256, entry.size = cache.add_file(entry.local_path)
                except OSError as exc:
                    raise ValueError(
                        f"cannot read {entry.local_path} for artifact {self._base_name}: "
                        f"{exc.strerror or exc}"
                    ) from None
                entry.local_path = str(cache.path(entry.sha256))
            files.append({"path": path, "sha256": entry.sha256, "size": entry.size})
        return files

    # -- server state ------------------------------------------------------------------
    def _source_ref(self) -> dict | None:
        if self._source is not None:
            return {
                "project": self._source["project"],
                "name": self._source["name"],
                "ref": self._source["version"],
            }
        if self._version and self._project:
            return {"project": self._project, "name": self._base_name, "ref": self._version}
        return None

    def _apply_version(self, data: dict, team: str, api: Api | None) -> None:
        """Take a version object of the server (docs/registry.md)."""
        self._api = api or self._api
        self._entity = team
        self._base_name = data.get("name") or self._base_name
        self._project = data.get("project") or self._project
        self.type = data.get("type") or self.type
        self._version = data.get("version") or self._version
        self._digest = data.get("digest") or self._digest
        if "aliases" in data and self._registry is None:
            self._aliases = list(data["aliases"] or [])
        if "description" in data:
            self._description = data.get("description")
        if "metadata" in data:
            self._metadata = dict(data.get("metadata") or {})
        if "tags" in data:
            self._tags = list(data.get("tags") or [])
        if "ttl_seconds" in data and not self._ttl_changed:
            self._ttl = data.get("ttl_seconds")
        self._source = {"project": self._project, "name": self._base_name, "version": self._version}
        if "files" in data:
            self._entries = {
                f["path"]: ManifestEntry(f["path"], f["sha256"], f["size"], artifact=self)
                for f in data["files"]
            }
            for ref in data.get("references") or []:
                self._entries[ref["path"]] = ManifestEntry.reference(ref, self)
            self._loaded = True
        skip = ("files", "references")
        self._data = {**self._data, **{k: v for k, v in data.items() if k not in skip}}

    def _refresh_from_record(self) -> None:
        record = self._record
        if record is not None and record.get("state") == DONE and record.get("result"):
            self._apply_version(record["result"], self._entity, self._api)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        if self._api is None:
            raise ArtifactNotLoggedError(f"artifact {self.name} has no server to load from")
        if self._registry is not None:
            fresh = fetch_artifact(
                self._api, self._entity, "model-registry", self._registry["name"],
                self._registry["version"],
            )  # fmt: skip
        else:
            fresh = fetch_artifact(
                self._api, self._entity, self._project, self._base_name, self._version
            )
        self._take(fresh)

    def _take(self, other: Artifact) -> None:
        keep = self._record, self._run
        self.__dict__.update(other.__dict__)
        self._record, self._run = keep
        for entry in self._entries.values():
            entry._artifact = self

    def _require_version(self) -> None:
        """Make sure the server has this version (waiting for this run's upload)."""
        if self._record is not None:
            self.wait()
        if self._version is None:
            raise ArtifactNotLoggedError(
                f"artifact {self.name} is not logged: log it with run.log_artifact() first"
            )
        if self._api is None:
            raise ArtifactNotLoggedError(f"artifact {self.name} has no server to talk to")

    def wait(self, timeout: float | None = None) -> Artifact:
        """Block until the upload of this logged artifact is done; returns self."""
        if self._record is None:
            if self._version is not None:
                return self
            raise ArtifactNotLoggedError(f"artifact {self.name} is not logged yet")
        worker = getattr(self._run, "_artifacts", None)
        if self._record["state"] == FAILED:
            raise GradlineError(
                f"artifact {self._base_name} was not uploaded: {self._record.get('error')}"
            )
        if self._record["state"] != DONE:
            if worker is None or not worker.upload:
                raise UsageError(
                    f"artifact {self._base_name} belongs to an offline run; `gradline sync "
                    f"{getattr(self._run, 'dir', '')}` uploads it"
                )
            if not worker.wait([self._record], timeout):
                if self._record["state"] == PENDING and worker._abort.is_set():
                    raise WaitTimeoutError(
                        f"artifact {self._base_name} was not uploaded before the run finished; "
                        f"`gradline sync {self._run.dir}` uploads it"
                    )
                raise WaitTimeoutError(
                    f"artifact {self._base_name} was not uploaded within {timeout}s"
                )
            return self.wait(timeout)
        if self._version is None:  # later alias/metadata edits are the user's: keep them
            self._refresh_from_record()
        if self._api is None and self._run is not None:
            self._api = self._run._artifact_api()
            self._entity = self._entity or self._api.default_entity
        return self

    # -- reading -----------------------------------------------------------------------
    def download(
        self, root: str | os.PathLike | None = None, path_prefix: str | None = None
    ) -> str:
        """Download the files (default root: ./artifacts/<name>:<version>), each checked
        against its SHA-256 and taken from the local content cache when it is there.
        Returns the root directory."""
        self._require_version()
        self._ensure_loaded()
        entries = [
            e
            for e in self._entries.values()
            if path_prefix is None or e.path.startswith(path_prefix)
        ]
        root_dir = self._root(root)
        self._download_entries(entries, root_dir)
        return str(root_dir)

    def file(self, root: str | os.PathLike | None = None) -> str:
        """Download a single-file artifact; returns the file's path."""
        self._require_version()
        self._ensure_loaded()
        if len(self._entries) != 1:
            raise ValueError(
                f"artifact {self.name} has {len(self._entries)} files; file() needs exactly "
                "one (use download())"
            )
        return self._download_entries(list(self._entries.values()), root)[0]

    def get_entry(self, name: str) -> ManifestEntry:
        self._ensure_loaded()
        path = clean_path(name)
        entry = self._entries.get(path)
        if entry is None:
            raise KeyError(f"artifact {self.name} has no file {path!r}")
        return entry

    get_path = get_entry

    def _root(self, root: str | os.PathLike | None) -> Path:
        if root is not None:
            return Path(root)
        return artifacts_root(self._api.settings) / self.name

    def _download_entries(
        self, entries: list[ManifestEntry], root: str | os.PathLike | Path | None
    ) -> list[str]:
        self._require_version()
        root_dir = root if isinstance(root, Path) else self._root(root)
        references = [e for e in entries if e.ref is not None]
        entries_given, entries = entries, [e for e in entries if e.ref is None]
        for entry in references:  # fetched from where they are, checked as recorded
            artifact_refs.fetch(entry, root_dir / entry.path)
        if not entries:
            return [str(root_dir / entry.path) for entry in entries_given]
        cache = ContentCache(cache_root(self._api.settings))
        client = self._api.client
        src = self._source_ref()
        version_url = (
            f"{_project_url(self._entity, src['project'])}/artifacts/{_q(src['name'])}"
            f"/versions/{_q(src['ref'])}"
        )
        lacking: list[ManifestEntry] = []
        lock = threading.Lock()

        def from_local(_client: HttpClient, entry: ManifestEntry) -> None:
            dest = root_dir / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            here = dest.is_file() and dest.stat().st_size == entry.size
            if here and file_sha256(dest) == entry.sha256:
                return  # already downloaded here
            if cache.has(entry.sha256, entry.size) and cache.verified_copy(entry.sha256, dest):
                return
            with lock:
                lacking.append(entry)

        each_in_parallel(client, entries, from_local)
        # One download per content; every path with that content is placed from the cache.
        same_content: dict[str, list[ManifestEntry]] = {}
        for entry in lacking:
            same_content.setdefault(entry.sha256, []).append(entry)
        firsts = [group[0] for group in same_content.values()]
        small = [e for e in firsts if e.size < SMALL_FILE]
        if len(small) < 2 or route_absent(client, FILES_BUNDLE):
            small = []
        bundled = {e.sha256 for e in small}
        jobs = [(False, [e]) for e in firsts if e.sha256 not in bundled]
        jobs += [(True, bundle) for bundle in in_bundles(small, lambda e: e.size)]

        def fetch(thread_client: HttpClient, job: tuple[bool, list[ManifestEntry]]) -> None:
            is_bundle, wanted = job
            if is_bundle:
                wanted = _fetch_bundle(client, thread_client, cache, version_url, wanted)
            for entry in wanted:
                url = f"{version_url}/files/{quote(entry.path)}"
                self._fetch_into_cache(thread_client, cache, url, entry)
            for sha256 in {e.sha256 for e in job[1]}:
                for entry in same_content[sha256]:  # checked on the way into the cache
                    dest = root_dir / entry.path
                    if not cache.verified_copy(entry.sha256, dest, verify=False):
                        raise GradlineError(f"could not place {entry.path} in {root_dir}")

        each_in_parallel(client, jobs, fetch)
        return [str(root_dir / entry.path) for entry in entries_given]

    @staticmethod
    def _fetch_into_cache(
        client: HttpClient, cache: ContentCache, url: str, entry: ManifestEntry
    ) -> None:
        backoff = Backoff(cap=5.0)
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                resp = client.request("GET", url, stream=True)
                try:
                    cache.add_chunks(resp.iter_content(CHUNK), expect=entry.sha256)
                finally:
                    resp.close()
                return
            except CommError as exc:
                if not exc.retryable or attempt == DOWNLOAD_ATTEMPTS - 1:
                    raise
                time.sleep(backoff.next(exc.retry_after))
            except ValueError as exc:  # content did not match its SHA-256
                if attempt == DOWNLOAD_ATTEMPTS - 1:
                    raise GradlineError(f"download of {entry.path} is damaged: {exc}") from None
            except OSError as exc:  # the connection broke mid-body
                if attempt == DOWNLOAD_ATTEMPTS - 1:
                    raise GradlineError(f"download of {entry.path} failed: {exc}") from None
                time.sleep(backoff.next())

    # -- changing ----------------------------------------------------------------------
    def save(self) -> Artifact:
        """Store edits of description, metadata and aliases of a logged version; an
        artifact not logged yet is logged with the active run."""
        if self._record is None and self._version is None:
            import gradline

            if gradline.run is None:
                raise UsageError("save() of a new artifact needs a run: call gradline.init()")
            gradline.run.log_artifact(self)
            return self
        wanted = [a for a in self._aliases if a != LATEST]
        self._require_version()
        client = self._api.client
        src = self._source_ref()
        project = _project_url(self._entity, src["project"])
        body = {
            "description": self._description or "",
            "metadata": to_jsonable(self._metadata),
            "tags": self.tags,
        }
        if self._ttl_changed:  # only then: an untouched ttl is the server's to keep
            body["ttl_seconds"] = self._ttl
        try:
            answer = client.json(
                "PATCH",
                f"{project}/artifacts/{_q(src['name'])}/versions/{_q(src['ref'])}",
                json=body,
            )
        except CommError as exc:
            if exc.code == "linked_ttl":
                raise ValueError(
                    f"artifact {self.name}: a version linked to the model registry never "
                    f"expires, so it cannot have a ttl (server: {exc.message}); nothing was "
                    "saved"
                ) from exc
            raise
        if isinstance(answer, dict) and "ttl_seconds" in answer:
            self._ttl, self._ttl_changed = answer["ttl_seconds"], False
            self._data = {**self._data, "expires_at": answer.get("expires_at")}
        if self._registry is not None:
            path = f"{_team_url(self._entity)}/registered-models/{_q(self._registry['name'])}"
            current = self._registry.get("aliases") or []
            target = self._registry["version"]
        else:
            path = f"{project}/artifacts/{_q(src['name'])}"
            current = self._data.get("aliases") or []
            target = src["ref"]
        for alias in wanted:
            if alias not in current:
                client.json("PUT", f"{path}/aliases/{_q(alias)}", json={"version": target})
        for alias in current:
            if alias != LATEST and alias not in wanted:
                client.request("DELETE", f"{path}/aliases/{_q(alias)}")
        self._aliases = [LATEST, *wanted] if LATEST in current else wanted
        if self._registry is not None:
            self._registry["aliases"] = list(self._aliases)
        else:
            self._data["aliases"] = list(self._aliases)
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (a registry artifact: unlink it from the registered model).
        The server refuses while it holds aliases unless delete_aliases=True."""
        self._require_version()
        client = self._api.client
        if self._registry is not None:
            client.request(
                "DELETE",
                f"{_team_url(self._entity)}/registered-models/{_q(self._registry['name'])}"
                f"/versions/{_q(self._registry['version'])}",
            )
            return
        client.request(
            "DELETE",
            f"{_project_url(self._entity, self._project)}/artifacts/{_q(self._base_name)}"
            f"/versions/{_q(self._version)}",
            params={"delete_aliases": "true"} if delete_aliases else None,
        )

    def link(self, target_path: str, aliases: list[str] | None = None) -> None:
        """Link this version into a registered model ("team/model-registry/name")."""
        import gradline

        if gradline.run is not None and not gradline.run._finished:
            gradline.run.link_artifact(self, target_path, aliases)
            return
        self._require_version()
        team, model = registry_target(target_path, self._entity)
        src = self._source_ref()
        self._api.client.json(
            "POST",
            f"{_team_url(team)}/registered-models/{_q(model)}/versions",
            json={
                "project": src["project"],
                "artifact": src["name"],
                "ref": src["ref"],
                "aliases": check_aliases(aliases),
            },
        )

    def _version_data(self) -> dict:
        self._require_version()
        src = self._source_ref()
        return self._api.client.json(
            "GET",
            f"{_project_url(self._entity, src['project'])}/artifacts/{_q(src['name'])}"
            f"/versions/{_q(src['ref'])}",
        )

    def logged_by(self) -> Any:
        """The run that logged this version (an Api Run), or None."""
        data = self._version_data()
        uid = data.get("run")
        if not uid:
            return None
        return self._api.run(f"{self._entity}/{data.get('project')}/{uid}")

    def used_by(self) -> list:
        """The runs that used this version (Api Runs)."""
        data = self._version_data()
        return [
            self._api.run(f"{self._entity}/{u['project']}/{u['run']}")
            for u in data.get("used_by") or []
        ]


def _is_in(cache: ContentCache, entry: ManifestEntry) -> bool:
    return entry.local_path == str(cache.path(entry.sha256)) and cache.has(entry.sha256, entry.size)


def _fetch_bundle(
    client: HttpClient,
    thread_client: HttpClient,
    cache: ContentCache,
    version_url: str,
    entries: list[ManifestEntry],
) -> list[ManifestEntry]:
    """Fetch files of a version into the cache through one files-bundle request (again,
    for what is left, when the stream breaks). Returns the entries it did not get: the
    caller fetches those one by one, which retries and says precisely what is wrong."""
    left = {entry.path: entry for entry in entries}
    backoff = Backoff(cap=5.0)
    for attempt in range(DOWNLOAD_ATTEMPTS):
        if route_absent(client, FILES_BUNDLE):
            break
        try:
            resp = thread_client.request(
                "POST", f"{version_url}/{FILES_BUNDLE}", json={"paths": list(left)}, stream=True
            )
        except CommError as exc:
            if note_if_route_absent(client, FILES_BUNDLE, exc) or not exc.retryable:
                break
            if attempt == DOWNLOAD_ATTEMPTS - 1:
                raise  # the server is unreachable: one by one would fail as well
            time.sleep(backoff.next(exc.retry_after))
            continue
        try:
            ended = _read_bundle(resp, cache, left)
        finally:
            resp.close()
        if ended or not left:
            break  # what a complete stream lacked, it will lack again
        time.sleep(backoff.next())
    return list(left.values())


def _read_bundle(resp: Any, cache: ContentCache, left: dict[str, ManifestEntry]) -> bool:
    """Store the tar members named in `left` (by path: member names are never used as
    paths on disk) whose size and SHA-256 match, removing them from `left`; others are
    skipped. True when the tar ended normally, False when the stream broke."""
    resp.raw.decode_content = True
    try:
        with tarfile.open(fileobj=resp.raw, mode="r|") as archive:
            for info in archive:
                entry = left.get(info.name)
                if entry is None or not info.isfile() or info.size != entry.size:
                    continue
                member = archive.extractfile(info)
                try:
                    cache.add_chunks(iter(partial(member.read, CHUNK), b""), expect=entry.sha256)
                except ValueError:
                    continue  # damaged on the way: fetched on its own
                del left[info.name]
    except (OSError, tarfile.TarError, urllib3.exceptions.HTTPError):
        return False
    return True


def _check_metadata(metadata: Any) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValueError(f"artifact metadata must be a dict, got {type(metadata).__name__}")
    return dict(metadata)


# -- reading from the server ---------------------------------------------------------------
def fetch_artifact(api: Api, team: str, project: str, name: str, ref: str) -> Artifact:
    """The version `ref` of team/project/name; project "model-registry" reads the team's
    registered model `name` and gives the linked source version."""
    client = api.client
    what = f"{team}/{project}/{name}:{ref}"
    try:
        if project in REGISTRY_PROJECTS:
            link = client.json(
                "GET", f"{_team_url(team)}/registered-models/{_q(name)}/versions/{_q(ref)}"
            )
            return _registry_artifact(api, team, name, link, link.get("source") or {})
        data = client.json(
            "GET", f"{_project_url(team, project)}/artifacts/{_q(name)}/versions/{_q(ref)}"
        )
    except CommError as exc:
        if exc.status == 404:
            raise CommError(
                f"artifact {what} was not found ({exc.message})",
                status=404,
                code=exc.code,
                detail=exc.detail,
            ) from None
        raise
    art = Artifact(data.get("name") or name, data.get("type") or "unspecified")
    art._apply_version(data, team, api)
    return art


def _registry_artifact(api: Api, team: str, name: str, link: dict, source: dict) -> Artifact:
    """A registered model's version: the linked source version's files, type and
    metadata, named and aliased as the registry has it."""
    art = Artifact(source.get("name") or name, source.get("type") or "model")
    art._registry = {
        "name": name,
        "version": link.get("version"),
        "aliases": list(link.get("aliases") or []),
    }
    art._aliases = list(link.get("aliases") or [])
    art._apply_version(source, team, api)
    art._loaded = True  # what the link carries is all there is to read
    return art


def artifact_versions(api: Api, team: str, project: str, name: str) -> list[Artifact]:
    """Every version of an artifact (or registered model), newest first; each loads its
    files and metadata when first needed."""
    client = api.client
    out = []
    if project in REGISTRY_PROJECTS:
        model = client.json("GET", f"{_team_url(team)}/registered-models/{_q(name)}")
        for link in model.get("versions") or []:
            art = _registry_artifact(api, team, name, link, link.get("source") or {})
            art._loaded = False
            out.append(art)
        return out
    data = client.json("GET", f"{_project_url(team, project)}/artifacts/{_q(name)}")
    for summary in data.get("versions") or []:
        art = Artifact(name, data.get("type") or "unspecified")
        art._apply_version({**summary, "project": project, "name": name}, team, api)
        art._loaded = False
        out.append(art)
    return out


def registry_target(target_path: str, team: str | None) -> tuple[str | None, str]:
    """ "name", "model-registry/name" or "team/model-registry/name" -> (team, name)."""
    parts = [p for p in str(target_path).strip("/").split("/") if p]
    if len(parts) == 1:
        parts = ["model-registry", *parts]
    if len(parts) == 2:
        parts = [team, *parts]
    if len(parts) != 3 or parts[1] not in REGISTRY_PROJECTS:
        raise ValueError(
            f"link target {target_path!r} must be 'model-registry/NAME' or "
            "'TEAM/model-registry/NAME'"
        )
    if team and parts[0] and parts[0] != team:
        raise ValueError(f"a model can only be linked within its own team ({team})")
    return parts[0] or team, check_model_name(parts[2].partition(":")[0])


# -- what the run methods do -----------------------------------------------------------
def artifact_from_path(path: Any, name: str | None, type_: str | None, run_id: str) -> Artifact:
    raw = os.fspath(path)
    if "://" in raw:  # W&B: log_artifact("s3://...") logs a reference artifact
        base = os.path.basename(raw.rstrip("/")) or "reference"
        artifact = Artifact(name or sanitize_name(f"run-{run_id}-{base}"), type_ or "unspecified")
        artifact.add_reference(raw)
        return artifact
    if not os.path.exists(raw):
        raise ValueError(f"{raw!r} is not an existing file or directory")
    base = os.path.basename(os.path.normpath(raw))
    artifact = Artifact(name or sanitize_name(f"run-{run_id}-{base}"), type_ or "unspecified")
    if os.path.isdir(raw):
        artifact.add_dir(raw)
    else:
        artifact.add_file(raw)
    return artifact


def log_artifact(
    run: Run,
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
    else:
        artifact = artifact_from_path(artifact_or_path, name, type, run.id)
    wanted = check_aliases([*artifact._aliases, *check_aliases(aliases)])
    if tags:
        artifact.tags = [*artifact.tags, *([tags] if isinstance(tags, str) else tags)]
    if run.mode == "disabled":
        return artifact
    if run._finished:
        raise UsageError("log_artifact() after finish(): start a new run with gradline.init()")
    artifact._ensure_loaded()
    cache = ContentCache(run._cache_root(), fsync=run.settings.wal_fsync == "always")
    files = artifact._stage(cache)
    references = [e._reference_record() for e in artifact._entries.values() if e.ref is not None]
    record = {
        "kind": "log",
        "name": artifact._base_name,
        "type": artifact.type,
        "description": artifact._description or "",
        "metadata": to_jsonable(artifact._metadata),
        "aliases": wanted,
        "tags": artifact.tags,
        "ttl_seconds": artifact._ttl,
        "files": files,
        "references": references,
        "digest": manifest_digest(files, references),
        "cache": str(cache.root.resolve()),
    }
    artifact._record = run._artifact_worker().submit(record)
    artifact._run = run
    artifact._digest = record["digest"]
    artifact._project = run.project
    artifact._entity = run.entity
    artifact._aliases = wanted
    artifact._version = None
    artifact._ttl_changed = False  # sent with the version; the server's answer is its value
    return artifact


def use_artifact(run: Run, artifact_or_name: Any, type: str | None = None) -> Artifact:
    if run.mode != "online":
        raise UsageError(
            f"use_artifact() needs the server, and this run is {run.mode}; "
            "use Api().artifact(...).download() or an online run"
        )
    if run._finished:
        raise UsageError("use_artifact() after finish(): start a new run with gradline.init()")
    if isinstance(artifact_or_name, Artifact):
        artifact = artifact_or_name
        if type is not None and artifact.type != type:
            raise ValueError(f"artifact {artifact.name} has type {artifact.type!r}, not {type!r}")
        _record_use(run, artifact)
        return artifact
    team, project, name, ref = parse_path(artifact_or_name)
    api = run._artifact_api()
    own_team = run.entity or api.default_entity
    team = team or own_team
    project = project or run.project
    if team == own_team and run._artifacts is not None:
        pending = run._artifacts.related(project, name, project in REGISTRY_PROJECTS)
        if pending:  # this run logged or linked it moments ago
            run._artifacts.wait(pending, run.settings.finish_timeout)
    artifact = fetch_artifact(api, team, project, name, ref)
    if type is not None and artifact.type != type:
        raise ValueError(f"artifact {artifact_or_name} has type {artifact.type!r}, not {type!r}")
    if team == own_team:
        _record_use(run, artifact)
    else:
        run._report(
            f"gradline: {artifact_or_name} belongs to team {team}; lineage is recorded only "
            f"within the run's team ({own_team})"
        )
    return artifact


def _source_of(run: Run, artifact: Artifact) -> dict:
    """How a record names a version: by this run's pending record, or by its version."""
    if artifact._record is not None and artifact._run is run:
        return {"seq": artifact._record["seq"]}
    if artifact._record is not None:
        artifact.wait()
    if artifact._version is None:  # never logged: log it now (W&B does the same)
        run.log_artifact(artifact)
        return {"seq": artifact._record["seq"]}
    return artifact._source_ref()


def _record_use(run: Run, artifact: Artifact) -> None:
    run._artifact_worker().submit({"kind": "use", "source": _source_of(run, artifact)})


def link_artifact(
    run: Run, artifact: Artifact, target_path: str, aliases: list[str] | None = None
) -> None:
    if not isinstance(artifact, Artifact):
        raise TypeError("link_artifact() takes an Artifact")
    aliases = check_aliases(aliases)
    if run.mode == "disabled":
        return
    if "/" not in str(target_path).strip("/"):
        _link_into_project(run, artifact, str(target_path).strip("/"), aliases)
        return
    _team, model = registry_target(target_path, run.entity)
    record = {
        "kind": "link",
        "source": _source_of(run, artifact),
        "registered_model": model,
        "aliases": aliases,
    }
    run._artifact_worker().submit(record)


def _link_into_project(run: Run, artifact: Artifact, target: str, aliases: list[str]) -> None:
    """W&B's bare link target ("name"): a collection in the run's own project, so that
    use_artifact("name:latest") finds it. Here: a version of artifact `name` in the run's
    project with the same files (content-addressed, so nothing is uploaded twice)."""
    name = check_name(target.partition(":")[0], "link target")
    if artifact._version is None and artifact._record is None:
        run.log_artifact(artifact)  # never logged: log it first, as W&B does
    if artifact._record is not None:
        artifact.wait()
    copy = Artifact(name, artifact.type, artifact.description, dict(artifact.metadata))
    root = artifact.download(root=tempfile.mkdtemp(prefix="gradline-link-"))
    for entry in artifact.manifest:
        copy.add_file(os.path.join(root, *entry.path.split("/")), name=entry.path)
    run.log_artifact(copy, aliases=aliases)


def model_arguments(path: Any, name: Any) -> tuple[str, str | None]:
    """log_model(path, name) as W&B has it, or (name, path) as the product brief writes
    it: when exactly one of the two is an existing path, it is the path."""

    def exists(value: Any) -> bool:
        return isinstance(value, (str, os.PathLike)) and os.path.exists(value)

    if name is not None and exists(name) and not exists(path):
        path, name = name, path
    if not exists(path):
        if name is not None:
            raise ValueError(
                f"log_model: neither {os.fspath(path)!r} nor {os.fspath(name)!r} is an "
                "existing file or directory"
            )
        raise ValueError(f"log_model: {os.fspath(path)!r} is not an existing file or directory")
    return os.fspath(path), (None if name is None else str(name))


def log_model(
    run: Run, path: Any, name: str | None = None, aliases: list[str] | None = None
) -> Artifact:
    path, name = model_arguments(path, name)
    artifact = artifact_from_path(path, name, "model", run.id)
    return log_artifact(run, artifact, aliases=aliases)


def use_model(run: Run, name: str) -> str:
    """Download a model version; returns the file's path for a single-file model, the
    directory otherwise."""
    artifact = use_artifact(run, name)
    if "model" not in artifact.type.lower():
        raise ValueError(f"{name} is a {artifact.type!r} artifact, not a model")
    root = artifact.download()
    entries = list(artifact._entries.values())
    if len(entries) == 1:
        return os.path.join(root, *entries[0].path.split("/"))
    return root


def link_model(
    run: Run,
    path: Any,
    registered_model_name: str,
    name: str | None = None,
    aliases: list[str] | None = None,
) -> Artifact:
    check_model_name(registered_model_name)
    artifact = log_model(run, path, name)
    link_artifact(run, artifact, f"model-registry/{registered_model_name}", aliases)
    return artifact
