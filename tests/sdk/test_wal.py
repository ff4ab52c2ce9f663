"""The SDK's write-ahead log (gradline.wal) against the real file system: a writer
reopening an existing log appends after it, the live tail reads a record larger than its
read size whole, a short write (a real RLIMIT_FSIZE limit) leaves no torn frame, and each
fsync mode calls fsync when it says (observed on a FIFO, where fsync fails with EINVAL)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time

import orjson
import pytest

from gradline.wal import FILE_HEADER, WalTail, WalWriter, encode_frame, read_all


def _payloads(records) -> list[dict]:
    return [orjson.loads(r.payload) for r in records]


def test_a_writer_reopening_an_existing_log_appends_after_it(tmp_path):
    path = str(tmp_path / "run.wal")
    first = WalWriter(path, fsync="never")
    ends = [first.append(orjson.dumps({"i": i})) for i in range(3)]
    first.close()
    again = WalWriter(path, fsync="never")
    assert again.offset == ends[-1] == os.path.getsize(path)
    more = [again.append(orjson.dumps({"i": i})) for i in range(3, 5)]
    again.close()
    with open(path, "rb") as fh:
        data = fh.read()
    assert data.count(FILE_HEADER) == 1 and data.startswith(FILE_HEADER)
    result = read_all(path)
    assert _payloads(result.records) == [{"i": i} for i in range(5)]
    assert [r.end for r in result.records] == ends + more
    assert not result.truncated_tail


def test_the_live_tail_reads_a_record_larger_than_its_read_size_whole(tmp_path):
    path = str(tmp_path / "run.wal")
    writer = WalWriter(path, fsync="never")
    writer.append(orjson.dumps({"i": 0}))
    big = {"i": 1, "pad": "x" * 100_000}
    writer.append(orjson.dumps(big))
    writer.append(orjson.dumps({"i": 2}))
    writer.close()
    tail = WalTail(path)
    try:
        offset, seen = len(FILE_HEADER), []
        for _ in range(10):
            records = tail.read(offset, max_bytes=4096)
            if not records:
                break
            seen += _payloads(records)
            offset = records[-1].end
        assert seen == [{"i": 0}, big, {"i": 2}]
        assert offset == os.path.getsize(path)
    finally:
        tail.close()


SHORT_WRITE = """
import errno, os, resource, signal, sys
import orjson
from gradline.wal import WalWriter, read_all

path = sys.argv[1]
writer = WalWriter(path, fsync="never")
for i in range(3):
    writer.append(orjson.dumps({"i": i}))
good_end = writer.offset
# The file may not grow past 100 bytes beyond what it holds: the next, bigger frame is
# cut short by the kernel (SIGXFSZ ignored, so write() returns the bytes it managed).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (good_end + 100, hard))
try:
    writer.append(orjson.dumps({"i": 3, "pad": "y" * 1000}))
except OSError as exc:
    print("refused", exc.errno, exc.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
print("size", os.path.getsize(path), "good_end", good_end, "offset", writer.offset)
writer.append(orjson.dumps({"i": 4}))
writer.close()
print("records", [orjson.loads(r.payload)["i"] for r in read_all(path).records])
"""


def test_a_short_write_leaves_no_torn_frame(tmp_path):
    path = str(tmp_path / "run.wal")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SHORT_WRITE), path],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"refused {errno.ENOSPC} short write (disk full?)", result.stdout
    _, size, _, good_end, _, offset = lines[1].split()
    assert size == good_end == offset  # the partial frame was truncated away
    assert lines[2] == "records [0, 1, 2, 4]"  # and the next append follows cleanly
    assert not read_all(path).truncated_tail


@pytest.fixture
def fsync_fails(tmp_path):
    """A log path that is a link to /dev/null: writes succeed, fsync fails with EINVAL,
    so each fsync the writer makes shows."""
    path = tmp_path / "run.wal"
    path.symlink_to(os.devnull)
    return str(path)


def _einval(call) -> bool:
    try:
        call()
    except OSError as exc:
        assert exc.errno == errno.EINVAL, exc
        return True
    return False


def test_fsync_always_syncs_every_append(fsync_fails):
    writer = WalWriter(fsync_fails, fsync="always")
    assert _einval(lambda: writer.append(orjson.dumps({"i": 0})))


def test_fsync_never_never_syncs(fsync_fails):
    writer = WalWriter(fsync_fails, fsync="never")
    for i in range(3):
        writer.append(orjson.dumps({"i": i}))
    writer.sync()
    assert not _einval(writer.close)


def test_fsync_interval_syncs_once_a_second_and_on_close(fsync_fails):
    writer = WalWriter(fsync_fails, fsync="interval")
    time.sleep(1.05)  # a second has passed since the last sync (the open): this one syncs
    assert _einval(lambda: writer.append(orjson.dumps({"i": 0})))
    assert _einval(writer.close)  # what is still unsynced is synced on close


def test_an_unknown_fsync_mode_is_refused(tmp_path):
    import gradline

    with pytest.raises(ValueError, match="wal_fsync must be always, interval or never"):
        gradline.init(
            mode="offline", project="p", settings={"dir": str(tmp_path), "wal_fsync": "sometimes"}
        )


def test_frames_are_what_the_file_holds(tmp_path):
    path = str(tmp_path / "run.wal")
    writer = WalWriter(path, fsync="always")
    payload = orjson.dumps({"t": "b", "x": 1})
    end = writer.append(payload)
    writer.close()
    with open(path, "rb") as fh:
        assert fh.read() == FILE_HEADER + encode_frame(payload)
    assert end == len(FILE_HEADER) + len(encode_frame(payload))
