from django.urls import path

from apps.sso import web_views as v

urlpatterns = [
    path("<team_slug:team>/settings/sso", v.sso_settings, name="team-sso"),
    path("<team_slug:team>/settings/sso/domains", v.domain_add, name="team-sso-domains"),
    path(
        "<team_slug:team>/settings/sso/domains/<id:domain_id>/delete",
        v.domain_delete,
        name="team-sso-domain-delete",
    ),
]
