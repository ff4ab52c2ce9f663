"""`manage.py bootstrap`: idempotent user + team + admin membership + a new key."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey, User
from apps.teams.models import Membership, Team
from tests.child_process import child_env
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-and-unusual-passphrase"


def _bootstrap(monkeypatch, *args, stdin: str | None = None) -> tuple[str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _key(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("GRADLINE_API_KEY=")]
    assert len(lines) == 1 and stdout.splitlines() == lines, stdout
    return lines[0].removeprefix("GRADLINE_API_KEY=")


def _viewer(secret: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get("/api/v1/viewer")
    assert response.status_code == 200
    return response.json()


def test_first_run_creates_user_team_admin_and_key(monkeypatch):
    out, err = _bootstrap(monkeypatch, "--email", "Ops@Example.com", "--team", "acme")
    secret = _key(out)
    user = User.objects.get(email="ops@example.com")
    assert not user.has_usable_password()  # no default credentials
    team = Team.objects.get(slug="acme")
    assert Membership.objects.for_team(team).get(user=user).role == "admin"
    assert not team.is_personal
    personal = Membership.objects.of_user(user).filter(team__is_personal=True).get().team
    assert personal.slug != "acme"
    viewer = _viewer(secret)
    assert viewer["email"] == "ops@example.com"
    assert {t["slug"]: t["role"] for t in viewer["teams"]}["acme"] == "admin"
    assert EmailAddress.objects.get(user=user).verified
    assert "created" in err and secret not in err


def test_second_run_changes_nothing_but_adds_a_key(monkeypatch):
    first = _key(_bootstrap(monkeypatch, "--email", "ops@example.com", "--team", "acme")[0])
    second = _key(_bootstrap(monkeypatch, "--email", "ops@example.com", "--team", "acme")[0])
    assert first != second
    user = User.objects.get(email="ops@example.com")
    assert User.objects.filter(email="ops@example.com").count() == 1
    assert Team.objects.filter(slug="acme").count() == 1
    assert Membership.objects.of_user(user).count() == 2  # acme + personal team
    assert ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() == 2
    for secret in (first, second):
        assert _viewer(secret)["email"] == "ops@example.com"


def test_password_from_stdin(monkeypatch, client):
    _bootstrap(
        monkeypatch,
        "--email",
        "ops@example.com",
        "--team",
        "acme",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    user = User.objects.get(email="ops@example.com")
    assert user.check_password(PASSWORD)
    response = client.post("/accounts/login/", {"login": "ops@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_existing_user_keeps_password_unless_given(monkeypatch):
    UserFactory(email="ops@example.com", password="original-passphrase-123")
    _bootstrap(monkeypatch, "--email", "ops@example.com", "--team", "acme")
    assert User.objects.get(email="ops@example.com").check_password("original-passphrase-123")
    _bootstrap(
        monkeypatch,
        "--email",
        "ops@example.com",
        "--team",
        "acme",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert User.objects.get(email="ops@example.com").check_password(PASSWORD)


def test_existing_team_gets_the_user_as_admin(monkeypatch, team, member_user):
    _bootstrap(monkeypatch, "--email", member_user.email, "--team", team.slug)
    assert Membership.objects.for_team(team).get(user=member_user).role == "admin"
    newcomer_out, _ = _bootstrap(monkeypatch, "--email", "new@example.com", "--team", team.slug)
    newcomer = User.objects.get(email="new@example.com")
    assert Membership.objects.for_team(team).get(user=newcomer).role == "admin"
    assert _key(newcomer_out)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "not-an-email", "--team", "acme"], None, "not a valid email"),
        (["--email", "ops@example.com", "--team", "Not_A_Slug"], None, "slug"),
        (["--email", "ops@example.com", "--team", "api"], None, "reserved"),
        (["--email", "ops@example.com", "--team", "acme", "--password-stdin"], "", "empty"),
        (["--email", "ops@example.com", "--team", "acme", "--password-stdin"], "123", "Password"),
    ],
)
def test_bad_input_is_refused_without_side_effects(monkeypatch, args, stdin, message):
    with pytest.raises(CommandError, match=message):
        _bootstrap(monkeypatch, *args, stdin=stdin)
    assert not User.objects.filter(email="ops@example.com").exists()


def test_another_users_personal_team_is_refused(monkeypatch):
    owner = UserFactory(email="solo@example.com")
    personal = Membership.objects.of_user(owner).get().team
    with pytest.raises(CommandError, match="personal team"):
        _bootstrap(monkeypatch, "--email", "ops@example.com", "--team", personal.slug)
    assert not User.objects.filter(email="ops@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_command_line_prints_only_the_key_on_stdout():
    """The real command in a subprocess against this test database, twice."""
    env = child_env()
    keys = []
    for _ in range(2):
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bootstrap",
                "--email",
                "ci@example.com",
                "--team",
                "ci-team",
                "--password-stdin",
            ],
            cwd=ROOT,
            env=env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        keys.append(_key(result.stdout))
    assert keys[0] != keys[1]
    assert User.objects.get(email="ci@example.com").check_password(PASSWORD)
    assert all(_viewer(k)["email"] == "ci@example.com" for k in keys)
