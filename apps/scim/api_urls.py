"""SCIM token API, mounted under /api/v1/teams/<team>/ (names in apps/core/policy.py)."""

from django.urls import path

from apps.scim import api_views as v

urlpatterns = [
    path("scim-tokens", v.ScimTokenListView.as_view(), name="scim-token-list"),
    path(
        "scim-tokens/<id:scim_token_id>", v.ScimTokenDetailView.as_view(), name="scim-token-detail"
    ),
]
