"""Production settings pass `manage.py check --deploy` with zero warnings.

Runs the real command in a subprocess with config.settings.production and the
environment a deployment must provide. drf-spectacular's schema check runs as part of
it, so an API view without request/response annotations fails here too.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PYTEST_")) and key != "SECRET_KEY"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "gradline.example.com",
            "PUBLIC_BASE_URL": "https://gradline.example.com",
            **extra,
        }
    )
    # Without DATABASE_URL the settings would start the embedded server; the check
    # does not need a database, only a URL.
    env.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return env


def _check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check(_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_production_settings_refuse_a_short_secret_key():
    result = _check(_env(SECRET_KEY="too-short"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set to at least 50" in result.stderr


def test_production_settings_refuse_a_missing_secret():
    env = _env()
    env.pop("SECRET_KEY")
    assert _check(env).returncode != 0
