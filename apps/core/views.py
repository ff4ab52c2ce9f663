"""Health check and the landing page."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from config.env import database_is_embedded


def _database_status() -> dict:
    info = {"engine": "postgresql", "embedded": database_is_embedded()}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            info["version"] = cursor.fetchone()[0]
        info["ok"] = True
    except Exception as exc:  # health reports failures, it does not raise them
        info.update(ok=False, error=type(exc).__name__)
    return info


def _channel_layer_status() -> dict:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    info = {"backend": backend}
    if backend == "RedisChannelLayer":
        info["ok"] = _redis_ping()
    else:
        info["ok"] = True
    return info


def _broker_status() -> dict:
    if not settings.REDIS_URL:
        return {"backend": "in-process (eager)", "ok": True}
    return {"backend": "redis", "ok": _redis_ping()}


def _redis_ping() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        return bool(client.ping())
    except Exception:  # an unreachable broker is a health result, not an error
        return False


def healthz(request):
    checks = {
        "database": _database_status(),
        "channel_layer": _channel_layer_status(),
        "broker": _broker_status(),
    }
    healthy = all(part["ok"] for part in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503
    )


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; answer with the app's icon."""
    return redirect(static("img/favicon.svg"), permanent=True)


def home(request):
    if request.user.is_authenticated:
        from apps.teams.services import personal_team_ensure

        if not request.user.is_service_account:
            team = personal_team_ensure(request.user)
            return redirect("web:project-list", team=team.slug)
    return render(request, "home.html")
