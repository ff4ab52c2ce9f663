"""Run metadata captured at init: git state, Python/platform/host, command line, packages."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys

MAX_DIFF_IN_BODY = 256 * 1024


def _git(args: list, cwd: str, timeout: float = 5.0) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", *args],  # noqa: S607 - the user's git from PATH, as W&B does
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", errors="replace")


def strip_credentials(url: str) -> str:
    """https://user:token@host/x.git -> https://host/x.git (never store a token)."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]+@", r"\1", url)


def git_state(cwd: str | None = None) -> dict | None:
    """{"commit", "remote", "branch", "diff", "root"} of the repository containing cwd."""
    cwd = cwd or os.getcwd()
    root = _git(["rev-parse", "--show-toplevel"], cwd)
    if root is None:
        return None
    root = root.strip()
    commit = (_git(["rev-parse", "HEAD"], root) or "").strip() or None
    remote = (_git(["config", "--get", "remote.origin.url"], root) or "").strip()
    branch = (_git(["rev-parse", "--abbrev-ref", "HEAD"], root) or "").strip() or None
    diff = _git(["diff", "HEAD", "--no-color", "--binary"], root, timeout=15.0)
    if diff is None and commit is None:  # no commit yet: diff against the empty tree
        diff = _git(["diff", "--cached", "--no-color", "--binary"], root, timeout=15.0)
    return {
        "commit": commit,
        "remote": strip_credentials(remote) if remote else None,
        "branch": branch,
        "diff": diff or "",
        "root": root,
    }


def program_info() -> dict:
    argv0 = sys.argv[0] if sys.argv else ""
    program = argv0
    if argv0 and argv0 not in ("-c", "-m") and os.path.exists(argv0):
        program = os.path.abspath(argv0)
    return {"program": program or "<python>", "args": list(sys.argv[1:])}


def system_info() -> dict:
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "os": sys.platform,
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "username": _username(),
    }


def _username() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return None


def pip_freeze() -> list[str]:
    """Installed distributions as `name==version` lines (fast: no pip subprocess)."""
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return []
    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name") if dist.metadata is not None else None
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return sorted(seen.values(), key=str.lower)
