"""Process exit hooks: finish the active run with the right exit code and state.

- normal interpreter exit -> finish(exit_code=0)
- sys.exit(n) -> finish(exit_code=n) (failed when n != 0)
- an uncaught exception -> failed (exit code 1); Ctrl-C (KeyboardInterrupt) -> 130
- SIGTERM (when nobody else handles it) -> raised as SystemExit(143) so the run finishes
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from typing import Any, Callable


class ExitHooks:
    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.exception: BaseException | None = None
        self._installed = False
        self._on_exit: Callable[[int], None] | None = None
        self._pid = os.getpid()

    def install(self, on_exit: Callable[[int], None]) -> None:
        self._on_exit = on_exit
        if self._installed:
            return
        self._installed = True
        self._orig_exit = sys.exit
        self._orig_excepthook = sys.excepthook
        sys.exit = self._exit
        sys.excepthook = self._excepthook
        atexit.register(self._atexit)
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGTERM, self._sigterm)
            except (ValueError, OSError):
                pass

    def _exit(self, code: Any = 0) -> None:
        if code is None:
            self.exit_code = 0
        elif isinstance(code, int):
            self.exit_code = code
        else:
            self.exit_code = 1
        self._orig_exit(code)

    def _excepthook(self, exc_type, exc, tb) -> None:
        self.exception = exc
        self.exit_code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
        self._orig_excepthook(exc_type, exc, tb)

    def _sigterm(self, signum, frame) -> None:
        self.exit_code = 128 + signal.SIGTERM
        raise SystemExit(128 + signal.SIGTERM)

    def _atexit(self) -> None:
        if os.getpid() != self._pid or self._on_exit is None:
            return  # a forked child must not finish its parent's run
        try:
            self._on_exit(self.exit_code if self.exit_code is not None else 0)
        except Exception as exc:  # never turn a clean exit into a traceback
            with contextlib.suppress(Exception):
                (sys.__stderr__ or sys.stderr).write(
                    f"gradline: finishing at exit failed: {exc!r}\n"
                )


HOOKS = ExitHooks()
