"""Rate limits: password sign-in (per IP; per account and IP; a back-off per account),
key-authenticated API requests and allauth's own limits answer 429 with Retry-After;
the windows slide (no edges), and with Redis the counts are shared between processes.

The limiter reads the frozen clock of tests/accounts/clock.py (`frozen_clock`): these
tests cross windows by advancing it, and never depend on when they run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from apps.teams.models import AuditEvent
from tests.accounts.clock import CLOCK_PATH
from tests.child_process import child_env
from tests.factories import UserFactory, make_key

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"

pytestmark = pytest.mark.usefixtures("frozen_clock")


def _login(client, email, password="wrong", ip="10.0.0.1"):  # noqa: S107
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip)


def _retry_after(response) -> int:
    assert response.status_code == 429, response.status_code
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 3600
    return wait


def _failures(email: str) -> int:
    return AuditEvent.objects.filter(action="login.failed", target=email).count()


@pytest.mark.django_db
def test_login_attempts_per_ip_are_limited(client, settings, frozen_clock):
    settings.RATE_LIMIT_LOGIN = "3/60"
    for n in range(3):
        assert _login(client, f"u{n}@example.com").status_code == 200
    assert _retry_after(_login(client, "u9@example.com")) == 60
    # Another client address still gets through.
    assert _login(client, "u9@example.com", ip="10.0.0.2").status_code == 200
    # Once the window has passed, the first address is admitted again.
    frozen_clock.advance(60)
    assert _login(client, "u9@example.com").status_code == 200


@pytest.mark.django_db
def test_the_window_slides_instead_of_resetting_at_an_edge(client, settings, frozen_clock):
    settings.RATE_LIMIT_LOGIN = "3/60"
    for step in (0, 30, 29):  # attempts at t = 0, 30 and 59
        frozen_clock.advance(step)
        assert _login(client, "slide@example.com").status_code == 200
    frozen_clock.advance(0.5)  # t = 59.5: three attempts in the last 60 s
    assert _retry_after(_login(client, "slide@example.com")) == 1
    frozen_clock.advance(0.5)  # t = 60: the attempt at t = 0 has left the window
    assert _login(client, "slide@example.com").status_code == 200
    # A fixed window would now be fresh; the sliding one still holds t = 30, 59, 60.
    frozen_clock.advance(1)
    assert _retry_after(_login(client, "slide@example.com")) == 29


@pytest.mark.django_db
def test_wrong_passwords_per_account_and_ip_are_limited(client, settings):
    settings.RATE_LIMIT_LOGIN_FAILED = "2/300"
    UserFactory(email="target@example.com")
    assert _login(client, "target@example.com", ip="10.0.1.1").status_code == 200
    assert _login(client, "Target@Example.com", ip="10.0.1.1").status_code == 200
    # The guessing address is refused, even with the right password ...
    assert _retry_after(_login(client, "target@example.com", PASSWORD, ip="10.0.1.1")) == 300
    assert "_auth_user_id" not in client.session
    # ... and the refusal was not a login failure (no audit row).
    assert _failures("target@example.com") == 2
    # The owner, from another address, is not locked out.
    assert _login(client, "target@example.com", PASSWORD, ip="10.0.1.2").status_code == 302


@pytest.mark.django_db
def test_wrong_passwords_from_many_addresses_slow_down_but_never_lock_out(
    client, settings, frozen_clock
):
    settings.RATE_LIMIT_LOGIN_ACCOUNT = "3/3600"
    settings.RATE_LIMIT_LOGIN_BACKOFF_MAX_S = 8
    UserFactory(email="famous@example.com")
    addresses = (f"10.0.4.{n}" for n in range(1, 100))
    for _ in range(3):  # the free failures, each from a fresh address
        assert _login(client, "famous@example.com", ip=next(addresses)).status_code == 200

    # From then on each attempt, even the owner's from a fresh address with the right
    # password, must wait 1, 2, 4, … seconds after the last failure, capped at 8.
    waits = []
    for _ in range(5):
        wait = _retry_after(_login(client, "famous@example.com", PASSWORD, ip=next(addresses)))
        waits.append(wait)
        frozen_clock.advance(wait)
        assert _login(client, "famous@example.com", ip=next(addresses)).status_code == 200
    assert waits == [1, 2, 4, 8, 8]
    assert _failures("famous@example.com") == 8

    # Other accounts are unaffected; the owner gets in once the (bounded) wait is over.
    UserFactory(email="other@example.com")
    assert _login(client, "other@example.com", PASSWORD, ip=next(addresses)).status_code == 302
    client.logout()
    assert _retry_after(_login(client, "famous@example.com", PASSWORD, ip=next(addresses))) == 8
    frozen_clock.advance(8)
    assert _login(client, "famous@example.com", PASSWORD, ip=next(addresses)).status_code == 302


@pytest.mark.django_db
def test_successful_logins_do_not_use_up_the_account_limits(client, settings):
    settings.RATE_LIMIT_LOGIN_FAILED = "2/300"
    settings.RATE_LIMIT_LOGIN_ACCOUNT = "2/300"
    UserFactory(email="often@example.com")
    for _ in range(4):
        client.logout()
        response = _login(client, "often@example.com", PASSWORD, ip="10.0.2.1")
        assert response.status_code == 302


@pytest.mark.django_db
def test_client_ip_comes_from_the_trusted_proxy_hop(client, settings):
    settings.RATE_LIMIT_LOGIN = "2/60"
    settings.TRUSTED_PROXIES = ["10.9.9.9"]
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
    _retry_after(
        client.post(
            "/accounts/login/",
            {"login": "x@example.com", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.0",
        )
    )
    event = AuditEvent.objects.filter(action="login.failed").order_by("id").first()
    assert event.ip == "203.0.113.0"


@pytest.mark.django_db
def test_allauth_own_limits_answer_429_with_retry_after(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}
    for n in range(2):
        response = Client().post(
            "/accounts/signup/",
            {"email": f"new{n}@example.com", "password1": PASSWORD, "password2": PASSWORD},
            REMOTE_ADDR="10.0.5.1",
        )
        assert response.status_code == 302
    refused = Client().post(
        "/accounts/signup/",
        {"email": "new9@example.com", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="10.0.5.1",
    )
    _retry_after(refused)
    assert b"Too many requests" in refused.content


_CHILD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings
caches, clock, rate = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
with override_settings(CACHES=caches, RATE_LIMIT_CLOCK=clock, RATE_LIMIT_LOGIN=rate):
    client = Client()
    for n in range(int(sys.argv[4])):
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
    settings.RATE_LIMIT_LOGIN = "3/3600"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(settings.CACHES), CLOCK_PATH, "3/3600", "3"],
        cwd=ROOT,
        env=child_env(),  # the child uses this test database
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["200", "200", "200"]
    # This process has not tried once, yet the shared bucket for 10.0.3.1 is full.
    assert _retry_after(_login(client, "parent@example.com", ip="10.0.3.1")) == 3600
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
    assert _retry_after(response) == 60
    assert response.json()["error"]["code"] == "rate_limited"
    # Another key of the same user has its own budget; sessions are not key-limited.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(admin_user)}")
    assert other.get("/api/v1/viewer").status_code == 200
    session = APIClient()
    session.force_login(admin_user)
    for _ in range(5):
        assert session.get("/api/v1/viewer").status_code == 200
