from django.urls import include, path

from apps.accounts import views as account_views
from apps.core import views as core_views

# allauth answers its own rate limits with this (allauth.core.ratelimit.respond_429).
handler429 = account_views.rate_limited

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("", core_views.home, name="home"),
    path("accounts/sso/", include("apps.sso.urls")),  # per-team single sign-on
    path("scim/v2/teams/", include("apps.scim.urls")),  # SCIM 2.0 per team (docs/identity.md)
    path("accounts/", include("apps.accounts.urls")),
    path("api/", include("apps.api.urls")),
    path("sdk/", include("apps.sdkindex.urls")),
    path("", include("config.web_urls")),
]
