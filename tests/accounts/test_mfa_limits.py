"""Second-factor guesses are limited per user and per client IP (429 + Retry-After, the
right code refused too while limited), audited, and shared between processes.

Codes come from pyotp, an implementation independent of allauth's; the limiter reads
the frozen clock of tests/accounts/clock.py, so crossing a window does not wait.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings as django_settings
from django.test import Client

from apps.teams.models import AuditEvent
from tests.accounts.clock import CLOCK_PATH
from tests.child_process import child_env
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"
AUTHENTICATE = "/accounts/2fa/authenticate/"

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture(autouse=True)
def _code_tolerance(settings):
    # A code made just before a 30 s step boundary stays valid after it.
    settings.MFA_TOTP_TOLERANCE = 1


def _user_with_totp(email: str):
    user = UserFactory(email=email)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return user, pyotp.TOTP(secret)


def _wrong_code(totp: pyotp.TOTP) -> str:
    """A code that is not valid now nor in the steps the server may still accept."""
    now = time.time()
    valid = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def _password_step(client: Client, email: str, ip: str):
    response = client.post(
        "/accounts/login/", {"login": email, "password": PASSWORD}, REMOTE_ADDR=ip
    )
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    return response


def _code(client: Client, code: str, ip: str):
    return client.post(AUTHENTICATE, {"code": code}, REMOTE_ADDR=ip)


def _retry_after(response) -> int:
    assert response.status_code == 429, response.status_code
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 3600
    return wait


def _events(action: str, email: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target=email).order_by("id"))


@pytest.mark.django_db
def test_wrong_totp_codes_are_limited_and_the_right_one_waits(client, settings, frozen_clock):
    settings.RATE_LIMIT_MFA = "3/300"
    user, totp = _user_with_totp("mfa@example.com")
    _password_step(client, user.email, "10.0.6.1")
    for _ in range(3):
        response = _code(client, _wrong_code(totp), "10.0.6.1")
        assert response.status_code == 200 and b"Incorrect code" in response.content
    # Limited: the right code is refused too, and nobody is signed in.
    wait = _retry_after(_code(client, totp.now(), "10.0.6.1"))
    assert wait == 300
    assert "_auth_user_id" not in client.session
    # A fresh address and a fresh password step do not escape the per-user limit.
    other = Client()
    _password_step(other, user.email, "10.0.6.2")
    assert _retry_after(_code(other, totp.now(), "10.0.6.2")) == 300

    failed = _events("mfa.failed", user.email)
    assert len(failed) == 3 and {e.ip for e in failed} == {"10.0.6.1"}
    assert failed[0].detail == {"stage": "login"}
    assert not _events("mfa.succeeded", user.email)
    assert not _events("login.succeeded", user.email)

    # Once the window has passed the right code signs in.
    frozen_clock.advance(wait)
    response = _code(client, totp.now(), "10.0.6.1")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    succeeded = _events("mfa.succeeded", user.email)
    assert [e.detail for e in succeeded] == [{"stage": "login", "authenticator": "totp"}]
    assert len(_events("login.succeeded", user.email)) == 1


@pytest.mark.django_db
def test_recovery_codes_are_limited_too(client, settings, frozen_clock):
    settings.RATE_LIMIT_MFA = "2/300"
    user, _ = _user_with_totp("recovery@example.com")
    recovery = RecoveryCodes.activate(user).get_unused_codes()[0]
    _password_step(client, user.email, "10.0.7.1")
    for guess in ("aaaa-bbbb", "cccc-dddd"):
        assert _code(client, guess, "10.0.7.1").status_code == 200
    wait = _retry_after(_code(client, recovery, "10.0.7.1"))
    frozen_clock.advance(wait)
    assert _code(client, recovery, "10.0.7.1").status_code == 302
    assert [e.detail["authenticator"] for e in _events("mfa.succeeded", user.email)] == [
        "recovery_codes"
    ]
    assert len(_events("mfa.failed", user.email)) == 2


@pytest.mark.django_db
def test_second_factor_attempts_per_ip_are_limited(settings):
    settings.RATE_LIMIT_MFA_IP = "2/60"
    clients = {}
    for name in ("a", "b", "c"):
        user, totp = _user_with_totp(f"{name}@example.com")
        clients[name] = (Client(), totp)
        _password_step(clients[name][0], user.email, "10.0.8.1")
    for name in ("a", "b"):
        client, totp = clients[name]
        assert _code(client, _wrong_code(totp), "10.0.8.1").status_code == 200
    # A third user's right code from the same address is refused; from another, accepted.
    client, totp = clients["c"]
    assert _retry_after(_code(client, totp.now(), "10.0.8.1")) == 60
    assert _code(client, totp.now(), "10.0.8.2").status_code == 302


@pytest.mark.django_db
def test_reauthentication_codes_are_limited(client, settings):
    settings.RATE_LIMIT_MFA = "2/300"
    user, totp = _user_with_totp("reauth@example.com")
    _password_step(client, user.email, "10.0.9.1")
    assert _code(client, totp.now(), "10.0.9.1").status_code == 302
    for _ in range(2):
        response = client.post(
            "/accounts/2fa/reauthenticate/", {"code": _wrong_code(totp)}, REMOTE_ADDR="10.0.9.1"
        )
        assert response.status_code == 200
    _retry_after(
        client.post("/accounts/2fa/reauthenticate/", {"code": totp.now()}, REMOTE_ADDR="10.0.9.1")
    )
    assert [e.detail for e in _events("mfa.failed", user.email)] == [
        {"stage": "reauthenticate"}
    ] * 2


_CHILD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings
caches, clock, email, password, wrong = json.loads(sys.argv[1]), *sys.argv[2:6]
with override_settings(CACHES=caches, RATE_LIMIT_CLOCK=clock, RATE_LIMIT_MFA="3/3600"):
    client = Client()
    step = client.post("/accounts/login/", {"login": email, "password": password})
    print(step.status_code)
    for _ in range(3):
        print(client.post("/accounts/2fa/authenticate/", {"code": wrong}).status_code)
"""


@pytest.mark.django_db(transaction=True)
def test_second_factor_limit_is_shared_between_processes_through_redis(client, settings):
    if not django_settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the cache is per process (LocMemCache)")
    settings.RATE_LIMIT_MFA = "3/3600"
    user, totp = _user_with_totp("shared-mfa@example.com")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            json.dumps(settings.CACHES),
            CLOCK_PATH,
            user.email,
            PASSWORD,
            _wrong_code(totp),
        ],
        cwd=ROOT,
        env=child_env(),  # the child uses this test database
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["302", "200", "200", "200"]
    # This process has not guessed once, yet the user's shared bucket is full.
    _password_step(client, user.email, "10.0.10.1")
    assert _retry_after(_code(client, totp.now(), "10.0.10.1")) == 3600
    assert len(_events("mfa.failed", user.email)) == 3
