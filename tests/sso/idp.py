"""Starts django-allauth's OpenID provider (tests/sso/idp_server) as a second process on
127.0.0.1, on its own PostgreSQL database, and drives it like a user's browser would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 90
IDP_PASSWORD = "idp-pass-123"


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _admin_dsn() -> dict:
    """The test database's server (machine or embedded PostgreSQL), as Django has it."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
    }


class IdP:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = f"sso_idp_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.dir = Path(tempfile.mkdtemp(prefix="sso-idp-"))
        (self.dir / "key.pem").write_text(_pem())
        (self.dir / "other.pem").write_text(_pem())
        dsn = _admin_dsn()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.sso.idp_server.settings",
            "IDP_DB_NAME": self.db,
            "IDP_DB_HOST": dsn["host"],
            "IDP_DB_PORT": dsn["port"],
            "IDP_DB_USER": dsn["user"],
            "IDP_DB_PASSWORD": dsn["password"],
            "IDP_PRIVATE_KEY_FILE": str(self.dir / "key.pem"),
            "IDP_OTHER_KEY_FILE": str(self.dir / "other.pem"),
            "PYTHONPATH": str(ROOT),
        }
        self.proc: subprocess.Popen | None = None

    def _admin(self, sql: str) -> None:
        dsn = _admin_dsn()
        with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as conn:
            conn.execute(sql)

    def start(self) -> IdP:
        self._admin(f'CREATE DATABASE "{self.db}"')
        manage = [sys.executable, "-m", "django"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=self.env, check=True, timeout=180)
        self.log = open(self.dir / "idp.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                if requests.get(self.discovery_url, timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"IdP did not start: {(self.dir / 'idp.log').read_text()}")
            time.sleep(0.1)  # polling a process start-up, not synchronising test steps

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def discovery(self) -> dict:
        return requests.get(self.discovery_url, timeout=10).json()

    def set_mode(self, mode: str) -> None:
        requests.post(f"{self.url}/test/mode", json={"mode": mode}, timeout=10).raise_for_status()

    def user(self, email: str, password: str = IDP_PASSWORD, groups=(), verified=True) -> str:
        r = requests.post(
            f"{self.url}/test/users",
            json={
                "email": email,
                "password": password,
                "groups": list(groups),
                "verified": verified,
            },
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["sub"]

    def client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        requests.post(
            f"{self.url}/test/clients",
            json={"id": client_id, "secret": secret, "redirect_uris": redirect_uris},
            timeout=10,
        ).raise_for_status()

    def browser(self, email: str, password: str = IDP_PASSWORD) -> requests.Session:
        """A browser session signed in at the IdP."""
        s = requests.Session()
        page = s.get(f"{self.url}/accounts/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        r = s.post(
            f"{self.url}/accounts/login/",
            data={"csrfmiddlewaretoken": token, "login": email, "password": password},
            headers={"Referer": f"{self.url}/accounts/login/"},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code == 302, (r.status_code, r.text[:500])
        return s
