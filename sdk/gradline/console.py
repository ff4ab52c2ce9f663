"""Console capture: sys.stdout / sys.stderr keep printing as before and every line is
also sent to the run. Carriage-return progress bars (tqdm …) collapse to what was last
visible on the line, so a bar that redraws 10,000 times stores one line."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Callable

MAX_LINE = 16 * 1024


def collapse_cr(line: str) -> str:
    """What a terminal shows for a line containing carriage returns (the last redraw)."""
    if "\r" not in line:
        return line
    segments = [s for s in line.split("\r") if s]
    return segments[-1] if segments else ""


class _Tee:
    def __init__(self, stream: Any, name: str, emit: Callable[[str, float, str], None]):
        self._stream = stream
        self._name = name
        self._emit = emit
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: Any) -> int:
        result = self._stream.write(text)
        with contextlib.suppress(Exception):  # capture must never break printing
            self._capture(text)
        return result

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def _capture(self, text: Any) -> None:
        if not isinstance(text, str):
            text = bytes(text).decode("utf-8", errors="replace")
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

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ConsoleCapture:
    def __init__(self, emit: Callable[[str, float, str], None]):
        self.emit = emit
        self._out: _Tee | None = None
        self._err: _Tee | None = None

    def start(self) -> None:
        self._out = _Tee(sys.stdout, "stdout", self.emit)
        self._err = _Tee(sys.stderr, "stderr", self.emit)
        sys.stdout = self._out
        sys.stderr = self._err

    def stop(self) -> None:
        for tee, name in ((self._out, "stdout"), (self._err, "stderr")):
            if tee is None:
                continue
            tee.flush_partial()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._stream)
        self._out = self._err = None
