"""Console capture: what the script prints keeps reaching the terminal (or log file)
unchanged, and every line is also sent to the run. Carriage-return progress bars (tqdm …)
collapse to what was last visible on the line, so a bar that redraws 10,000 times stores
one line.

Modes (W&B's `console` setting):
- "redirect": file descriptors 1 and 2 are pointed at pipes; a reader thread per stream
  forwards every byte to the original descriptor and splits it into lines. Catches what
  C/C++ extensions, `os.write(1, …)` and child processes write, too.
- "wrap": sys.stdout / sys.stderr are replaced by tees (Python-level writes only).
- "auto": "redirect" where it works (POSIX, sys.stdout/sys.stderr on descriptors 1/2,
  not a Jupyter kernel, which captures descriptors itself), else "wrap".
- "off": nothing is captured (the caller does not create a ConsoleCapture).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import fcntl
import os
import select
import sys
import termios
import threading
import time
from typing import Any, Callable

MAX_LINE = 16 * 1024
# How long stop() waits for a reader to forward what was written before it.
DRAIN_TIMEOUT = 5.0
# How long the interpreter's exit waits for children's output already in the pipe.
EXIT_SETTLE_TIMEOUT = 2.0
_READ_CHUNK = 64 * 1024

Emit = Callable[[str, float, str], None]


def collapse_cr(line: str) -> str:
    """What a terminal shows for a line containing carriage returns (the last redraw)."""
    if "\r" not in line:
        return line
    segments = [s for s in line.split("\r") if s]
    return segments[-1] if segments else ""


class _Lines:
    """Turns a stream of text into console lines for `emit` (both modes share it)."""

    def __init__(self, name: str, emit: Emit):
        self._name = name
        self._emit = emit
        self._partial = ""
        self._lock = threading.Lock()

    def feed(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            data = self._partial + text
            if "\n" in data:
                lines = data.split("\n")
                self._partial = lines.pop()
                now = time.time()
                for line in lines:
                    self._emit(self._name, now, collapse_cr(line)[:MAX_LINE])
            else:
                self._partial = data
            if "\r" in self._partial:
                # keep only the latest redraw (plus a trailing \r so the next redraw replaces it)
                tail_cr = self._partial.endswith("\r")
                self._partial = collapse_cr(self._partial) + ("\r" if tail_cr else "")
            if len(self._partial) > MAX_LINE:
                self._emit(self._name, time.time(), self._partial[:MAX_LINE])
                self._partial = ""

    def flush_partial(self) -> None:
        with self._lock:
            if self._partial.strip("\r"):
                self._emit(self._name, time.time(), collapse_cr(self._partial)[:MAX_LINE])
            self._partial = ""


class _Tee:
    """The "wrap" mode: stands in for sys.stdout / sys.stderr."""

    def __init__(self, stream: Any, name: str, emit: Emit):
        self._stream = stream
        self._lines = _Lines(name, emit)

    def write(self, text: Any) -> int:
        result = self._stream.write(text)
        with contextlib.suppress(Exception):  # capture must never break printing
            if not isinstance(text, str):
                text = bytes(text).decode("utf-8", errors="replace")
            self._lines.feed(text)
        return result

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush_partial(self) -> None:
        self._lines.flush_partial()

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _FdRedirect:
    """The "redirect" mode for one descriptor (1 or 2).

    The descriptor is dup2'ed onto a pipe's write end (a pseudo-terminal's when it was a
    terminal), so everything written to it — by Python, C code or child processes that
    inherit it — goes through the pipe. A daemon thread reads the pipe, writes each chunk
    straight through to a dup of the original descriptor, then feeds it to the line
    splitter (whose emit only appends to a deque, so the reader never waits on the run's
    pipeline and writers never wait on the reader for longer than the terminal itself
    makes them wait)."""

    def __init__(self, fd: int, name: str, emit: Emit):
        self.fd = fd
        self._lines = _Lines(name, emit)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._drained = threading.Event()  # everything written before stop() is captured
        self._exit_lock = threading.Lock()
        self._restored = False  # fd points at the original again; the reader may close it
        self._reader_exited = False
        self._forwarding = True
        # held by the reader from reading a chunk until it is forwarded, and while it
        # closes the pipe: settle() sees either data in the pipe or the reader busy
        self._busy = threading.Lock()
        self._pipe_closed = False
        opened: list[int] = []
        try:
            self._saved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            opened.append(self._saved)
            # _write stays open until the capture is drained: the pipe cannot hang up
            # (and a pseudo-terminal drop what it holds) before the reader has it all.
            self._read, self._write = _channel(fd, opened)
            # stop() writes to _wake_w: the reader then drains what is in the pipe and
            # stops capturing even while a child process still holds the pipe open.
            self._wake_r, self._wake_w = _above_stdio(os.pipe(), opened)
            os.dup2(self._write, fd)  # inheritable: child processes write here too
        except BaseException:
            for leftover in opened:
                with contextlib.suppress(OSError):
                    os.close(leftover)
            raise
        self._thread = threading.Thread(
            target=self._reader_main, name=f"gradline-console-{name}", daemon=True
        )
        try:
            self._thread.start()
        except BaseException:
            self.restore()
            for leftover in (self._read, self._write, self._wake_r, self._wake_w, self._saved):
                with contextlib.suppress(OSError):
                    os.close(leftover)
            raise

    def restore(self) -> None:
        """Point the descriptor at the original again (closing this process's write end)."""
        with self._exit_lock:
            if self._restored:
                return
            os.dup2(self._saved, self.fd)
            self._restored = True
            if self._reader_exited:
                os.close(self._saved)

    def stop(self, timeout: float) -> None:
        """Restore the descriptor, then wait (bounded) until the reader has captured what
        was written before; later output of lingering children is only forwarded."""
        try:
            self.restore()
        finally:
            with contextlib.suppress(OSError):
                # a byte, not just closing: forked children hold copies of _wake_w
                os.write(self._wake_w, b"!")
            with contextlib.suppress(OSError):
                os.close(self._wake_w)
        self._drained.wait(timeout)
        self._lines.flush_partial()

    def settle(self, timeout: float) -> None:
        """Wait (bounded) until what is already in the pipe has been forwarded. At the
        interpreter's exit the daemon reader stops wherever it is: a child that wrote a
        line just before the script waited for it would otherwise lose that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._busy:
                if self._pipe_closed:
                    return
                probe = select.poll()
                probe.register(self._read, select.POLLIN)
                if not any(events & select.POLLIN for _, events in probe.poll(0)):
                    return
            time.sleep(0.005)  # the reader takes the chunk; bounded by the deadline

    def _reader_main(self) -> None:
        poller = select.poll()
        poller.register(self._read, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        capturing = True
        stopping = False
        try:
            while True:
                ready = {fd for fd, _ in poller.poll(0 if stopping else None)}
                if capturing and self._wake_r in ready:
                    stopping = True  # drain without blocking, then stop capturing
                if self._read not in ready:
                    if stopping:  # the pipe is empty: what was written before stop() is in
                        capturing = stopping = False
                        self._finish_capture()
                        poller.unregister(self._wake_r)
                    continue
                with self._busy:
                    try:
                        data = os.read(self._read, _READ_CHUNK)
                    except OSError:
                        break
                    if not data:
                        break
                    self._forward(data)
                if capturing:
                    with contextlib.suppress(Exception):  # never stop reading the pipe
                        self._lines.feed(self._decoder.decode(data))
        finally:
            if capturing:
                self._finish_capture()
            with self._busy:
                self._pipe_closed = True
                for fd in (self._read, self._wake_r):
                    with contextlib.suppress(OSError):
                        os.close(fd)
            with self._exit_lock:
                self._reader_exited = True
                if self._restored:
                    with contextlib.suppress(OSError):
                        os.close(self._saved)

    def _finish_capture(self) -> None:
        with contextlib.suppress(Exception):
            self._lines.feed(self._decoder.decode(b"", final=True))
        self._drained.set()
        with contextlib.suppress(OSError):
            os.close(self._write)  # EOF once nobody else (a lingering child) holds it

    def _forward(self, data: bytes) -> None:
        """Write the chunk to the original descriptor, as the script would have."""
        view = memoryview(data)
        while view and self._forwarding:
            try:
                view = view[os.write(self._saved, view) :]
            except BlockingIOError:  # a non-blocking terminal or pipe: wait until writable
                writable = select.poll()
                writable.register(self._saved, select.POLLOUT)
                writable.poll(1000)
            except InterruptedError:
                continue
            except Exception:  # the original is gone (closed pipe …): keep capturing only
                self._forwarding = False


def _above_stdio(pair: tuple[int, int], opened: list[int]) -> tuple[int, int]:
    """The pair of new descriptors, moved to >= 3 where one landed on a closed stdin (it
    must not pass for the script's stdin); every descriptor is recorded in `opened`."""
    ends = []
    for end in pair:
        opened.append(end)
        if end < 3:
            moved = fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 3)
            opened.append(moved)
            os.close(end)
            opened.remove(end)
            end = moved
        ends.append(end)
    return ends[0], ends[1]


def _channel(fd: int, opened: list[int]) -> tuple[int, int]:
    """(read end, write end) to put in place of `fd`. A terminal gets a pseudo-terminal,
    so whatever writes to it still sees a terminal (isatty: colours, progress bars and
    line-buffered C stdio stay as they were) of the same size; anything else a pipe."""
    if os.isatty(fd):
        mine: list[int] = []
        try:
            master, slave = _above_stdio(os.openpty(), mine)
            attrs = termios.tcgetattr(fd)
            attrs[1] &= ~termios.OPOST  # bytes pass unchanged; the real terminal maps \n
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            with contextlib.suppress(OSError):
                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
        except (
            OSError,
            termios.error,
        ):  # no pseudo-terminals here (a container without /dev/pts …)
            for leftover in mine:
                with contextlib.suppress(OSError):
                    os.close(leftover)
        else:
            opened += mine
            return master, slave
    return _above_stdio(os.pipe(), opened)


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


def _on_real_fd(stream: Any, fd: int) -> bool:
    try:
        return stream.fileno() == fd and os.fstat(fd) is not None
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False


def resolve_mode(mode: str) -> str:
    """The mode "auto" stands for in this process."""
    if mode != "auto":
        return mode
    if (
        os.name == "posix"
        and not _in_jupyter_kernel()
        and _on_real_fd(sys.stdout, 1)
        and _on_real_fd(sys.stderr, 2)
    ):
        return "redirect"
    return "wrap"


# The terminal's stderr while fd 2 is redirected into the run's capture: the SDK's own
# messages go there, so they are not stored as the script's console output.
_terminal_stderr: int | None = None


def write_to_terminal(text: str) -> None:
    """Write an SDK message to the real stderr, around any console redirect."""
    fd = _terminal_stderr
    if fd is None:
        stream = sys.__stderr__ or sys.stderr
        stream.write(text)
        stream.flush()
        return
    data = text.encode("utf-8", errors="replace")
    while data:
        data = data[os.write(fd, data) :]


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _settle_at_exit(redirects: list[_FdRedirect], pid: int) -> None:
    """After finish(), lingering children's output is still forwarded by the readers;
    let what they wrote before the script ended reach the terminal."""
    if os.getpid() != pid:
        return  # a forked child: the readers (and their locks' holders) are the parent's
    deadline = time.monotonic() + EXIT_SETTLE_TIMEOUT
    for redirect in redirects:
        with contextlib.suppress(Exception):
            redirect.settle(max(0.0, deadline - time.monotonic()))


class ConsoleCapture:
    def __init__(self, emit: Emit, mode: str = "wrap"):
        self.emit = emit
        self.requested = mode
        self.mode: str | None = None  # what start() set up: "redirect" or "wrap"
        self._out: _Tee | None = None
        self._err: _Tee | None = None
        self._fds: list[_FdRedirect] = []
        self._pid = os.getpid()

    def start(self) -> None:
        mode = resolve_mode(self.requested)
        if mode == "off":
            return
        if mode == "redirect":
            try:
                self._start_redirect()
                return
            except Exception as exc:
                with contextlib.suppress(Exception):
                    sys.stderr.write(
                        f"gradline: console redirect is not possible here ({exc}); "
                        f"capturing sys.stdout/sys.stderr writes only\n"
                    )
        if sys.stdout is not None:  # None: started without a descriptor 1 (pythonw, >&-)
            self._out = sys.stdout = _Tee(sys.stdout, "stdout", self.emit)
        if sys.stderr is not None:
            self._err = sys.stderr = _Tee(sys.stderr, "stderr", self.emit)
        self.mode = "wrap"

    def _start_redirect(self) -> None:
        _flush_python_streams()  # what was printed before the run is not the run's
        if sys.__stdout__ is None or sys.__stderr__ is None:
            # started with 1 or 2 closed: the number may since belong to any file
            raise OSError("Python started without stdout or stderr")
        os.fstat(1)  # both open: no pipe of ours can land on 1 or 2
        os.fstat(2)
        try:
            for fd, name in ((1, "stdout"), (2, "stderr")):
                self._fds.append(_FdRedirect(fd, name, self.emit))
        except BaseException:
            self._stop_redirect(timeout=1.0)
            raise
        self.mode = "redirect"
        global _terminal_stderr
        _terminal_stderr = self._fds[1]._saved
        # without finish() (exit_hooks off), restore before the interpreter stops the
        # reader threads, or the last output would never reach the terminal
        atexit.register(self.stop)

    def _stop_redirect(self, timeout: float) -> None:
        global _terminal_stderr
        _terminal_stderr = None
        _flush_python_streams()
        deadline = time.monotonic() + timeout
        for redirect in self._fds:
            with contextlib.suppress(Exception):
                redirect.stop(max(0.0, deadline - time.monotonic()))
        if self._fds:
            atexit.register(_settle_at_exit, self._fds, self._pid)
        self._fds = []

    def stop(self) -> None:
        if os.getpid() != self._pid:
            return  # a forked child: the descriptors and readers belong to the parent
        if self.mode == "redirect":
            atexit.unregister(self.stop)
            self._stop_redirect(DRAIN_TIMEOUT)
        for tee, name in ((self._out, "stdout"), (self._err, "stderr")):
            if tee is None:
                continue
            tee.flush_partial()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._stream)
        self._out = self._err = None
        self.mode = None
