from django.urls import path

from apps.scim import web_views as v

urlpatterns = [
    path("<team_slug:team>/settings/scim", v.scim_settings, name="team-scim"),
    path(
        "<team_slug:team>/settings/scim/tokens/<id:scim_token_id>/revoke",
        v.token_revoke,
        name="team-scim-token-revoke",
    ),
]
