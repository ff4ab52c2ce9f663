"""`make run`, which is also how people self-host: embedded PostgreSQL unless DATABASE_URL
is set. Served like production (DEBUG off: the app's own error pages, no URL listing);
DEBUG=true is an explicit opt-in for development. Static files are served either way
(whitenoise with finders)."""

from config.env import VAR_DIR, env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", False)


def _local_secret_key() -> str:
    """A per-checkout random key kept under var/, so nothing secret is committed."""
    import secrets

    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if not SECRET_KEY:  # noqa: F405
    SECRET_KEY = _local_secret_key()
    API_KEY_PEPPER = SECRET_KEY
