"""A real OpenID provider for the SSO tests: django-allauth's own IdP (allauth.idp.oidc)
in a second process, on its own PostgreSQL database (tests/sso/idp.py starts it).

The test endpoints (idp_server/urls.py) create users and clients and switch the ID-token
"mode" so tests can make the provider misbehave (wrong iss / aud, expired, alg none,
unknown key) the way a hostile or broken IdP would."""

import os
from pathlib import Path

SECRET_KEY = "sso-test-idp-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.sso.idp_server.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.idp.oidc",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["IDP_DB_NAME"],
        "USER": os.environ.get("IDP_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("IDP_DB_PASSWORD", ""),
        "HOST": os.environ.get("IDP_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("IDP_DB_PORT", "5432"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_RATE_LIMITS = False
ACCOUNT_EMAIL_VERIFICATION = "none"
IDP_OIDC_PRIVATE_KEY = Path(os.environ["IDP_PRIVATE_KEY_FILE"]).read_text()
IDP_OIDC_ADAPTER = "tests.sso.idp_server.adapter.TestIdPAdapter"
USE_TZ = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
