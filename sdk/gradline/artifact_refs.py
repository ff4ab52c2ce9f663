"""Artifact references (W&B's `Artifact.add_reference`): manifest entries that point at
content kept elsewhere — `file://`, `http(s)://`, `s3://`, `gs://` — recorded as W&B
records them (the URI, a digest and a size) and fetched from there by `download()`.

Digests: a `file://` reference with checksum has the SHA-256 of its content (so a
download is verified the same way a stored file is); `http(s)://` the ETag the server
sends; `s3://` and `gs://` the object's ETag (with its version or generation in `extra`,
so a download reads exactly that object). Without checksum the digest is the URI itself.

boto3 and google-cloud-storage are imported only when an `s3://` or `gs://` reference
is added or downloaded.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import urllib3

from gradline.artifact_store import CHUNK, clean_path
from gradline.transport import GradlineError

SCHEMES = ("file", "http", "https", "s3", "gs")
# W&B's default for directory and prefix references; max_objects raises it.
DEFAULT_MAX_OBJECTS = 10_000


class ArtifactReferenceError(GradlineError, ValueError):
    """A reference cannot be recorded or fetched."""


def scheme_of(uri: str) -> str:
    return uri.partition("://")[0].lower() if "://" in uri else ""


def entry(path: str, ref: str, digest: str, size: int | None, **extra: Any) -> dict:
    return {
        "path": clean_path(path),
        "ref": ref,
        "digest": digest,
        "size": size,
        "extra": {k: v for k, v in extra.items() if v is not None},
    }


def _join(name: str | None, rel: str) -> str:
    return f"{name.strip('/')}/{rel}" if name else rel


def _limit(max_objects: int | None) -> int:
    if max_objects is None:
        return DEFAULT_MAX_OBJECTS
    if isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1:
        raise ValueError(f"max_objects must be a positive integer, got {max_objects!r}")
    return max_objects


def _too_many(uri: str, limit: int) -> ArtifactReferenceError:
    return ArtifactReferenceError(
        f"add_reference({uri!r}): more than {limit} objects; pass max_objects= to raise it"
    )


def store(uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[dict]:
    """The manifest entries for `uri` (one, or one per object under a directory/prefix)."""
    if not isinstance(uri, str):
        uri = os.fspath(uri)
    scheme = scheme_of(uri)
    if scheme not in SCHEMES:
        raise ValueError(
            f"add_reference({uri!r}): the URI must start with "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    limit = _limit(max_objects)
    if scheme == "file":
        return _store_file(uri, name, checksum, limit)
    if scheme in ("http", "https"):
        return [_store_http(uri, name, checksum)]
    if scheme == "s3":
        return _store_s3(uri, name, checksum, limit)
    return _store_gs(uri, name, checksum, limit)


def fetch(ref_entry: Any, dest: Path) -> None:
    """Place the content of a reference entry at `dest`, checking what was recorded."""
    scheme = scheme_of(ref_entry.ref)
    if scheme == "file":
        _fetch_file(ref_entry, dest)
    elif scheme in ("http", "https"):
        _fetch_http(ref_entry, dest)
    elif scheme == "s3":
        _fetch_s3(ref_entry, dest)
    elif scheme == "gs":
        _fetch_gs(ref_entry, dest)
    else:
        raise ArtifactReferenceError(f"{ref_entry.path}: cannot fetch reference {ref_entry.ref!r}")


def _write(dest: Path, chunks: Iterator[bytes], what: str, expect_sha256: str | None) -> int:
    """Write `chunks` to `dest` through a temporary name; the SHA-256, when known, must
    match, or nothing is placed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if expect_sha256 and digest.hexdigest() != expect_sha256:
            raise ArtifactReferenceError(
                f"{what} has changed since it was logged: SHA-256 {digest.hexdigest()} "
                f"is not the recorded {expect_sha256}"
            )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return size


def _read_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


# -- file:// ---------------------------------------------------------------------------
def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        raise ArtifactReferenceError(f"{uri!r}: a file:// reference names a path on this machine")
    return unquote(parsed.path)


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    for chunk in _read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _store_file(uri: str, name: str | None, checksum: bool, limit: int) -> list[dict]:
    local = _local_path(uri)
    if os.path.isfile(local):
        size = os.path.getsize(local)
        digest = _sha256_of(local) if checksum else uri
        return [entry(name or os.path.basename(local), uri, digest, size)]
    if not os.path.isdir(local):
        raise ValueError(f"add_reference({uri!r}): {local} is not an existing file or directory")
    if not checksum:  # W&B: one entry for the whole directory
        return [entry(name or os.path.basename(os.path.normpath(local)), uri, uri, None)]
    out = []
    base = uri.rstrip("/")
    for folder, dirs, files in os.walk(local):
        dirs.sort()
        for file_name in sorted(files):
            full = os.path.join(folder, file_name)
            if not os.path.isfile(full):
                continue
            if len(out) == limit:
                raise _too_many(uri, limit)
            rel = os.path.relpath(full, local).replace(os.sep, "/")
            out.append(
                entry(_join(name, rel), f"{base}/{rel}", _sha256_of(full), os.path.getsize(full))
            )
    return out


def _fetch_file(ref_entry: Any, dest: Path) -> None:
    local = _local_path(ref_entry.ref)
    if os.path.isdir(local) and ref_entry.sha256 is None:
        shutil.copytree(local, dest, dirs_exist_ok=True)
        return
    if not os.path.isfile(local):
        raise ArtifactReferenceError(f"{ref_entry.path}: the referenced file {local} is gone")
    _write(dest, _read_chunks(local), local, ref_entry.sha256)


# -- http(s):// ------------------------------------------------------------------------
_http: urllib3.PoolManager | None = None


def _pool() -> urllib3.PoolManager:
    global _http
    if _http is None:
        _http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=60), retries=urllib3.Retry(3)
        )
    return _http


def _http_name(uri: str, name: str | None) -> str:
    if name:
        return name
    base = os.path.basename(unquote(urlparse(uri).path))
    if not base:
        raise ValueError(f"add_reference({uri!r}): the URL names no file; pass name=")
    return base


def _store_http(uri: str, name: str | None, checksum: bool) -> dict:
    path = _http_name(uri, name)
    if not checksum:
        return entry(path, uri, uri, None)
    try:
        resp = _pool().request("HEAD", uri, redirect=True)
        if resp.status == 405:  # some servers answer only GET
            resp = _pool().request("GET", uri, preload_content=False)
            resp.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise ArtifactReferenceError(f"add_reference({uri!r}): {exc}") from None
    if resp.status >= 400:
        raise ArtifactReferenceError(f"add_reference({uri!r}): the server answered {resp.status}")
    etag = resp.headers.get("ETag")
    length = resp.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    return entry(path, uri, etag.strip('"') if etag else uri, size, etag=etag)


def _fetch_http(ref_entry: Any, dest: Path) -> None:
    try:
        resp = _pool().request("GET", ref_entry.ref, preload_content=False)
    except urllib3.exceptions.HTTPError as exc:
        raise ArtifactReferenceError(f"{ref_entry.path}: {ref_entry.ref}: {exc}") from None
    try:
        if resp.status >= 400:
            raise ArtifactReferenceError(
                f"{ref_entry.path}: {ref_entry.ref} answered {resp.status}; it cannot be fetched"
            )
        recorded = (ref_entry.extra or {}).get("etag")
        now = resp.headers.get("ETag")
        if recorded and now and now != recorded:
            raise ArtifactReferenceError(
                f"{ref_entry.path}: {ref_entry.ref} has changed since it was logged "
                f"(ETag {now}, logged {recorded})"
            )
        size = _write(dest, resp.stream(CHUNK), ref_entry.ref, ref_entry.sha256)
    finally:
        resp.release_conn()
    if ref_entry.size is not None and size != ref_entry.size:
        dest.unlink()
        raise ArtifactReferenceError(
            f"{ref_entry.path}: {ref_entry.ref} is {size} bytes, {ref_entry.size} when logged"
        )


# -- s3:// and gs:// -------------------------------------------------------------------
def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise ValueError(f"add_reference({uri!r}): the URI names no bucket")
    return parsed.netloc, unquote(parsed.path.lstrip("/"))


def _needs(module: str, package: str, scheme: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ArtifactReferenceError(
            f"{scheme}:// references need the {package} package: pip install {package}"
        ) from None


def _s3_client() -> Any:
    boto3 = _needs("boto3", "boto3", "s3")
    # As W&B: the usual AWS settings, plus AWS_S3_ENDPOINT_URL for S3-compatible stores.
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None)


def _prefix_entries(
    uri: str,
    name: str | None,
    key: str,
    limit: int,
    objects: Iterator[tuple[str, Callable[[str], dict]]],
) -> list[dict]:
    prefix = key.rstrip("/") + "/" if key else ""
    out = []
    for obj_key, make in objects:
        if obj_key.endswith("/"):
            continue  # a "folder" placeholder object
        if len(out) == limit:
            raise _too_many(uri, limit)
        rel = obj_key[len(prefix) :]
        out.append(make(_join(name, rel) if name or rel else obj_key))
    if not out:
        raise ValueError(f"add_reference({uri!r}): no object or prefix of that name")
    return out


def _store_s3(uri: str, name: str | None, checksum: bool, limit: int) -> list[dict]:
    bucket, key = _bucket_key(uri)
    if not checksum:
        return [entry(name or os.path.basename(key.rstrip("/")) or bucket, uri, uri, None)]
    client = _s3_client()
    botocore = _needs("botocore.exceptions", "boto3", "s3")
    if key and not key.endswith("/"):
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except botocore.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise ArtifactReferenceError(f"add_reference({uri!r}): {exc}") from None
        else:
            etag = head["ETag"].strip('"')
            return [
                entry(
                    name or os.path.basename(key),
                    uri,
                    etag,
                    head["ContentLength"],
                    etag=etag,
                    versionID=head.get("VersionId"),
                )
            ]

    def listed() -> Iterator[tuple[str, Callable[[str], dict]]]:
        prefix = key.rstrip("/") + "/" if key else ""
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents") or []:
                etag = obj["ETag"].strip('"')
                ref = f"s3://{bucket}/{obj['Key']}"

                def make(path: str, ref=ref, etag=etag, size=obj["Size"]) -> dict:
                    return entry(path, ref, etag, size, etag=etag)

                yield obj["Key"], make

    try:
        return _prefix_entries(uri, name, key, limit, listed())
    except botocore.ClientError as exc:
        raise ArtifactReferenceError(f"add_reference({uri!r}): {exc}") from None


def _fetch_s3(ref_entry: Any, dest: Path) -> None:
    bucket, key = _bucket_key(ref_entry.ref)
    client = _s3_client()
    botocore = _needs("botocore.exceptions", "boto3", "s3")
    extra = ref_entry.extra or {}
    args = {"Bucket": bucket, "Key": key}
    if extra.get("versionID"):
        args["VersionId"] = extra["versionID"]
    try:
        obj = client.get_object(**args)
    except botocore.ClientError as exc:
        raise ArtifactReferenceError(f"{ref_entry.path}: {ref_entry.ref}: {exc}") from None
    etag = obj["ETag"].strip('"')
    if extra.get("etag") and etag != extra["etag"]:
        raise ArtifactReferenceError(
            f"{ref_entry.path}: {ref_entry.ref} has changed since it was logged "
            f"(ETag {etag}, logged {extra['etag']})"
        )
    body = obj["Body"]
    _write(dest, iter(lambda: body.read(CHUNK), b""), ref_entry.ref, ref_entry.sha256)


def _gcs_bucket(bucket: str) -> Any:
    storage = _needs("google.cloud.storage", "google-cloud-storage", "gs")
    return storage.Client().bucket(bucket)


def _store_gs(uri: str, name: str | None, checksum: bool, limit: int) -> list[dict]:
    bucket_name, key = _bucket_key(uri)
    if not checksum:
        return [entry(name or os.path.basename(key.rstrip("/")) or bucket_name, uri, uri, None)]
    bucket = _gcs_bucket(bucket_name)
    blob = bucket.get_blob(key) if key and not key.endswith("/") else None
    if blob is not None:
        return [
            entry(
                name or os.path.basename(key),
                uri,
                blob.etag,
                blob.size,
                etag=blob.etag,
                versionID=blob.generation,
            )
        ]

    def listed() -> Iterator[tuple[str, Callable[[str], dict]]]:
        prefix = key.rstrip("/") + "/" if key else ""
        for item in bucket.list_blobs(prefix=prefix):
            ref = f"gs://{bucket_name}/{item.name}"

            def make(path: str, ref=ref, item=item) -> dict:
                return entry(path, ref, item.etag, item.size, etag=item.etag)

            yield item.name, make

    return _prefix_entries(uri, name, key, limit, listed())


def _fetch_gs(ref_entry: Any, dest: Path) -> None:
    bucket_name, key = _bucket_key(ref_entry.ref)
    extra = ref_entry.extra or {}
    bucket = _gcs_bucket(bucket_name)
    blob = bucket.get_blob(key, generation=extra.get("versionID"))
    if blob is None:
        raise ArtifactReferenceError(f"{ref_entry.path}: {ref_entry.ref} does not exist")
    if extra.get("etag") and blob.etag != extra["etag"] and not extra.get("versionID"):
        raise ArtifactReferenceError(f"{ref_entry.path}: {ref_entry.ref} changed since logged")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    blob.download_to_filename(str(tmp))
    try:
        _write(dest, _read_chunks(str(tmp)), ref_entry.ref, ref_entry.sha256)
    finally:
        tmp.unlink(missing_ok=True)
