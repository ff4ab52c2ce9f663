"""Rate limits: login (per IP, and per email for failures) and key-authenticated API
requests answer 429 with Retry-After; with Redis the counters are shared between
processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apps.teams.models import AuditEvent
from tests.child_process import child_env
from tests.factories import UserFactory, make_key

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"


def _login(client, email, password="wrong", ip="10.0.0.1"):  # noqa: S107
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip)


def _assert_429(response):
    assert response.status_code == 429, response.status_code
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 300


@pytest.mark.django_db
def test_login_attempts_per_ip_are_limited(client, settings):
    settings.RATE_LIMIT_LOGIN = "3/60"
    for n in range(3):
        assert _login(client, f"u{n}@example.com").status_code == 200
    _assert_429(_login(client, "u9@example.com"))
    # Another client address still gets through.
    assert _login(client, "u9@example.com", ip="10.0.0.2").status_code == 200


@pytest.mark.django_db
def test_failed_logins_per_email_are_limited_across_ips(client, settings):
    settings.RATE_LIMIT_LOGIN_FAILED = "2/300"
    user = UserFactory(email="target@example.com")
    assert _login(client, "target@example.com", ip="10.0.1.1").status_code == 200
    assert _login(client, "Target@Example.com", ip="10.0.1.2").status_code == 200
    # Third guess from yet another address: refused, even with the right password.
    _assert_429(_login(client, "target@example.com", PASSWORD, ip="10.0.1.3"))
    # The refused attempt was not a login failure (no audit row, no session).
    assert AuditEvent.objects.filter(action="login.failed", target=user.email).count() == 2
    assert "_auth_user_id" not in client.session
    # Other accounts are unaffected.
    UserFactory(email="other@example.com")
    assert _login(client, "other@example.com", PASSWORD, ip="10.0.1.4").status_code == 302


@pytest.mark.django_db
def test_successful_logins_do_not_use_up_the_email_limit(client, settings):
    settings.RATE_LIMIT_LOGIN_FAILED = "2/300"
    UserFactory(email="often@example.com")
    for n in range(4):
        client.logout()
        response = _login(client, "often@example.com", PASSWORD, ip=f"10.0.2.{n}")
        assert response.status_code == 302


@pytest.mark.django_db
def test_client_ip_comes_from_the_trusted_proxy_hop(client, settings):
    settings.RATE_LIMIT_LOGIN = "2/60"
    settings.NUM_PROXIES = 1
    proxy = "10.9.9.9"  # every request arrives from the proxy
    for n in range(2):
        response = client.post(
            "/accounts/login/",
            {"login": "x@example.com", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        assert response.status_code == 200
    # A client-chosen left-most entry does not escape its bucket.
    spoofed = client.post(
        "/accounts/login/",
        {"login": "x@example.com", "password": "x"},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.0",
    )
    assert spoofed.status_code == 200  # bucket 203.0.113.0 has 1 of 2 used
    _assert_429(
        client.post(
            "/accounts/login/",
            {"login": "x@example.com", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.0",
        )
    )
    event = AuditEvent.objects.filter(action="login.failed").order_by("id").first()
    assert event.ip == "203.0.113.0"


_CHILD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings
caches, rate = json.loads(sys.argv[1]), sys.argv[2]
with override_settings(CACHES=caches, RATE_LIMIT_LOGIN=rate):
    client = Client()
    for n in range(int(sys.argv[3])):
        response = client.post(
            "/accounts/login/", {"login": f"child{n}@example.com", "password": "x"},
            REMOTE_ADDR="10.0.3.1",
        )
        print(response.status_code)
"""


@pytest.mark.django_db(transaction=True)
def test_login_limit_is_shared_between_processes_through_redis(client, settings):
    if not django_settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the cache is per process (LocMemCache)")
    assert "RedisCache" in settings.CACHES["default"]["BACKEND"]
    settings.RATE_LIMIT_LOGIN = "3/60"
    env = child_env()  # the child uses this test database
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(settings.CACHES), "3/60", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["200", "200", "200"]
    # This process has not tried once, yet the shared bucket for 10.0.3.1 is full.
    _assert_429(_login(client, "parent@example.com", ip="10.0.3.1"))
    assert _login(client, "parent@example.com", ip="10.0.3.2").status_code == 200


@pytest.mark.django_db
def test_key_authenticated_requests_are_limited_per_key(admin_user, team, settings):
    settings.RATE_LIMIT_API_KEY = "3/60"
    secret = make_key(admin_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for _ in range(3):
        assert client.get("/api/v1/viewer").status_code == 200
    response = client.get(f"/api/v1/teams/{team.slug}")
    _assert_429(response)
    assert response.json()["error"]["code"] == "rate_limited"
    # Another key of the same user has its own budget; sessions are not key-limited.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(admin_user)}")
    assert other.get("/api/v1/viewer").status_code == 200
    session = APIClient()
    session.force_login(admin_user)
    for _ in range(5):
        assert session.get("/api/v1/viewer").status_code == 200
