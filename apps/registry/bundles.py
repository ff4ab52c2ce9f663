"""Tar bundles of many small files, for artifact datasets of thousands of files
(docs/registry.md): reading an uploaded bundle member by member, and writing a download
bundle as a stream. Uncompressed POSIX tar, so any client's `tarfile` reads it."""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files.storage import default_storage

from apps.core.errors import DomainError, TooLarge

MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 16 * 1024 * 1024


@dataclass
class Member:
    name: str
    content: bytes | None  # None when the member is not a regular file


def read_members(stream: BinaryIO) -> Iterator[Member]:
    """The members of an uploaded tar, one at a time (the body is never held whole).
    400 for a body that is not a tar; 413 past the member count or size limits."""
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - `with` below
    except tarfile.TarError as exc:
        raise DomainError(f"Body is not a tar archive: {exc}", code="invalid_bundle") from None
    with archive:
        count = 0
        while True:
            try:
                info = archive.next()
            except tarfile.TarError as exc:
                raise DomainError(
                    f"The tar archive is damaged after {count} members: {exc}",
                    code="invalid_bundle",
                ) from None
            if info is None:
                return
            count += 1
            if count > MAX_MEMBERS:
                raise TooLarge(
                    f"A bundle holds at most {MAX_MEMBERS} members.",
                    detail={"limit_members": MAX_MEMBERS},
                )
            if not info.isfile():
                yield Member(info.name, None)
                continue
            if info.size > MAX_MEMBER_BYTES:
                raise TooLarge(
                    f"Bundle member {info.name!r} exceeds {MAX_MEMBER_BYTES} bytes; "
                    "upload it on its own.",
                    detail={"limit_bytes": MAX_MEMBER_BYTES},
                )
            handle = archive.extractfile(info)
            yield Member(info.name, handle.read() if handle else b"")


class _Sink:
    """The file object tarfile writes into; the generator drains it after each member."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def write_stream(files: Iterable[tuple[str, str, int]]) -> Iterator[bytes]:
    """A tar of (member name, storage name, size) entries, yielded member by member.
    A stored file that has gone missing ends the stream early: the client checks every
    member's SHA-256 and fetches what it lacks on its own (which answers 410)."""
    sink = _Sink()
    # Open across yields; it holds no OS resource (it writes into `sink`).
    archive = tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
    for member_name, storage_name, size in files:
        info = tarfile.TarInfo(member_name)
        info.size = size
        info.mode = 0o644
        try:
            handle = default_storage.open(storage_name, "rb")
        except FileNotFoundError:
            return
        with handle:
            archive.addfile(info, handle)
        yield sink.drain()
    archive.close()
    yield sink.drain()
