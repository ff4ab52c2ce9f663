"""Test settings: the machine's PostgreSQL when DATABASE_URL is set, embedded otherwise."""

import os
from pathlib import Path

from .base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
API_KEY_PEPPER = SECRET_KEY
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A test database per pytest process, so parallel runs on one server never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_gradline_{os.getpid()}"}  # noqa: F405
# Tasks run eagerly unless a test starts a real worker (tests/celery_worker.py).
CELERY_TASK_ALWAYS_EAGER = True
# Per process, unless servers started by a test share one (tests/sdk/harness.py).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / f"test-media-{os.getpid()}")  # noqa: F405
# Parallel pytest processes (pytest-xdist) share the machine's Redis but not their
# databases, so equal primary keys name different runs: each process publishes live events
# under a channel-layer prefix of its own, set in the environment so that every server and
# worker it starts (and their worker processes) inherits it.
os.environ.setdefault("GRADLINE_TEST_CHANNEL_PREFIX", f"gltest{os.getpid()}")
if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["GRADLINE_TEST_CHANNEL_PREFIX"]  # noqa: F405
# A server process a test starts gets its own namespace for rate-limit counters.
CACHES["default"]["KEY_PREFIX"] = env_str("CACHE_KEY_PREFIX")  # noqa: F405
# Sensitive team forms ask for a fresh sign-in (apps.teams.web_views.sensitive) in every
# other setting; tests that exercise it switch it on (tests/teams/test_reauthentication.py),
# the rest sign in with force_login, which records no authentication time.
REAUTHENTICATE_SENSITIVE_ACTIONS = False
# The API parses JSON only; APIClient.post(url, data) then sends JSON like the SDK does.
REST_FRAMEWORK = {**REST_FRAMEWORK, "TEST_REQUEST_DEFAULT_FORMAT": "json"}  # noqa: F405
# Every test client loads the middleware anew, and WhiteNoise's middleware otherwise
# indexes each static file through the finders when it is created (~110 ms, most of a
# typical test's requests); with autorefresh it looks a file up when one is asked for.
WHITENOISE_AUTOREFRESH = True
