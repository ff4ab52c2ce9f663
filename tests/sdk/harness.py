"""A real Gradline server for SDK tests: its own PostgreSQL database (migrated and seeded
by tests/sdk/bootstrap_server.py) and uvicorn subprocesses that tests may SIGKILL and
restart. No HTTP is mocked anywhere in tests/sdk."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import orjson
import psutil
import psycopg
import requests

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def gradline_cli(
    *args: str,
    env: dict,
    cwd: Path | str = REPO,
    timeout: float = 120,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    """`gradline ARGS` in a fresh process, as a user would type it (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "gradline", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sdk_env_vars(url: str, key: str, tmp: Path, **extra: str) -> dict[str, str]:
    """The SDK settings of a user's shell against the test server at `url`, as the key's
    owner in sdk-team: runs and login under `tmp`, quiet runs (no system metrics,
    console capture, git, pip freeze); `extra` adds or overrides."""
    return {
        "GRADLINE_BASE_URL": url,
        "GRADLINE_API_KEY": key,
        "GRADLINE_ENTITY": "sdk-team",
        "GRADLINE_DIR": str(tmp / "runs"),
        "GRADLINE_CONFIG_DIR": str(tmp / "config"),
        "GRADLINE_SYSTEM_METRICS": "false",
        "GRADLINE_CONSOLE": "off",
        "GRADLINE_GIT": "false",
        "GRADLINE_PIP_FREEZE": "false",
        **extra,
    }


def sdk_script_env(url: str, key: str, tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a program run against the test server: this process's, less
    its GRADLINE_ / WANDB_ settings, plus `sdk_env_vars`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    return env | sdk_env_vars(url, key, tmp, **extra)


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class TestDatabase:
    """A database of its own on the PostgreSQL the Django test settings point at."""

    def __init__(self, name: str):
        from django.conf import settings

        db = settings.DATABASES["default"]
        self.name = name
        self.params = {
            "host": db["HOST"] or "127.0.0.1",
            "port": db["PORT"] or "5432",
            "user": db["USER"],
            "password": db["PASSWORD"],
        }

    def _admin(self):
        return psycopg.connect(dbname="postgres", autocommit=True, **self.params)

    @property
    def url(self) -> str:
        p = self.params
        auth = quote(p["user"]) + (f":{quote(p['password'])}" if p["password"] else "")
        host = p["host"]
        if host.startswith("/"):  # a socket directory
            return f"postgresql://{auth}@/{self.name}?host={quote(host)}&port={p['port']}"
        return f"postgresql://{auth}@{host}:{p['port']}/{self.name}"

    def create(self) -> None:
        """The database, already migrated: a copy of this process's migrated template
        (copying files takes a fraction of a second; migrating, 10-40 s of a busy box)."""
        template = _migrated_template(self)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"')

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(dbname=self.name, **self.params) as conn:
            return conn.execute(sql, params).fetchall()


_template: str | None = None


def _migrated_template(like: TestDatabase) -> str:
    """A database migrated once per test process on `like`'s server, dropped when the
    process exits. Nothing connects to it after migrating (a template must be idle)."""
    global _template
    if _template is None:
        template = TestDatabase(f"test_gradline_template_{os.getpid()}")
        with template._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template.name}"')
        try:
            _django_child(["manage.py", "migrate", "--no-input", "-v0"], template, timeout=600)
        except AssertionError:
            template.drop()
            raise
        atexit.register(template.drop)
        _template = template.name
    return _template


class ServerProcess:
    """`python -m config.serve --no-migrate` on a fixed port; kill() is SIGKILL."""

    def __init__(self, db: TestDatabase, var_dir: Path, port: int | None = None):
        self.db = db
        self.var_dir = var_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = var_dir / f"server-{self.port}.log"
        self.restarts = 0

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=self.db.url,
            GRADLINE_VAR_DIR=str(self.var_dir),
            # One storage for every server on this database (restarts, second servers).
            MEDIA_ROOT=str(self.var_dir / "media"),
            PUBLIC_BASE_URL=self.url,
            RATE_LIMIT_API_KEY="1000000/60",
            # A lone request must not meet the pool's 0.5 s overload answer (503) on a box
            # that parallel test processes keep busy; tests/runs/test_overload.py tests it.
            DB_POOL_TIMEOUT="10",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.pop("REDIS_URL", None)  # in-process channel layer and eager tasks
        return env

    def start(self, wait: bool = True) -> ServerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.serve",
                "--no-migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"server exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}"
            )
        try:
            if requests.get(f"{self.url}/healthz", timeout=2).status_code != 200:
                return False
        except requests.RequestException:
            return False
        # Ready only if the listener is ours: the port may answer from another test
        # process's server while ours has yet to bind (tests/ports.py).
        return self._listening()

    def _listening(self) -> bool:
        if self.proc is None:
            return True  # not started here
        try:
            ours = {self.proc.pid, *(c.pid for c in psutil.Process(self.proc.pid).children(True))}
        except psutil.NoSuchProcess:
            return False
        return any(
            c.pid in ours and c.laddr and c.laddr.port == self.port
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(self.ready, timeout, interval=0.1, what=f"server on {self.url}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight requests die with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Seed:
    def __init__(self, data: dict):
        self.owner_key = data["owner"]
        self.viewer_key = data["viewer"]
        self.outsider_key = data["outsider"]
        self.member_key = data["member"]  # a member of sdk-team (role member)
        self.service_key = data["service"]  # sdk-team's member-role service account
        self.team = "sdk-team"


def _django_child(args: list[str], db: TestDatabase, timeout: float, **env_extra: str) -> str:
    """`python ARGS` with the test settings on `db` (no Redis, none of this process's
    GRADLINE_ / WANDB_ settings); its stdout. Fails the test, with its stderr, if it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=db.url, **env_extra)
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, timeout=timeout
    )
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{out.stderr.decode()[-4000:]}")
    return out.stdout.decode()


def bootstrap(db: TestDatabase, var_dir: Path) -> Seed:
    out = _django_child(
        ["-m", "tests.sdk.bootstrap_server"], db, timeout=300, GRADLINE_VAR_DIR=str(var_dir)
    )
    return Seed(orjson.loads(out.strip().splitlines()[-1]))


class BlackHole:
    """A TCP listener that accepts connections and never answers (a hung server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            conn.close()
        self.sock.close()


class FaultProxy:
    """A real HTTP proxy in front of a server that can misbehave on purpose, per request:

    - "lose_request": close the connection without forwarding (the server never saw it)
    - "lose_response": forward, let the server store it, then close without answering
    - "duplicate": forward the request twice, answer with the second response
    - "blackhole": accept the request and never answer (until the mode changes)
    Faults are taken from `faults` (a queue, one per request); `mode` applies when empty.
    `error_paths` maps a path suffix to an HTTP status answered (as a JSON error, without
    forwarding) to every request whose path ends with it: a server bug on one route;
    `refuse_types` does the same by Content-Type (a server without a body format).
    `content_types` counts the Content-Type of every request seen; `paths` lists every
    request's (method, path). `rewrite_paths` maps a path suffix to a function applied to
    the upstream's response body before it is answered (a body damaged on the way).
    """

    def __init__(self, upstream: str):
        import collections
        import http.server

        self.upstream = upstream.rstrip("/")
        self.faults: collections.deque = collections.deque()
        self.mode: str | None = None
        self.error_paths: dict[str, int] = {}
        self.refuse_types: dict[str, int] = {}
        self.rewrite_paths: dict[str, Callable[[bytes], bytes]] = {}
        self.content_types: collections.Counter = collections.Counter()
        self.errors_answered = 0
        self.requests = 0
        self.paths: list[tuple[str, str]] = []  # (method, path) of every request seen
        self._release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.requests += 1
                proxy.paths.append((self.command, self.path))
                ctype = self.headers.get("Content-Type") or ""
                proxy.content_types[ctype] += 1
                status = next(
                    (code for end, code in proxy.error_paths.items() if self.path.endswith(end)),
                    proxy.refuse_types.get(ctype),
                )
                if status is not None:
                    proxy.errors_answered += 1
                    data = b'{"error": {"code": "server_error", "message": "injected"}}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                fault = proxy.faults.popleft() if proxy.faults else proxy.mode
                if fault == "blackhole":
                    proxy._release.wait(600)
                    self.close_connection = True
                    return
                if fault == "lose_request":
                    self.close_connection = True
                    return
                resp = proxy._forward(self.command, self.path, self.headers, body)
                if fault == "duplicate":
                    resp = proxy._forward(self.command, self.path, self.headers, body)
                if fault == "lose_response" or resp is None:
                    self.close_connection = True
                    return
                content = resp.content
                for end, rewrite in list(proxy.rewrite_paths.items()):
                    if self.path.endswith(end):
                        content = rewrite(content)
                self.send_response(resp.status_code)
                for key in ("Content-Type", "Retry-After"):
                    if key in resp.headers:
                        self.send_header(key, resp.headers[key])
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._session = threading.local()
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, method, path, headers, body):
        session = getattr(self._session, "s", None)
        if session is None:
            session = self._session.s = requests.Session()
        keep = {
            k: v
            for k, v in headers.items()
            if k.lower() in ("authorization", "content-type", "content-encoding")
        }
        try:
            return session.request(
                method, self.upstream + path, data=body, headers=keep, timeout=60
            )
        except requests.RequestException:
            return None

    def release_blackhole(self) -> None:
        self.mode = None
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
