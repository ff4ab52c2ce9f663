"""Local side of artifacts: names and paths as the server checks them, the manifest
digest, and the content-addressed cache (files stored once under their SHA-256)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from gradline.settings import Settings

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}")
TYPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
# Registered models also take single inner spaces ("My Registered Model"), as the server.
MODEL_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]| (?! )){0,126}(?<! )")
VERSION_RE = re.compile(r"v(0|[1-9][0-9]{0,8})")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
LATEST = "latest"
MAX_PATH = 512
# The project name that addresses a team's registered models, as in W&B.
REGISTRY_PROJECTS = frozenset({"model-registry", "wandb-registry-model"})
CHUNK = 1024 * 1024


def check_name(name: object, what: str = "artifact name") -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        raise ValueError(
            f"registered model name {name!r} is not valid: use 1-128 letters, digits, '.', "
            "'_', '-' or single inner spaces, starting with a letter or digit"
        )
    return name


def check_type(type_: object) -> str:
    if not isinstance(type_, str) or not TYPE_RE.fullmatch(type_):
        raise ValueError(
            f"artifact type {type_!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return type_


def check_aliases(aliases: object) -> list[str]:
    """Aliases to set on a new version; `latest` is accepted (the newest version has it
    anyway), `v<N>` is reserved for version labels."""
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    out: list[str] = []
    for alias in aliases:
        check_name(alias, "alias")
        if VERSION_RE.fullmatch(alias):
            raise ValueError(f"alias {alias!r} is reserved for version labels")
        if alias not in out:
            out.append(alias)
    return out


def sanitize_name(raw: str) -> str:
    """A valid artifact name made from a file name (log_model's default names)."""
    name = re.sub(r"[^A-Za-z0-9._\-]+", "-", raw).strip("-._")[:128]
    return name or "artifact"


def clean_path(name: object) -> str:
    """A path inside an artifact: relative, '/'-separated, no '.', '..' or empty parts."""
    if not isinstance(name, str):
        raise ValueError(f"artifact path must be a string, got {type(name).__name__}")
    path = name.replace(os.sep, "/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    bad = (
        not parts
        or path.startswith("/")
        or ".." in parts
        or "\\" in path
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in path)
    )
    cleaned = "/".join(parts)
    if bad or len(cleaned) > MAX_PATH:
        raise ValueError(
            f"artifact path {name!r} is not valid: it must be relative, at most {MAX_PATH} "
            "characters, without '..' or control characters"
        )
    return cleaned


def manifest_digest(files: Iterable[dict], references: Iterable[dict] = ()) -> str:
    """SHA-256 over `path NUL sha256 NUL size LF` lines sorted by path, and for each
    reference `path NUL "ref" NUL uri NUL digest NUL size LF` (the server's)."""
    lines = [(f["path"], f"{f['path']}\0{f['sha256']}\0{f['size']}\n") for f in files]
    lines += [
        (r["path"], f"{r['path']}\0ref\0{r['ref']}\0{r['digest']}\0{_size(r['size'])}\n")
        for r in references
    ]
    digest = hashlib.sha256()
    for _path, line in sorted(lines):
        digest.update(line.encode())
    return digest.hexdigest()


def _size(size: int | None) -> str:
    return "" if size is None else str(size)


def parse_path(path: str) -> tuple[str | None, str | None, str, str]:
    """ "name[:ref]", "project/name[:ref]" or "team/project/name[:ref]" ->
    (team or None, project or None, name, ref); ref defaults to "latest"."""
    if not isinstance(path, str) or not path.strip("/"):
        raise ValueError("give an artifact as 'name:alias', 'project/name:alias' or 'team/...'")
    parts = path.strip("/").split("/")
    if len(parts) > 3:
        raise ValueError(f"artifact path {path!r} has too many parts (team/project/name:ref)")
    last = parts[-1]
    name, _, ref = last.partition(":")
    ref = ref or LATEST
    team = parts[0] if len(parts) == 3 else None
    project = parts[-2] if len(parts) >= 2 else None
    if project in REGISTRY_PROJECTS:
        check_model_name(name)
    else:
        check_name(name)
    return team, project, name, ref


def cache_root(settings: Settings) -> Path:
    return (
        Path(settings.cache_dir).expanduser()
        if settings.cache_dir
        else settings.root_dir / ("artifact-cache")
    )


def artifacts_root(settings: Settings) -> Path:
    return Path(settings.artifact_dir or "artifacts").expanduser().absolute()


class ContentCache:
    """Files stored once under `sha256/<2 hex>/<sha256>`, written through a temporary
    file and renamed, so a name only ever holds complete content. `fsync` (wal_fsync
    "always") also guards power loss; otherwise a copy damaged by one is caught by the
    server's hash check at upload and reported."""

    def __init__(self, root: Path | str, fsync: bool = False):
        self.root = Path(root)
        self.fsync = fsync

    def path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str, size: int) -> bool:
        try:
            return self.path(sha256).stat().st_size == size
        except OSError:
            return False

    def _tmp(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / f"{os.getpid()}-{secrets.token_hex(8)}"

    def add_file(self, src: str | os.PathLike) -> tuple[str, int]:
        """Copy `src` into the cache, hashing it on the way: what is stored is exactly
        what was hashed, whatever happens to `src` afterwards."""
        with open(src, "rb") as fh:
            return self.add_chunks(iter(lambda: fh.read(CHUNK), b""))

    def add_chunks(self, chunks: Iterator[bytes], expect: str | None = None) -> tuple[str, int]:
        tmp = self._tmp()
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if expect is not None and sha256 != expect:
                raise ValueError(f"content has sha256 {sha256}, expected {expect}")
            final = self.path(sha256)
            if final.exists() and final.stat().st_size == size:
                tmp.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha256, size

    def verified_copy(self, sha256: str, dest: Path, *, verify: bool = True) -> bool:
        """Copy a cached file to `dest` (via a temporary name) if its content still has
        `sha256`; a damaged cache entry is removed and False returned. `verify=False`
        skips the re-hash for an entry this process has just written and checked."""
        src = self.path(sha256)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        if not verify:
            try:
                shutil.copyfile(src, tmp)  # the kernel copies; nothing passes through Python
            except FileNotFoundError:
                tmp.unlink(missing_ok=True)
                return False
            os.replace(tmp, dest)
            return True
        digest = hashlib.sha256()
        try:
            with open(src, "rb") as fh, open(tmp, "wb") as out:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            return False
        if digest.hexdigest() != sha256:
            tmp.unlink(missing_ok=True)
            src.unlink(missing_ok=True)
            return False
        os.replace(tmp, dest)
        return True


def file_sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
