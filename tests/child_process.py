"""Environment for a child process (manage.py, a second app process) that must use the
current test database, on the machine's PostgreSQL or the embedded one alike."""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

from django.db import connection


def current_database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host, port = db["HOST"] or "", str(db["PORT"] or "")
    if host.startswith("/"):  # a Unix socket directory (the embedded server)
        query = {"host": host, **({"port": port} if port else {})}
        return f"postgresql://{user}{password}@/{quote(db['NAME'])}?{urlencode(query)}"
    netloc = f"{host or '127.0.0.1'}{':' + port if port else ''}"
    return f"postgresql://{user}{password}@{netloc}/{quote(db['NAME'])}"


def child_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        **extra,
    }
