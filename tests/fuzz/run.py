"""`make fuzz`: schemathesis against a live Gradline server, with two teams.

1. A throwaway database `gradline_fuzz_<pid>` on the PostgreSQL of DATABASE_URL (or the
   embedded one when it is unset; dropped at the end), migrated and seeded by
   tests/fuzz/seed.py: teams A and B bootstrapped with `manage.py bootstrap`, and team
   A's objects for every URL keyword argument.
2. A real server process (`python -m config.serve`, uvicorn) on a free port.
3. Cross-team probes: every API operation whose path names objects, with team A's objects
   in the path and team B's admin key, must answer 404 (nothing is revealed or changed).
4. schemathesis (positive and negative data, coverage and fuzzing phases) with team A's
   admin key and team A's real objects in every path, so requests reach the handlers.
   Destructive operations run in later passes, so they do not starve the others of
   objects: first everything but deletes, then the deletes, then deleting the team.

Fails (exit status 1) on any 5xx, any answer the schema does not declare, a body that
does not match its declared schema or content type, or a cross-team probe that is not 404.

Checks left out, and why:
- negative_data_rejection: the API is deliberately lenient where the schema cannot say
  so (unknown body fields are ignored, booleans read "1/true/yes" and treat the rest as
  false, a list parameter may be empty), so "the server accepted invalid data" is noise;
  tests/core/test_no_server_errors.py and the per-app tests cover bad input by name.
- positive_data_acceptance: valid-looking data is refused for reasons a schema cannot
  express (a name already taken, a blob not uploaded, a sweep that is done: 409/404).
- ignored_auth: public projects are readable without credentials by design, and the
  fuzzer may make team A's project public; tests/core/test_route_matrix.py covers
  anonymous access route by route.
- unsupported_method, use_after_free, ensure_resource_availability: covered by
  tests/core/test_no_server_errors.py (every method of every route) and the API tests;
  the stateful ones need OpenAPI links, which the schema does not declare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import requests

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
# (label, schemathesis filter options): the passes, in order.
PASSES = [
    (
        "everything but deletes",
        [
            "--exclude-method",
            "DELETE",
            "--exclude-operation-id",
            "team_leave_post",
            "--exclude-operation-id",
            "project_detail_patch",  # may rename the project
        ],
    ),
    (
        "deletes",
        [
            "--include-method",
            "DELETE",
            "--include-operation-id",
            "project_detail_patch",
            "--exclude-operation-id",
            "team_detail_delete",
        ],
    ),
    (
        "leaving and deleting the team",
        [
            "--include-operation-id",
            "team_leave_post",
            "--include-operation-id",
            "team_detail_delete",
        ],
    ),
]


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (host, port, socket directory and user kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def throwaway_database(server_url: str):
    name = f"gradline_fuzz_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, var_dir: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINE_", "WANDB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url,
        GRADLINE_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        PUBLIC_BASE_URL=base_url,
        CACHE_KEY_PREFIX=f"fuzz-{os.getpid()}",  # its own rate-limit counters
        RATE_LIMIT_API_KEY="1000000/60",  # the fuzzer is one key sending fast
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def seed(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.seed"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding the fuzz database failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def live_server(env: dict[str, str], port: int, log_path: Path):
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.serve", "--no-migrate", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited:\n{log_path.read_text()[-5000:]}")
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer /healthz:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(15)


def cross_team_probes(url: str, seeded: dict) -> list[str]:
    """Every operation naming team A's objects, as team B's admin: all must be 404."""
    schema = requests.get(f"{url}/api/schema/?format=json", timeout=30).json()
    headers = {"Authorization": f"Bearer {seeded['key_b']}"}
    failures, probes = [], 0
    for path, item in schema["paths"].items():
        values = seeded["paths"].get(path)
        if not values:
            continue
        # Values as they appear in URLs; file paths keep their slashes.
        quoted = {k: quote(str(v), safe="/" if k == "path" else "") for k, v in values.items()}
        concrete = path.format(**quoted)
        for method in item:
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            probes += 1
            answer = requests.request(
                method.upper(), f"{url}{concrete}", headers=headers, json={}, timeout=30
            )
            if answer.status_code != 404:
                failures.append(f"{method.upper()} {concrete} as team B: {answer.status_code}")
    print(f"cross-team probes: {probes}, not 404: {len(failures)}", flush=True)
    if probes == 0:
        failures.append("no cross-team probe was made (no seeded path matched the schema)")
    return failures


def schemathesis_config(seeded: dict, path: Path) -> Path:
    """Team A's objects in every path: one [[operations]] block per path."""
    hooks = Path(__file__).with_name("hooks.py")
    lines = [f"hooks = {json.dumps(str(hooks))}", "[cache]", "enabled = false", ""]
    for api_path, values in sorted(seeded["paths"].items()):
        params = ", ".join(f'"path.{k}" = {json.dumps(v)}' for k, v in sorted(values.items()))
        lines += ["[[operations]]", f"include-path = {json.dumps(api_path)}"]
        lines += [f"parameters = {{ {params} }}", ""]
    path.write_text("\n".join(lines))
    return path


def run_schemathesis(
    url: str, config: Path, key: str, *, examples, seconds, workers, seed_value, report_dir
):
    failed = []
    budget = seconds / len(PASSES) if seconds else None
    for label, filters in PASSES:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{url}/api/schema/?format=json",
            "--url",
            url,
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            CHECKS,
            "--phases",
            "coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            str(examples),
            "--workers",
            str(workers),
            "--request-timeout",
            "60",
            "--suppress-health-check",
            "all",
            "--no-shrink",
            "--warnings",
            "off",
            *filters,
        ]
        if budget:
            command += ["--max-time", str(max(1, int(budget)))]
        if seed_value is not None:
            command += ["--seed", str(seed_value)]
        if report_dir:
            where = Path(report_dir) / label.replace(" ", "-")
            command += ["--report", "junit,har", "--report-dir", str(where)]
        print(f"\n=== schemathesis: {label} ===", flush=True)
        done = subprocess.run(command, cwd=REPO, check=False)
        if done.returncode != 0:
            failed.append(label)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 50)))
    parser.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("FUZZ_SECONDS", 0)),
        help="time budget for schemathesis (all passes); 0: until --examples per operation",
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FUZZ_WORKERS", 2)))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--report-dir",
        default=os.environ.get("FUZZ_REPORT_DIR"),
        help="keep schemathesis' JUnit and HAR reports (every request and answer) here",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:  # like `make run`: the embedded PostgreSQL under var/
        from config.env import embedded_database_url

        args.database_url = embedded_database_url()

    var_dir = Path(tempfile.mkdtemp(prefix="gradline-fuzz-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = var_dir / "server.log"
    try:
        with throwaway_database(args.database_url) as database_url:
            env = server_env(database_url, var_dir, url)
            seeded = seed(env)
            with live_server(env, port, log_path):
                failures = cross_team_probes(url, seeded)
                config = schemathesis_config(seeded, var_dir / "schemathesis.toml")
                failed_passes = run_schemathesis(
                    url,
                    config,
                    seeded["key_a"],
                    examples=args.examples,
                    seconds=args.seconds,
                    workers=args.workers,
                    seed_value=args.seed,
                    report_dir=args.report_dir,
                )
        for failure in failures:
            print(f"FAIL {failure}")
        for label in failed_passes:
            print(f"FAIL schemathesis pass: {label}")
        log = log_path.read_text(errors="replace")
        if "Traceback" in log:
            print(f"server log (tracebacks):\n{log[-8000:]}")
        ok = not failures and not failed_passes
        print("fuzz: passed" if ok else "fuzz: FAILED", flush=True)
        return 0 if ok else 1
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
