"""Console capture at the file-descriptor level ("redirect", what "auto" picks in a plain
process): output of print(), os.write(1, …), C code and child processes reaches the run,
and the script's own stdout stays byte for byte what it is without capture. Scripts run
in subprocesses: pytest itself captures descriptors 1 and 2."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

import gradline
from gradline.settings import load
from tests.sdk.conftest import stored_console


@pytest.fixture
def console_env(server, sdk_db, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRADLINE_", "WANDB_")) and k != "PYTHONUNBUFFERED"
    }
    env.update(
        GRADLINE_BASE_URL=server.url,
        GRADLINE_API_KEY=sdk_db.seed.owner_key,
        GRADLINE_ENTITY="sdk-team",
        GRADLINE_DIR=str(tmp_path / "runs"),
        GRADLINE_CONFIG_DIR=str(tmp_path / "config"),
        GRADLINE_SYSTEM_METRICS="false",
        GRADLINE_GIT="false",
        GRADLINE_PIP_FREEZE="false",
        GRADLINE_SILENT="true",  # only the script's own lines on stderr
    )
    return env


def run_bytes(code: str, env: dict, cwd: Path) -> tuple[subprocess.CompletedProcess, str]:
    """Run a script (stdout/stderr as bytes: \\r must survive); returns it and its run id,
    which the script writes to ./run_id (not to stdout, which is compared across runs)."""
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "train.py").write_text(textwrap.dedent(code))
    result = subprocess.run(
        [sys.executable, "train.py"], cwd=cwd, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result, (cwd / "run_id").read_text()


def by_stream(lines: list[tuple]) -> dict[str, list[str]]:
    """Stored lines per stream (stdout and stderr are read by separate threads, so only the
    order within a stream is defined)."""
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for _, stream, text in lines:
        streams[stream].append(text)
    return streams


EVERY_KIND_OF_OUTPUT = """
    import ctypes, os, subprocess, sys
    import gradline as wandb
    run = wandb.init(project="console-fd")
    open("run_id", "w").write(run.id)
    print("from print", flush=True)
    os.write(1, b"from os.write\\n")
    libc = ctypes.CDLL(None)
    libc.puts(b"from C puts")
    libc.fflush(None)
    subprocess.run(["sh", "-c", "echo child; echo err >&2"], check=True)
    for pct in range(0, 101, 10):
        sys.stdout.write(f"\\rtraining {pct:3d}%")
        sys.stdout.flush()
    print()
    print("python stderr", file=sys.stderr)
    print("unflushed tail")  # block-buffered: reaches the descriptor at finish()
    sys.stdout.write("no newline at the end")
    run.finish()
"""


def test_redirect_captures_every_writer_and_keeps_stdout_byte_identical(
    console_env, tmp_path, sdk_db
):
    off, _ = run_bytes(
        EVERY_KIND_OF_OUTPUT, {**console_env, "GRADLINE_CONSOLE": "off"}, tmp_path / "off"
    )
    redirected, run_id = run_bytes(
        EVERY_KIND_OF_OUTPUT, {**console_env, "GRADLINE_CONSOLE": "redirect"}, tmp_path / "on"
    )
    # the terminal (here: the parent's pipe) sees exactly what it sees without capture
    assert redirected.stdout == off.stdout
    assert b"from C puts\n" in off.stdout and b"\rtraining 100%\n" in off.stdout
    assert redirected.stderr == off.stderr == b"err\npython stderr\n"

    assert by_stream(stored_console(sdk_db, run_id)) == {
        "stdout": [
            "from print",
            "from os.write",
            "from C puts",
            "child",
            "training 100%",  # the \r progress bar collapses to its last redraw
            "unflushed tail",
            "no newline at the end",
        ],
        "stderr": ["err", "python stderr"],
    }


def test_auto_redirects_in_a_plain_process_and_wrap_sees_python_writes_only(
    console_env, tmp_path, sdk_db
):
    script = """
        import os
        import gradline as wandb
        run = wandb.init(project="console-auto")
        open("run_id", "w").write(run.id)
        print("from print", flush=True)
        os.write(1, b"from os.write\\n")
        run.finish()
    """
    _, auto_id = run_bytes(script, console_env, tmp_path / "auto")  # no console setting
    _, wrap_id = run_bytes(script, {**console_env, "WANDB_CONSOLE": "wrap"}, tmp_path / "wrap")
    assert [t for _, _, t in stored_console(sdk_db, auto_id)] == ["from print", "from os.write"]
    assert [t for _, _, t in stored_console(sdk_db, wrap_id)] == ["from print"]


def test_finish_does_not_wait_for_children_that_keep_the_pipe_open(console_env, tmp_path, sdk_db):
    """A background process inheriting stdout and a forked worker (which also inherits the
    capture's own descriptors) hold the pipe open: finish() stops capturing once the pipe
    is drained, and the children's later output still reaches the terminal (forwarded,
    not captured). The children write only once finish() has returned (they wait for the
    file "finished"), so a finish() that waited for them would never return."""
    result, run_id = run_bytes(
        """
        import os, subprocess, sys, time
        import gradline as wandb
        def wait_for_finish():
            deadline = time.monotonic() + 100
            while not os.path.exists("finished") and time.monotonic() < deadline:
                time.sleep(0.02)
        run = wandb.init(project="console-linger", settings={"console": "redirect"})
        open("run_id", "w").write(run.id)
        child = subprocess.Popen(
            ["sh", "-c", "while [ ! -e finished ]; do sleep 0.02; done; echo late"]
        )
        worker = os.fork()
        if worker == 0:  # a DataLoader-style worker outliving the run
            wait_for_finish()
            os.write(1, b"worker late\\n")
            os._exit(0)
        print("parent", flush=True)
        started = time.monotonic()
        run.finish()
        sys.stderr.write(f"finish took {time.monotonic() - started:.2f}\\n")
        open("finished", "w").close()
        child.wait()
        os.waitpid(worker, 0)
        """,
        console_env,
        tmp_path,
    )
    took = float(result.stderr.decode().split("finish took ")[1].split()[0])
    # Only a bound against hanging (finish_timeout is 60 s): the children are still
    # running and holding the pipe when finish() returns, by construction.
    assert took < 30.0, result.stderr
    assert sorted(result.stdout.splitlines()) == [b"late", b"parent", b"worker late"]
    assert [t for _, _, t in stored_console(sdk_db, run_id)] == ["parent"]


def test_output_beyond_the_pipe_buffer_from_many_threads_does_not_block(
    console_env, tmp_path, sdk_db
):
    """Threads flooding stderr (as the SDK's own warnings would) while the main thread
    floods stdout: far more than a pipe holds, nothing blocks and every line is stored."""
    result, run_id = run_bytes(
        """
        import os, sys, threading
        import gradline as wandb
        run = wandb.init(project="console-flood", settings={"console": "redirect"})
        open("run_id", "w").write(run.id)
        def warn(n):
            for i in range(500):
                sys.stderr.write(f"thread {n} warning {i}\\n")
        threads = [threading.Thread(target=warn, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for i in range(2000):
            os.write(1, b"%d " % i + b"x" * 200 + b"\\n")
        for t in threads:
            t.join()
        run.finish()
        """,
        console_env,
        tmp_path,
    )
    assert result.stdout.count(b"\n") == 2000 and result.stderr.count(b"\n") == 2000
    streams = by_stream(stored_console(sdk_db, run_id))
    assert [line.split()[0] for line in streams["stdout"]] == [str(i) for i in range(2000)]
    assert sorted(streams["stderr"]) == sorted(
        f"thread {n} warning {i}" for n in range(4) for i in range(500)
    )


def test_an_invalid_console_setting_is_refused_at_init(sdk_settings, monkeypatch):
    expected = "console must be one of auto, redirect, wrap, off; got 'tee'"
    with pytest.raises(ValueError, match=expected):
        gradline.init(project="console-bad", settings=sdk_settings(console="tee"))
    monkeypatch.setenv("WANDB_CONSOLE", "sometimes")
    with pytest.raises(ValueError, match="console must be one of"):
        load()
    assert gradline.run is None
    monkeypatch.setenv("WANDB_CONSOLE", "wrap_emu")  # W&B's variants of wrap
    assert load().console == "wrap"
    monkeypatch.setenv("GRADLINE_CONSOLE", " Redirect ")
    assert load().console == "redirect"
    monkeypatch.delenv("GRADLINE_CONSOLE")
    monkeypatch.delenv("WANDB_CONSOLE")
    assert load().console == "auto"


def test_redirect_that_cannot_start_falls_back_to_wrap_with_one_warning(
    console_env, tmp_path, sdk_db
):
    """Started with stdout closed (`>&-`), descriptor 1 may belong to any file: redirect is
    refused with one warning line and Python-level writes are still captured."""
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import os, sys
        import gradline as wandb
        run = wandb.init(project="console-fallback", settings={"console": "redirect"})
        open("run_id", "w").write(run.id)
        print("python stderr", file=sys.stderr)
        os.write(2, b"raw stderr\\n")
        run.finish()
        """)
    )
    result = subprocess.run(
        ["sh", "-c", 'exec "$0" train.py >&-', sys.executable],
        cwd=tmp_path,
        env=console_env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.decode().splitlines()
    warnings = [line for line in lines if "console redirect is not possible" in line]
    assert len(warnings) == 1 and lines[-2:] == ["python stderr", "raw stderr"], lines
    run_id = (tmp_path / "run_id").read_text()
    assert [(s, t) for _, s, t in stored_console(sdk_db, run_id)] == [("stderr", "python stderr")]


def run_on_a_terminal(code: str, env: dict, cwd: Path) -> tuple[bytes, str]:
    """Run a script whose stdout is a terminal (111x37); returns what the terminal got."""
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "train.py").write_text(textwrap.dedent(code))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 111, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "train.py"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every holder of the terminal has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    return b"".join(chunks), (cwd / "run_id").read_text()


def test_redirect_keeps_a_terminal_a_terminal(console_env, tmp_path, sdk_db):
    """On a terminal the capture stands in with a pseudo-terminal: the script, C stdio and
    child processes still see a terminal of the same size (colours, progress bars and
    line-buffered printf behave as before) and the terminal gets the same bytes."""
    script = """
        import ctypes, os, subprocess, sys
        import gradline as wandb
        run = wandb.init(project="console-tty")
        open("run_id", "w").write(run.id)
        size = os.get_terminal_size(1)
        print(f"size {size.columns}x{size.lines}", flush=True)
        ctypes.CDLL(None).printf(b"printf, line-buffered on a terminal\\n")  # no fflush
        subprocess.run(["sh", "-c", "[ -t 1 ] && echo child sees a terminal"], check=True)
        for pct in (0, 50, 100):
            print(f"\\rbar {pct}%", end="", flush=True)
        print()
        run.finish()
        sys.stdout.flush()
        os._exit(0)  # skip libc's exit flush: printf's line got out by line buffering
    """
    off, _ = run_on_a_terminal(script, {**console_env, "GRADLINE_CONSOLE": "off"}, tmp_path / "off")
    out, run_id = run_on_a_terminal(script, console_env, tmp_path / "auto")
    assert out == off and b"child sees a terminal\r\n" in out
    assert [(s, t) for _, s, t in stored_console(sdk_db, run_id)] == [
        ("stdout", "size 111x37"),
        ("stdout", "printf, line-buffered on a terminal"),
        ("stdout", "child sees a terminal"),
        ("stdout", "bar 100%"),
    ]


def test_the_sdks_own_messages_reach_the_terminal_but_not_the_run(console_env, tmp_path, sdk_db):
    env = {**console_env, "GRADLINE_SILENT": "false", "GRADLINE_CONSOLE": "redirect"}
    result, run_id = run_bytes(
        """
        import sys
        import gradline as wandb
        run = wandb.init(project="console-fd")
        open("run_id", "w").write(run.id)
        print("script line", file=sys.stderr, flush=True)
        run.finish()
        """,
        env,
        tmp_path / "own",
    )
    stderr = result.stderr.decode()
    assert "gradline: " in stderr and "script line" in stderr  # both on the terminal
    stored = by_stream(stored_console(sdk_db, run_id))
    assert stored["stderr"] == ["script line"]  # only the script's own line in the run
