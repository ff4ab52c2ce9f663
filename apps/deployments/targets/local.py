"""The `local` target: an MLServer process (Open Inference Protocol V2 over HTTP) on this
machine, started by the worker in its own session so it outlives the worker; a resumed
job adopts the process its predecessor recorded instead of starting a second one.

Redeploys are blue/green: the new server starts on fresh ports, and the old one is
stopped only once the new one answers ready."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from apps.deployments import packaging
from apps.deployments.targets import TargetError

READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 20


def mlserver_bin() -> str:
    candidate = Path(sys.executable).with_name("mlserver")
    return str(candidate) if candidate.exists() else "mlserver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance_dir(deployment, attempt: int) -> Path:
    return packaging.root() / "local" / str(deployment.team_id) / str(deployment.pk) / f"a{attempt}"


def alive(pid: int | None, marker: str) -> bool:
    """The process `pid` runs and is the server started in `marker` (a pid reused by
    another program does not count)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return False
    return marker in cmdline and ") Z " not in stat


def _kill(pid: int, marker: str) -> None:
    if not alive(pid, marker):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when this worker is its parent


def server_settings(name: str, model_uri: str, options: dict, http_port: int) -> tuple[dict, dict]:
    """MLServer's settings.json and the model's model-settings.json (bench/serving.py
    starts the same configuration)."""
    settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": _free_port(),
        "metrics_port": _free_port(),
        # Inference in the server process: one model, no pool of workers to spawn.
        "parallel_workers": int(options.get("workers", 0)),
        "debug": False,
    }
    model_settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": model_uri},
    }
    if options.get("batching", True):
        # MLServer's adaptive batching: requests arriving within max_batch_time are
        # stacked into one predict() call of up to max_batch_size rows.
        model_settings["max_batch_size"] = int(options.get("max_batch_size", 32))
        model_settings["max_batch_time"] = float(options.get("max_batch_time", 0.002))
    return settings, model_settings


def write_instance(directory: Path, settings: dict, model_settings: dict) -> None:
    # MLServer expects the model's folder to carry the model's name.
    model_dir = directory / model_settings["name"]
    model_dir.mkdir(parents=True, exist_ok=True)
    (directory / "settings.json").write_text(json.dumps(settings))
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))


def _write_instance(ctx, directory: Path, http_port: int) -> None:
    package = ctx.package
    if package.flavor != "sklearn":
        raise TargetError(f"The local target serves scikit-learn models; this is {package.flavor}.")
    model_uri = str(packaging.package_dir(package) / package.model_file)
    settings, model_settings = server_settings(
        ctx.deployment.endpoint_name, model_uri, ctx.deployment.options, http_port
    )
    write_instance(directory, settings, model_settings)


def _ready(url_base: str, name: str) -> bool:
    try:
        return httpx.get(f"{url_base}/v2/models/{name}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def deploy(ctx) -> str:
    deployment = ctx.deployment
    name = deployment.endpoint_name
    runtime = dict(ctx.runtime)
    current = runtime.get("server") or {}
    starting = runtime.get("starting") or {}
    # Resume: a server this attempt (or a killed job of it) started is adopted.
    if starting.get("attempt") == ctx.attempt and alive(starting.get("pid"), starting["dir"]):
        ctx.log(f"resuming: model server pid {starting['pid']} already started")
        server = starting
    elif (
        current.get("package") == ctx.package.digest
        and alive(current.get("pid"), current.get("dir", "\0"))
        and _ready(current["base"], name)
    ):
        ctx.log(f"model server pid {current['pid']} already serves this package")
        return current["url"]
    else:
        directory = instance_dir(deployment, ctx.attempt)
        if directory.exists():
            for leftover in directory.glob("server.log*"):
                leftover.unlink()
        port = _free_port()
        _write_instance(ctx, directory, port)
        log_path = directory / "server.log"
        with open(log_path, "ab") as out:
            process = subprocess.Popen(  # noqa: S603 - the venv's mlserver, our folder
                [mlserver_bin(), "start", str(directory)],
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the worker; stopped by its process group
                env={**os.environ, "MLSERVER_LOGGING": "1"},
            )
        base = f"http://127.0.0.1:{port}"
        server = {
            "attempt": ctx.attempt,
            "pid": process.pid,
            "dir": str(directory),
            "base": base,
            "url": f"{base}/v2/models/{name}",
            "package": ctx.package.digest,
        }
        runtime["starting"] = server
        ctx.save_runtime(runtime)  # recorded before waiting: a resumed job finds it
        ctx.log(f"started MLServer pid {process.pid} on port {port}")
    log_path = Path(server["dir"]) / "server.log"
    deadline = time.monotonic() + float(deployment.options.get("ready_timeout_s", READY_TIMEOUT_S))
    seen = 0
    while not _ready(server["base"], name):
        seen = ctx.stream_file(log_path, seen)
        if not alive(server["pid"], server["dir"]):
            tail = _log_tail(log_path)
            runtime.pop("starting", None)
            ctx.save_runtime(runtime)
            raise TargetError(f"The model server exited before it was ready:\n{tail}")
        if time.monotonic() > deadline:
            _kill(server["pid"], server["dir"])
            runtime.pop("starting", None)
            ctx.save_runtime(runtime)
            raise TargetError(f"The model server was not ready within {READY_TIMEOUT_S} s.")
        ctx.heartbeat(wait=0.25)
    ctx.stream_file(log_path, seen)
    if current and current.get("pid") != server["pid"]:
        _kill(current["pid"], current.get("dir", "\0"))
        ctx.log(f"stopped the previous model server pid {current['pid']}")
    runtime = {"server": server}
    ctx.save_runtime(runtime)
    return server["url"]


def stop(ctx) -> None:
    for key in ("starting", "server"):
        server = ctx.runtime.get(key) or {}
        if server.get("pid"):
            _kill(server["pid"], server.get("dir", "\0"))
            ctx.log(f"stopped model server pid {server['pid']}")
    ctx.save_runtime({})


def supervise(deployment) -> bool:
    """Whether the recorded server still runs (the periodic check restarts it if not)."""
    server = (deployment.runtime or {}).get("server") or {}
    return alive(server.get("pid"), server.get("dir", "\0"))
