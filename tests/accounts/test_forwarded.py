"""Forwarded client addresses through a real server process (`python -m config.serve`).

uvicorn rewrites the ASGI client address from X-Forwarded-For before Django runs, so only
a real server shows whether a client can choose the address that the login limit counts
and the audit log records. TRUSTED_PROXIES is the one setting both layers obey.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from apps.teams.models import AuditEvent
from tests.child_process import child_env
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _server(trusted_proxies: str, login_rate: str):
    """A Gradline server on the current test database; yields an httpx client for it."""
    port = free_port()
    env = child_env(
        TRUSTED_PROXIES=trusted_proxies,
        RATE_LIMIT_LOGIN=login_rate,
        CACHE_KEY_PREFIX=f"fwd-{uuid.uuid4().hex}",  # counters of this server only
        FORWARDED_ALLOW_IPS="*",  # uvicorn's own knob must not matter
    )
    env.pop("NUM_PROXIES", None)
    command = [sys.executable, "-m", "config.serve", "--no-migrate", "--port", str(port)]
    with (
        tempfile.TemporaryFile() as log,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise AssertionError(log.read().decode()[-3000:])
                try:
                    # Any answer means the server is up (/healthz may say 503 when the
                    # Celery broker is slow; the sign-in page needs only the database).
                    client.get("/accounts/login/")
                    break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            yield client
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _login(client: httpx.Client, email: str, forwarded_for: str | None) -> int:
    client.get("/accounts/login/")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = client.post(
        "/accounts/login/",
        data={
            "login": email,
            "password": "wrong-password",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        headers=headers,
    )
    return response.status_code


def _failed_login_ips(prefix: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(action="login.failed", target__startswith=prefix)
        .order_by("id")
        .values_list("ip", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_without_trusted_proxies_forwarded_headers_neither_escape_the_limit_nor_reach_the_audit():
    with _server(trusted_proxies="", login_rate="3/60") as client:
        statuses = [_login(client, f"spoof{n}@example.com", f"198.51.100.{n}") for n in range(3)]
        assert statuses == [200, 200, 200]
        # Limited: a fresh spoofed address (or a chain of them) is still the same client.
        assert _login(client, "spoof3@example.com", "198.51.100.99") == 429
        assert _login(client, "spoof4@example.com", "203.0.113.1, 127.0.0.1") == 429
    ips = _failed_login_ips("spoof")
    assert ips == ["127.0.0.1"] * 3


@pytest.mark.django_db(transaction=True)
def test_behind_a_trusted_proxy_the_forwarded_client_address_is_used():
    # The proxy is 127.0.0.1 (the test connects from there); 10.0.0.0/8 is an inner hop.
    with _server(trusted_proxies="127.0.0.1, 10.0.0.0/8", login_rate="2/60") as client:
        assert _login(client, "fwd0@example.com", "203.0.113.7") == 200
        # Entries a client wrote left of the proxies' own are not believed.
        assert _login(client, "fwd1@example.com", "192.0.2.1, 203.0.113.7") == 200
        assert _login(client, "fwd2@example.com", "192.0.2.2, 203.0.113.7") == 429
        # Another client behind the same proxy has its own budget; trusted inner hops
        # (10.x) are skipped to reach it.
        assert _login(client, "fwd3@example.com", "198.51.100.5, 10.1.2.3") == 200
    assert _failed_login_ips("fwd") == ["203.0.113.7", "203.0.113.7", "198.51.100.5"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("NUM_PROXIES", "1"), ("TRUSTED_PROXIES", "*"), ("TRUSTED_PROXIES", "proxy.internal")],
)
def test_a_hop_count_or_a_non_address_refuses_to_start(name, value):
    env = {**child_env(), name: value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr
