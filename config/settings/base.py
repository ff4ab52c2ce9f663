"""Settings shared by every environment; values come from the environment (config/env.py)."""

from __future__ import annotations

import json
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from apps.core.clientip import parse_trusted_proxies
from config.env import (
    BASE_DIR,
    VAR_DIR,
    database_settings,
    env_bool,
    env_int,
    env_list,
    env_str,
)

SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Base URL used in links we hand out (run URLs, invitation links, SDK messages).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "allauth.usersessions",  # the sessions page (accounts/sessions/): list and sign out
    # Instance-wide sign-in providers (OAUTH_* below; docs/identity.md "Sign-in providers").
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.gitlab",
    "allauth.socialaccount.providers.openid_connect",
    "apps.core",
    "apps.accounts",
    "apps.teams",
    "apps.projects",
    "apps.api",
    "apps.runs",
    "apps.registry",
    "apps.sweeps",
    "apps.media",
    "apps.realtime",
    "apps.comments",
    "apps.notifications",
    "apps.automations",
    "apps.activity",
    "apps.monitoring",
    "apps.sso",
    "apps.scim",  # SCIM 2.0 provisioning per team (docs/identity.md "SCIM")
    "apps.reports",
    "apps.deployments",
]

MIDDLEWARE = [
    # Security headers first: every response gets them, JSON errors rewritten below too.
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Outermost after those, so that errors Django raises in any middleware (DisallowedHost
    # in SecurityMiddleware's redirect, CSRF) still answer JSON under /api/.
    "apps.core.middleware.JsonErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "apps.core.middleware.TeamScopeMiddleware",
    "apps.sso.middleware.RequireSSOMiddleware",  # require-SSO teams (apps/sso/enforcement.py)
]

# Content-Security-Policy (django-csp 4; apps.core.middleware adds this host's ws:/wss:
# to connect-src). Only this origin's scripts and styles: no inline script, inline event
# handlers, style attributes or eval; templates use CSS classes, Vega charts compile
# expressions with the vega-interpreter vega-embed bundles instead of Function()
# (static/js/vega-options.js).
# Images, media and workers may also be data:/blob: (chart exports, media panels, Vega).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}
# Browser features no page uses are off for this origin and anything it embeds.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "display-capture": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "serial": [],
    "usb": [],
    "clipboard-write": ["self"],
    "fullscreen": ["self"],
}

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
                "apps.accounts.context_processors.email_delivery",
            ],
        },
    },
]

DATABASES = {"default": database_settings()}
# A connection pool per process (psycopg_pool). Its timeout bounds the wait for a free
# connection: when the pool is exhausted, API calls answer 503 + Retry-After within that
# time instead of hanging (apps/api/errors.py). DB_POOL_MAX_SIZE=0 disables.
if env_int("DB_POOL_MAX_SIZE", 20) > 0 and DATABASES["default"]["CONN_MAX_AGE"] == 0:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 1),
        "max_size": env_int("DB_POOL_MAX_SIZE", 20),
        "timeout": float(env_str("DB_POOL_TIMEOUT", "0.5")),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# django-allauth: email is the login; verification mails go to the console locally.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Role changes, key creation and team policy forms ask for a sign-in younger than
# ACCOUNT_REAUTHENTICATION_TIMEOUT (allauth, 300 s) first (apps.teams.web_views.sensitive).
REAUTHENTICATE_SENSITIVE_ACTIONS = env_bool("REAUTHENTICATE_SENSITIVE_ACTIONS", True)
# Password and second-factor guesses are limited by apps.accounts.signin_limits (429 +
# Retry-After, shared via Redis); allauth's own login_failed limit would answer 200 with
# a form error instead. allauth's other limits stay on (their 429: config.urls.handler429).
ACCOUNT_RATE_LIMITS = {"login_failed": None}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_FORMS = {
    "authenticate": "apps.accounts.forms.AuthenticateForm",
    "reauthenticate": "apps.accounts.forms.ReauthenticateForm",
}

# Mail goes to the terminal unless an SMTP server is named (EMAIL_HOST), in every mode;
# production defaults to SMTP on localhost (config/settings/production.py).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Gradline <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Front-end libraries come from npm (package.json + lockfile); only their dist folders
# are served, under /static/vendor/<package>/.
_NODE = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", _NODE / "htmx.org" / "dist"),
    ("vendor/uplot", _NODE / "uplot" / "dist"),
    ("vendor/vega", _NODE / "vega" / "build"),
    ("vendor/vega-lite", _NODE / "vega-lite" / "build"),
    ("vendor/vega-embed", _NODE / "vega-embed" / "build"),
    ("vendor/three", _NODE / "three" / "build"),
]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": {
        "BACKEND": env_str("FILE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        # Backend keyword arguments as JSON, e.g. for django-storages' S3Storage
        # {"bucket_name": "gradline", "region_name": "eu-west-1"} (docs/operations.md).
        "OPTIONS": json.loads(env_str("FILE_STORAGE_OPTIONS") or "{}"),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Ingest limits (DESIGN.md §4, §8): bodies above this answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 16 * 1024 * 1024)
# User JSON documents (run config and summary, artifact metadata, sweep configs; see
# apps/core/jsonlimits.py): nesting depth and encoded size of each one written (400 above).
USER_JSON_MAX_DEPTH = env_int("USER_JSON_MAX_DEPTH", 64)
USER_JSON_MAX_BYTES = env_int("USER_JSON_MAX_BYTES", 1024 * 1024)

REDIS_URL = env_str("REDIS_URL")

# The SDK wheel served at /sdk/ (built by `make install`: python -m apps.sdkindex.build).
SDK_DIST_DIR = Path(env_str("SDK_DIST_DIR") or VAR_DIR / "sdk-dist")

CACHES = {
    "default": (
        {"BACKEND": "apps.core.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Above the layer's 5 s blocking pop: redis-py 8's default socket timeout is
            # also 5 s, so an idle subscriber's empty pop raced it and closed with 1013.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# Celery: Redis when configured; otherwise tasks run in-process (still through Celery).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict = {
    # Deployments (docs/deployments.md): resume jobs whose worker died; follow aliases.
    "deployments-reconcile": {"task": "deployments.reconcile", "schedule": 30.0},
    "deployments-follow-aliases": {"task": "deployments.follow_aliases", "schedule": 30.0},
    # Runs without a heartbeat for RUN_CRASH_TIMEOUT_S become "crashed".
    "runs-detect-crashed": {"task": "runs.detect_crashed_runs", "schedule": 60.0},
    # Artifact blobs no version lists any more (deleted versions, abandoned uploads).
    "registry-collect-blobs": {"task": "registry.collect_blob_garbage", "schedule": 3600.0},
    # Artifact versions whose time-to-live ran out (Artifact.ttl; docs/registry.md).
    "registry-expire-versions": {"task": "registry.expire_artifact_versions", "schedule": 600.0},
    # Monitoring (docs/monitoring.md): drift refresh and alert rules; retention.
    "monitoring-evaluate": {"task": "monitoring.evaluate_all", "schedule": 60.0},
    "monitoring-retention": {"task": "monitoring.apply_retention", "schedule": 3600.0},
}
# Deployments: where packages and local model servers live, a job's lease (a job whose
# worker died is resumed after it), and how many jobs of one team work at once.
DEPLOYMENTS_ROOT = Path(env_str("DEPLOYMENTS_ROOT") or VAR_DIR / "deployments")
DEPLOYMENTS_LEASE_S = float(env_str("DEPLOYMENTS_LEASE_S") or 30)
DEPLOYMENTS_MAX_CONCURRENT = env_int("DEPLOYMENTS_MAX_CONCURRENT", 2)
DEPLOYMENTS_SECRET_KEY = env_str("DEPLOYMENTS_SECRET_KEY") or ""
RUN_CRASH_TIMEOUT_S = env_int("RUN_CRASH_TIMEOUT_S", 300)
# Webhook and Slack deliveries (apps/notifications/tasks.py): per-attempt timeout, attempts
# per round and the first retry delay (doubling); WEBHOOK_ALLOW_PRIVATE lets integrations
# call loopback / private addresses (tests, on-premise receivers).
WEBHOOK_TIMEOUT_S = float(env_str("WEBHOOK_TIMEOUT_S") or 5)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_RETRY_BASE_S = float(env_str("WEBHOOK_RETRY_BASE_S") or 30)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# Single sign-on per team (apps/sso; docs/identity.md): team IdPs are built by this adapter,
# which also routes every social-login request through the outbound address guard.
SOCIALACCOUNT_ADAPTER = "apps.sso.adapters.SocialAccountAdapter"
# IdP URLs on loopback, link-local or private addresses are refused unless this is on
# (tests; on-premise IdPs on a private network).
SSO_ALLOW_PRIVATE_ADDRESSES = env_bool("SSO_ALLOW_PRIVATE_ADDRESSES", False)
# Key material for IdP client secrets at rest (apps/sso/secretbox.py); SECRET_KEY if unset.
SSO_SECRET_KEY = env_str("SSO_SECRET_KEY")
# Instance-wide sign-in providers, each on when its client id is set (docs/identity.md):
# OAUTH_GITHUB_*, OAUTH_GOOGLE_*, OAUTH_GITLAB_* (+ OAUTH_GITLAB_URL for self-hosted) and
# one generic OpenID Connect issuer (OAUTH_OIDC_ISSUER, _NAME, _CLIENT_ID, _SECRET).
SOCIALACCOUNT_PROVIDERS: dict = {}
for _name in ("github", "google", "gitlab"):
    _prefix = f"OAUTH_{_name.upper()}"
    if env_str(f"{_prefix}_CLIENT_ID"):
        _app = {
            "client_id": env_str(f"{_prefix}_CLIENT_ID"),
            "secret": env_str(f"{_prefix}_SECRET"),
        }
        if _name == "gitlab" and env_str("OAUTH_GITLAB_URL"):
            _app["settings"] = {"gitlab_url": env_str("OAUTH_GITLAB_URL")}
        SOCIALACCOUNT_PROVIDERS[_name] = {"APPS": [_app], "OAUTH_PKCE_ENABLED": True}
if env_str("OAUTH_OIDC_CLIENT_ID"):
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": "oidc",
                "name": env_str("OAUTH_OIDC_NAME", "Single sign-on"),
                "client_id": env_str("OAUTH_OIDC_CLIENT_ID"),
                "secret": env_str("OAUTH_OIDC_SECRET"),
                "settings": {"server_url": env_str("OAUTH_OIDC_ISSUER")},
            }
        ],
    }
# A provider signs in to an existing account only when it vouches for the email and the
# account's own address is verified too (apps.sso.adapters.can_authenticate_by_email).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# GitHub: read /user/emails, the only place it says which addresses are verified.
SOCIALACCOUNT_QUERY_EMAIL = True
# Reports (docs/collaboration.md "Reports"): PDF export prints with this chromium, each
# export bounded by REPORTS_PDF_TIMEOUT_S of browser work (apps/reports/pdf.py).
REPORTS_CHROMIUM = env_str("REPORTS_CHROMIUM", "/usr/bin/chromium")
REPORTS_PDF_TIMEOUT_S = float(env_str("REPORTS_PDF_TIMEOUT_S") or 60)
# Ingest waits this long for a run's row lock before answering 503 + Retry-After, so a
# stuck writer never hangs its peers (apps/runs/ingest.py).
INGEST_LOCK_TIMEOUT_MS = env_int("INGEST_LOCK_TIMEOUT_MS", 5000)
# Largest run file accepted by PUT …/runs/<run>/files/<path> (streamed, not held in memory).
RUN_FILE_MAX_BYTES = env_int("RUN_FILE_MAX_BYTES", 5 * 1024**3)
# Logged media (docs/media.md): images above this many pixels are refused before they are
# decoded (decompression bombs); tables above this many rows are refused at ingest.
MEDIA_MAX_IMAGE_PIXELS = env_int("MEDIA_MAX_IMAGE_PIXELS", 40_000_000)
MEDIA_MAX_TABLE_ROWS = env_int("MEDIA_MAX_TABLE_ROWS", 1_000_000)
ARTIFACT_FILE_MAX_BYTES = env_int("ARTIFACT_FILE_MAX_BYTES", 50 * 1024**3)
# Unreferenced artifact blobs older than this are removed (uploads still being committed
# are younger).
ARTIFACT_BLOB_GRACE_S = env_int("ARTIFACT_BLOB_GRACE_S", 24 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    # One name for the built-in roles wherever a serializer offers them (role, base_role).
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "apps.teams.roles.ROLE_CHOICES"},
    "TITLE": "Gradline API",
    "DESCRIPTION": "Experiment tracking, sweeps, artifacts and a model registry.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from the drf-spectacular-sidecar package, not a CDN:
    # self-hosted installs often have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Rate limits, "count/seconds"; shared across processes through the cache (Redis when set).
# Sign-in limits (apps/accounts/signin_limits.py; docs/operations.md, Sign-in limits).
RATE_LIMIT_LOGIN = env_str("RATE_LIMIT_LOGIN", "10/60")  # password attempts per client IP
# Wrong passwords per account from one client IP (hard limit).
RATE_LIMIT_LOGIN_FAILED = env_str("RATE_LIMIT_LOGIN_FAILED", "5/300")
# Wrong passwords per account from anywhere before back-off: further attempts must come
# 1, 2, 4, … seconds apart, at most RATE_LIMIT_LOGIN_BACKOFF_MAX_S (never a lock).
RATE_LIMIT_LOGIN_ACCOUNT = env_str("RATE_LIMIT_LOGIN_ACCOUNT", "10/900")
RATE_LIMIT_LOGIN_BACKOFF_MAX_S = env_int("RATE_LIMIT_LOGIN_BACKOFF_MAX_S", 60)
RATE_LIMIT_MFA = env_str("RATE_LIMIT_MFA", "5/300")  # wrong second-factor codes per user
RATE_LIMIT_MFA_IP = env_str("RATE_LIMIT_MFA_IP", "10/60")  # second-factor attempts per IP
# The limiter's clock (a time.time-like callable); tests substitute a settable one.
RATE_LIMIT_CLOCK = "time.time"
# Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For is believed, by
# uvicorn (config/server.py) and apps/core/clientip.py alike; empty: the header is ignored.
try:
    TRUSTED_PROXIES = parse_trusted_proxies(env_list("TRUSTED_PROXIES", []))
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
if env_str("NUM_PROXIES", "0").strip() not in ("", "0"):
    # NUM_PROXIES (a hop count) believed X-Forwarded-For from any peer; ignoring it would
    # put every user behind the proxy into the proxy's rate-limit bucket.
    raise ImproperlyConfigured(
        "NUM_PROXIES is replaced by TRUSTED_PROXIES: set TRUSTED_PROXIES to the addresses "
        "(or CIDR networks) of the proxies in front of Gradline and unset NUM_PROXIES "
        "(docs/operations.md, Trusted proxies)."
    )
RATE_LIMIT_API_KEY = env_str("RATE_LIMIT_API_KEY", "6000/60")

# API key digests are HMAC-SHA256 with this pepper (defaults to SECRET_KEY).
API_KEY_PEPPER = env_str("API_KEY_PEPPER") or SECRET_KEY

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
