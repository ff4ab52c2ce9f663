"""Shared benchmark harness: local servers, databases, peers and `name=value` output.

Every benchmark runs on 127.0.0.1 only, in bounded time, and cleans up what it started
(server process groups, the databases it created). Gradline parts run in `.venv`, peers
(MLflow, wandb) in `.venv-peers` (`make bench-setup`) via subprocesses: the peers'
dependencies never meet the app's.

Environment:
  BENCH_PG_URL     admin URL of the PostgreSQL server that holds the bench databases
                   (default postgresql://postgres@127.0.0.1:5432/postgres)
  BENCH_REDIS_URL  Redis for the Gradline server (default redis://127.0.0.1:6379/13, a
                   database of its own so queued tasks never reach another checkout's
                   worker; set it empty to run the server without Redis)
  BENCH_KEEP_DB=1  keep the databases for inspection
  BENCH_SERVER_GC  experiment: "g0,g1,g2" gc thresholds set in the Gradline server process
                   before it starts (e.g. 100000,50,100), to measure the cost of Python's
                   cyclic GC on the ingest path; unset = the server as shipped
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
APP_PY = ROOT / ".venv" / "bin" / "python"
PEERS_BIN = ROOT / ".venv-peers" / "bin"
PEERS_PY = PEERS_BIN / "python"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
KEEP_DB = os.environ.get("BENCH_KEEP_DB") == "1"
SERVER_GC = os.environ.get("BENCH_SERVER_GC", "")


# -- output -------------------------------------------------------------------------


def emit(name: str, value) -> None:
    """One machine-readable result line."""
    if isinstance(value, float):
        value = f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    print(f"{name}={value}", flush=True)


def emit_context(bench: str) -> None:
    """Which benchmark, on which commit (dirty when apps/, config/ or sdk/ have local
    changes), on how many CPUs."""
    emit("bench", bench)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "apps", "config", "sdk"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        emit("commit", f"{commit}{'-dirty' if dirty else ''}")
    except OSError:
        pass
    emit("cpus", os.cpu_count())


def emit_load(phase: str) -> None:
    """The 1-minute load average at this point: the machine is shared, so say how busy."""
    emit(f"loadavg_{phase}", round(os.getloadavg()[0], 2))


def note(text: str) -> None:
    """Human-readable context, prefixed so parsers can skip it."""
    print(f"# {text}", file=sys.stderr, flush=True)


def parse_lines(text: str) -> dict[str, str]:
    """The name=value lines of a peer's output."""
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            if name and " " not in name:
                out[name.strip()] = value.strip()
    return out


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def percentile(values, q: float):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- processes and ports ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; fail early when `proc` died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http only)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last})")


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def spawn(cmd: list[str], *, env: dict | None = None, log: Path | None = None, cwd=ROOT):
    """Start a server in its own process group (so stop_process takes its workers too)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def run_peer(args: list[str], *, env: dict | None = None, timeout: float = 600) -> dict[str, str]:
    """Run `bench/_peer_tasks.py ARGS` in .venv-peers and return its name=value lines."""
    if not PEERS_PY.exists():
        raise SystemExit("peers are not installed: run `make bench-setup`")
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [str(PEERS_PY), str(BENCH_DIR / "_peer_tasks.py"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.stderr.strip():
        for line in proc.stderr.strip().splitlines()[-15:]:
            note(f"peer: {line}")
    if proc.returncode != 0:
        raise RuntimeError(f"peer task {args[0]} failed with {proc.returncode}")
    return parse_lines(proc.stdout)


# -- PostgreSQL ---------------------------------------------------------------------


def db_url(name: str, *, driver: str = "") -> str:
    """PG_ADMIN_URL pointed at database `name` (optionally with a SQLAlchemy driver)."""
    parsed = urlparse(PG_ADMIN_URL)
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return urlunparse(parsed._replace(scheme=scheme, path=f"/{name}"))


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def fresh_database(prefix: str):
    """Create an empty database for one benchmark; drop it afterwards."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        if not KEEP_DB:
            with contextlib.suppress(Exception):
                _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- MLflow -------------------------------------------------------------------------


class MlflowServer:
    """`mlflow server` 3.17.2 on 127.0.0.1 with a PostgreSQL backend in its own database.

    workers=1 is its best configuration; the default (4) leaves Nagle's algorithm on for
    accepted sockets (uvicorn bug), which costs ~40 ms per kept-alive request.
    """

    def __init__(self, workers: int = 1, *, startup_timeout: float = 180):
        self.workers = workers
        self.startup_timeout = startup_timeout
        self.url = ""
        self.db_name = ""

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        try:
            self.db_name = self._stack.enter_context(fresh_database("bench_mlflow"))
            self.tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.log = self.tmp / "mlflow.log"
            cmd = [
                str(PEERS_BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                db_url(self.db_name, driver="psycopg2"),
                "--artifacts-destination",
                str(self.tmp / "artifacts"),
            ]
            if self.workers != 4:  # 4 is its default; leave the flag off to run it as shipped
                cmd += ["--workers", str(self.workers)]
            env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
            env.pop("MLFLOW_TRACKING_URI")
            self.proc = spawn(cmd, env=env, log=self.log)
            self._stack.callback(stop_process, self.proc)
            wait_http(f"{self.url}/health", self.startup_timeout, self.proc)
        except BaseException:
            self._dump_log()
            self._stack.close()
            raise
        return self

    def _dump_log(self):
        with contextlib.suppress(Exception):
            for line in self.log.read_text(errors="replace").splitlines()[-20:]:
                note(f"mlflow: {line}")

    def __exit__(self, *exc):
        self._stack.close()


# -- Gradline -----------------------------------------------------------------------


class GradlineServer:
    """The Gradline server (uvicorn via config.serve, TCP_NODELAY) on a fresh database.

    The database is created empty and migrated by config.serve; a user, team and API key
    are bootstrapped. Rate limits are lifted so the benchmark measures the server, not
    the limiter. DEBUG is off (query logging would skew the numbers).
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        team: str = "bench",
        project: str = "bench",
        startup_timeout: float = 180,
        extra_env: dict | None = None,
    ):
        self.workers = workers
        self.team = team
        self.project = project
        self.startup_timeout = startup_timeout
        self.extra_env = extra_env or {}
        self.url = ""
        self.api_key = ""

    @property
    def project_path(self) -> str:
        return f"/api/v1/teams/{self.team}/projects/{self.project}"

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        try:
            self.db_name = self._stack.enter_context(fresh_database("bench_gradline"))
            self.tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "DATABASE_URL": db_url(self.db_name),
                "REDIS_URL": REDIS_URL,
                "DEBUG": "0",
                "PUBLIC_BASE_URL": self.url,
                "RATE_LIMIT_API_KEY": "100000000/60",
                "GRADLINE_VAR_DIR": str(self.tmp / "var"),
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
            if SERVER_GC:  # a sitecustomize reaches every uvicorn worker process too
                thresholds = tuple(int(part) for part in SERVER_GC.split(","))
                site = self.tmp / "site"
                site.mkdir()
                (site / "sitecustomize.py").write_text(
                    f"import gc\ngc.set_threshold(*{thresholds!r})\n"
                )
                self.env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(site), self.env.get("PYTHONPATH", "")])
                )
            # The secret key lives under GRADLINE_VAR_DIR: serve and bootstrap share it.
            self.log = self.tmp / "server.log"
            self._migrate()
            self.api_key = self._bootstrap()
            cmd = [str(APP_PY), "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port)]
            cmd += ["--workers", str(self.workers), "--no-migrate"]
            self.proc = spawn(cmd, env=self.env, log=self.log)
            self._stack.callback(stop_process, self.proc)
            wait_http(f"{self.url}/healthz", self.startup_timeout, self.proc)
        except BaseException:
            self.dump_log()
            self._stack.close()
            raise
        return self

    def _manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(APP_PY), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _migrate(self) -> None:
        proc = self._manage("migrate", "--no-input", "-v", "0")
        if proc.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{proc.stderr[-3000:]}")

    def _bootstrap(self) -> str:
        email = "bench@example.com"
        proc = self._manage("bootstrap", "--email", email, "--team", self.team)
        key = parse_lines(proc.stdout).get("GRADLINE_API_KEY")
        if proc.returncode == 0 and key:
            return key
        # `manage.py bootstrap` not there (or it changed): create the same through services.
        snippet = (
            "from apps.accounts.onboarding import user_signup\n"
            "from apps.accounts.services import api_key_create\n"
            "from apps.teams.services import team_create\n"
            f"user = user_signup(email={email!r})\n"
            f"team = team_create(creator=user, slug={self.team!r})\n"
            "_, secret = api_key_create(user=user, name='bench', team=team)\n"
            "print('GRADLINE_API_KEY=' + secret)\n"
        )
        proc = self._manage("shell", "-c", snippet)
        key = parse_lines(proc.stdout).get("GRADLINE_API_KEY")
        if proc.returncode != 0 or not key:
            raise RuntimeError(f"bootstrap failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return key

    def shell(self, snippet: str, timeout: float = 300) -> dict[str, str]:
        """Run Python in `manage.py shell` against the server's database; its name=value
        lines. Used to time selectors in-process (no HTTP, auth or JSON encoding)."""
        proc = self._manage("shell", "-c", snippet, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py shell failed:\n{proc.stderr[-3000:]}")
        return parse_lines(proc.stdout)

    def sql(self, query: str, params=None):
        """Run a read query on the server's database (for checks, not for timing)."""
        import psycopg

        with psycopg.connect(db_url(self.db_name), autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def dump_log(self, lines: int = 30) -> None:
        with contextlib.suppress(Exception):
            for line in self.log.read_text(errors="replace").splitlines()[-lines:]:
                note(f"gradline: {line}")

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.dump_log()
        self._stack.close()


# -- HTTP client for the Gradline side ----------------------------------------------


class Http:
    """A kept-alive HTTP/1.1 connection (http.client sets TCP_NODELAY on connect)."""

    def __init__(self, base_url: str, api_key: str = "", timeout: float = 120):
        import http.client

        parsed = urlparse(base_url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        """-> (status, headers dict (lower-case names), body bytes)."""
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def json(self, method: str, path: str, payload=None, *, gzip_level: int | None = None):
        import gzip

        import orjson

        body = None
        headers = {}
        if payload is not None:
            body = orjson.dumps(payload)
            if gzip_level is not None:
                body = gzip.compress(body, gzip_level)
                headers["Content-Encoding"] = "gzip"
        status, _response_headers, data = self.request(method, path, body, headers)
        if status >= 400:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:500]!r}")
        return orjson.loads(data) if data else None

    def close(self):
        self.conn.close()


def server_timing_ms(headers: dict) -> float | None:
    """Server time (ms) from a Server-Timing header, or None when absent.

    An entry named total/app/server wins; otherwise the largest `dur` (entries such as
    `db;dur=3, total;dur=9` overlap, so they are not added up).
    """
    raw = headers.get("server-timing")
    if not raw:
        return None
    durations = {}
    for part in raw.split(","):
        fields = [field.strip() for field in part.split(";")]
        for field in fields[1:]:
            if field.startswith("dur="):
                with contextlib.suppress(ValueError):
                    durations[fields[0]] = float(field[4:])
    for name in ("total", "app", "server"):
        if name in durations:
            return durations[name]
    return max(durations.values()) if durations else None


def peers_available() -> bool:
    return PEERS_PY.exists() and shutil.which(str(PEERS_BIN / "mlflow")) is not None
