"""Ports for the servers a test starts, from a block of this test process's own.

Binding port 0 and closing the socket hands out an ephemeral port that any other process
may take before the server binds it: another pytest-xdist process's server, or the client
side of any connection. A server that then fails to bind is not noticed if the port
answers, from someone else's server (the SDK tests once met another database's server
and saw their keys refused with 401). So each test process takes ports from its own
block below Linux's ephemeral range (32768-60999), one after another, and skips any that
is in use."""

from __future__ import annotations

import itertools
import os
import socket

BLOCK = 1000
FIRST = 20_000  # xdist processes gw0..gw9: 20000-29999; a lone pytest process: 30000-32767


def _block_start() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit() and int(worker[2:]) < 10:
        return FIRST + int(worker[2:]) * BLOCK
    return 30_000 + (os.getpid() % 2) * BLOCK


_next = itertools.count()


def free_port() -> int:
    start = _block_start()
    for _ in range(BLOCK):
        port = start + next(_next) % BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or in TIME_WAIT after a server of ours
            return port
    raise RuntimeError(f"no free port in {start}-{start + BLOCK - 1}")
