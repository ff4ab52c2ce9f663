"""/accounts/sso/<team_slug>/…: a team's sign-in entry points (public; the team's own IdP
only). The kwarg is `team_slug`, not `team`: nothing here opens a team scope; the views
look the team's SSO up and answer 404 without one. Under accounts/, a reserved first
segment, so no team slug can shadow them."""

from django.urls import path

from apps.sso import views

app_name = "sso"

urlpatterns = [
    path("<team_slug:team_slug>/login/", views.login, name="login"),
    path("<team_slug:team_slug>/oidc/callback/", views.oidc_callback, name="oidc-callback"),
    path("<team_slug:team_slug>/saml/acs/", views.saml_acs, name="saml-acs"),
    path("<team_slug:team_slug>/saml/finish/", views.saml_finish, name="saml-finish"),
    path("<team_slug:team_slug>/saml/metadata/", views.saml_metadata, name="saml-metadata"),
    path("<team_slug:team>/break-glass/", views.break_glass, name="break-glass"),
]
