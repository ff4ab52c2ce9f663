"""SSO API routes, mounted under /api/v1/teams/<team>/ (names in apps/core/policy.py)."""

from django.urls import path

from apps.sso import api_views as v

urlpatterns = [
    path("sso", v.SSOConfigView.as_view(), name="sso-config"),
    path("sso/domains", v.SSODomainListView.as_view(), name="sso-domain-list"),
    path("sso/domains/<id:domain_id>", v.SSODomainDetailView.as_view(), name="sso-domain-detail"),
]
