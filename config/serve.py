"""`make run`: migrate, then serve the ASGI app with uvicorn (TCP_NODELAY on every
accepted connection). Ctrl-C stops uvicorn; the embedded PostgreSQL, if this process
started it, stops when the process exits."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Gradline server.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Links the server hands out (run URLs the SDK prints, invitations) name the address
    # actually served unless PUBLIC_BASE_URL says otherwise; a wildcard host is reached
    # on loopback at least.
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
    shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{shown_host}:{args.port}")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from config.env import database_is_embedded

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    url = f"http://{args.host}:{args.port}"
    db = "embedded PostgreSQL (var/pgdata)" if database_is_embedded() else "DATABASE_URL"
    print(
        f"\nGradline is serving {url}  (database: {db}; "
        f"broker: {'redis' if settings.REDIS_URL else 'in-process'})\n"
        f"  Sign up at {url}/accounts/signup/ or create an admin and an API key with:\n"
        f"    .venv/bin/python manage.py bootstrap --email you@example.com --team acme "
        f"--password-stdin\n"
        f"  Press Ctrl-C to stop.\n",
        flush=True,
    )
    from config.server import serve

    serve(host=args.host, port=args.port, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
