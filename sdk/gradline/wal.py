"""The run's write-ahead log: length + CRC32 framed records, appended by one writer.

File layout: an 8-byte file header, then frames of
    marker (2 bytes, b"GL") | payload length (u32 LE) | crc32(payload) (u32 LE) | payload
Every payload is one orjson-encoded dict, or a binary metric batch (gradline.batchfmt,
starting with b"GLB1") that is also exactly the ingest body the uploader sends. A
frame is written with a single os.write,
so a crash leaves at most one torn frame at the tail. The reader returns every frame
whose checksum matches; after a damaged frame it scans forward for the next marker
whose frame verifies, so one bad record never hides the records after it.

Offsets are byte offsets in the file; they are what the upload state acknowledges.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib

import orjson

from gradline.batchfmt import Decoded, is_batch

BINARY_KIND = "bin"  # Record.kind of a binary metric batch
FILE_HEADER = b"GLWAL01\n"
MARKER = b"GL"
FRAME = struct.Struct("<2sII")
MAX_RECORD = 256 * 1024 * 1024


def encode_frame(payload: bytes) -> bytes:
    return FRAME.pack(MARKER, len(payload), zlib.crc32(payload)) + payload


class WalWriteError(OSError):
    pass


class WalWriter:
    """Appends frames. Not thread-safe: the pipeline's writer thread is its only caller.

    fsync policy: "always" after every append, "interval" at most once a second (and on
    flush()), "never" leaves it to the OS. Data written is in the page cache either
    way, so a crash of the training process loses nothing; fsync guards power loss.
    """

    def __init__(self, path: str, fsync: str = "interval"):
        self.path = path
        self.fsync = fsync
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if not exists:
            os.write(self._fd, FILE_HEADER)
        self.offset = os.lseek(self._fd, 0, os.SEEK_END)
        self._last_sync = time.monotonic()
        self._dirty = False

    def append(self, payload: bytes) -> int:
        """Write one record; returns the offset just past it. Raises OSError on failure
        (after truncating any partial frame away when it can)."""
        frame = encode_frame(payload)
        start = self.offset
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(28, "short write (disk full?)")
        except OSError:
            # Don't leave a torn frame in the middle of later appends.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise
        self.offset = start + len(frame)
        self._dirty = True
        if self.fsync == "always" or (
            self.fsync == "interval" and time.monotonic() - self._last_sync >= 1.0
        ):
            self.sync()
        return self.offset

    def sync(self) -> None:
        if self._dirty and self.fsync != "never":
            os.fsync(self._fd)
        self._dirty = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = None


class Record:
    """One WAL record: its offsets, its payload bytes, and the decoded dict on demand
    (the uploader forwards most batch payloads without decoding them)."""

    __slots__ = ("_data", "end", "payload", "start")

    def __init__(self, start: int, end: int, payload: bytes = b"", data: dict | None = None):
        self.start = start
        self.end = end
        self.payload = payload
        self._data = data

    @property
    def data(self) -> dict:
        """The decoded record; for a binary batch its header (parts, keys, counts)."""
        if self._data is None:
            try:
                if is_batch(self.payload):
                    data = {**Decoded(self.payload).header, "t": BINARY_KIND}
                else:
                    data = orjson.loads(self.payload)
            except (ValueError, KeyError, TypeError, struct.error):
                data = None
            self._data = data if isinstance(data, dict) else {"t": "bad"}
        return self._data

    @property
    def kind(self) -> str:
        """The "t" field, read off the payload's first bytes when it is there."""
        if is_batch(self.payload):
            return BINARY_KIND
        if self._data is None and self.payload.startswith(b'{"t":"'):
            close = self.payload.find(b'"', 6)
            if close > 0:
                return self.payload[6:close].decode("ascii", "replace")
        return str(self.data.get("t"))

    def __repr__(self) -> str:
        return f"Record({self.start}-{self.end}, {self.kind})"


class ReadResult:
    def __init__(self):
        self.records: list[Record] = []
        self.corrupt_ranges: list[tuple[int, int]] = []
        self.truncated_tail = False
        self.end = 0  # offset after the last record (or skipped damage) scanned


def _find_next_frame(buf: bytes, start: int) -> int:
    """Offset of the next marker at or after `start` that begins a verifying frame, or -1."""
    pos = start
    while True:
        pos = buf.find(MARKER, pos)
        if pos < 0 or pos + FRAME.size > len(buf):
            return -1
        _, length, crc = FRAME.unpack_from(buf, pos)
        body_start = pos + FRAME.size
        if length <= MAX_RECORD and body_start + length <= len(buf):
            payload = buf[body_start : body_start + length]
            if zlib.crc32(payload) == crc:
                return pos
        pos += 1


def parse(buf: bytes, base: int = 0, *, final: bool = True) -> ReadResult:
    """Parse frames from `buf` (whose first byte is at file offset `base`).

    final=False (a live tail): an incomplete last frame is "not written yet" and parsing
    stops before it. final=True (sync after a crash): it is a truncated tail, reported,
    and damaged frames in the middle are skipped by scanning for the next good frame.
    """
    result = ReadResult()
    pos = 0
    if base == 0:
        if buf.startswith(FILE_HEADER):
            pos = len(FILE_HEADER)
        elif FILE_HEADER.startswith(buf):  # empty file, or a header cut short
            result.truncated_tail = final and len(buf) > 0
            return result
    n = len(buf)
    while pos < n:
        if n - pos < FRAME.size:
            result.truncated_tail = final
            break
        marker, length, crc = FRAME.unpack_from(buf, pos)
        body = pos + FRAME.size
        if marker == MARKER and length <= MAX_RECORD:
            if body + length > n:  # body not (completely) there
                if not final:
                    break
                nxt = _find_next_frame(buf, pos + 1)
                if nxt < 0:
                    result.truncated_tail = True
                    break
                result.corrupt_ranges.append((base + pos, base + nxt))
                pos = nxt
                continue
            payload = buf[body : body + length]
            if zlib.crc32(payload) == crc and (payload[:1] == b"{" or is_batch(payload)):
                result.records.append(Record(base + pos, base + body + length, payload))
                pos = body + length
                continue
        nxt = _find_next_frame(buf, pos + 1)
        if nxt < 0:
            if final:
                result.corrupt_ranges.append((base + pos, base + n))
                pos = n
            break
        result.corrupt_ranges.append((base + pos, base + nxt))
        pos = nxt
    result.end = base + pos
    return result


def read_all(path: str) -> ReadResult:
    with open(path, "rb") as fh:
        return parse(fh.read(), 0, final=True)


class WalTail:
    """Reads records appended after a given offset, for the live uploader.

    The writer may switch to memory (disk full, permission lost): records that could not
    be written are then handed over through `memory`, keyed by the same virtual offsets,
    so the uploader never notices.
    """

    def __init__(self, path: str):
        self.path = path
        self._fh = None
        self.memory: list[Record] = []  # records the writer could not put on disk
        self.disk_end: int | None = None  # set when the writer gave up on the file
        self.lock = threading.Lock()

    def read(self, offset: int, max_bytes: int = 8 * 1024 * 1024) -> list[Record]:
        records: list[Record] = []
        disk_end = self.disk_end
        if disk_end is None or offset < disk_end:
            records = self._read_disk(offset, max_bytes, disk_end)
            if disk_end is None:
                return records
            if records:
                offset = records[-1].end
            if offset < disk_end:
                return records
        with self.lock:
            records.extend(r for r in self.memory if r.start >= offset)
        return records

    def _read_disk(self, offset: int, max_bytes: int, disk_end: int | None) -> list[Record]:
        if self._fh is None:
            try:
                self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open across reads
            except OSError:
                return []
        limit = max_bytes if disk_end is None else min(max_bytes, disk_end - offset)
        self._fh.seek(offset)
        buf = self._fh.read(limit)
        records = parse(buf, offset, final=False).records
        if not records and len(buf) == limit == max_bytes:
            # A single record larger than max_bytes: read it whole.
            self._fh.seek(offset)
            rest = None if disk_end is None else disk_end - offset
            records = parse(self._fh.read(rest), offset, final=False).records[:1]
        return records

    def drop_memory_before(self, offset: int) -> None:
        with self.lock:
            self.memory = [r for r in self.memory if r.start >= offset]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
