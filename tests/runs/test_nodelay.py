"""TCP_NODELAY on the server's accepted sockets (DESIGN.md §4), multi-worker mode included.

The option lives on the server's side of the connection, invisible to the client. So the
test starts the real server (`python -m config.serve --workers 2`), opens a kept-alive
connection, finds the accepted socket in the worker that holds it (through /proc), takes
a duplicate of it with pidfd_getfd(2) and reads the option.

Plain uvicorn leaves Nagle on when its workers run the asyncio event loop (uvloop, the
default when installed, sets the option itself): a control run shows the check reads 0
there, and config.server's protocol gives 1 in that very configuration.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
_SYS_PIDFD_OPEN = 434
_SYS_PIDFD_GETFD = 438


def _descendants(root: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return found


def _server_socket_inode(server_port: int, client_port: int) -> int | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                return int(fields[9])
    return None


def _server_side_nodelay(root_pid: int, server_port: int, client_port: int) -> int:
    inode = _server_socket_inode(server_port, client_port)
    assert inode, "the accepted connection is not in /proc/net/tcp"
    libc = ctypes.CDLL(None, use_errno=True)
    for pid in _descendants(root_pid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link != f"socket:[{inode}]":
                continue
            pidfd = libc.syscall(_SYS_PIDFD_OPEN, pid, 0)
            copy = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(fd), 0) if pidfd >= 0 else -1
            if copy < 0:
                pytest.skip(f"pidfd_getfd unavailable here (errno {ctypes.get_errno()})")
            os.close(pidfd)
            with socket.socket(fileno=copy) as dup:
                return dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    raise AssertionError("no server process holds the accepted socket")


def _nodelay_of(command: list[str], port: int, path: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        with client:
            # Two requests on one kept-alive connection: the connection stays open.
            buffer = b""
            for _ in range(2):
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                while b"\r\n\r\n" not in buffer:
                    buffer += client.recv(65536)
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 "), head[:200]
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += client.recv(65536)
                buffer = buffer[length:]
            return _server_side_nodelay(proc.pid, port, client.getsockname()[1])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_set_nodelay_sets_the_option_on_an_accepted_socket():
    from config.server import set_nodelay

    class Transport:
        def __init__(self, sock):
            self.sock = sock

        def get_extra_info(self, name):
            return self.sock if name == "socket" else None

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _ = listener.accept()
            with accepted:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                set_nodelay(Transport(accepted))
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@pytest.mark.slow
def test_multi_worker_server_sets_nodelay_on_accepted_connections():
    port = free_port()
    command = [sys.executable, "-m", "config.serve", "--workers", "2", "--no-migrate"]
    command += ["--port", str(port), "--host", "127.0.0.1"]
    assert _nodelay_of(command, port, "/healthz") == 1


def _uvicorn(port: int, protocol: str) -> list[str]:
    script = (
        "import sys, uvicorn\n"
        "from config.server import HTTP_PROTOCOL\n"
        f"http = HTTP_PROTOCOL if {protocol!r} == 'gradline' else 'auto'\n"
        "uvicorn.run('tests.runs.asgi_hello:app', host='127.0.0.1', port=int(sys.argv[1]),"
        " workers=2, loop='asyncio', http=http, log_level='warning')\n"
    )
    return [sys.executable, "-c", script, str(port)]


@pytest.mark.slow
def test_protocol_fixes_multi_worker_asyncio_where_plain_uvicorn_leaves_nagle_on():
    port = free_port()
    assert _nodelay_of(_uvicorn(port, "plain"), port, "/") == 0  # the bug, detected
    port = free_port()
    assert _nodelay_of(_uvicorn(port, "gradline"), port, "/") == 1
