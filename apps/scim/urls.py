"""SCIM 2.0 routes per team, mounted at /scim/v2/teams/<team>/ (namespace "scim"; classified
in apps/core/policy.py: the team's SCIM token is the credential, apps.scim.views)."""

from django.urls import path

from apps.scim import views as v

app_name = "scim"

TEAM = "<team_slug:team_slug>/"

urlpatterns = [
    path(TEAM, v.RootView.as_view(), name="root"),
    path(f"{TEAM}ServiceProviderConfig", v.ServiceProviderConfigView.as_view(), name="config"),
    path(f"{TEAM}ResourceTypes", v.ResourceTypesView.as_view(), name="resource-types"),
    path(f"{TEAM}ResourceTypes/<str:name>", v.ResourceTypesView.as_view(), name="resource-type"),
    path(f"{TEAM}Schemas", v.SchemasView.as_view(), name="schemas"),
    path(f"{TEAM}Schemas/<str:schema_id>", v.SchemasView.as_view(), name="schema"),
    path(f"{TEAM}Users", v.UsersView.as_view(), name="users"),
    path(f"{TEAM}Users/<str:user_id>", v.UsersView.as_view(), name="user"),
    path(f"{TEAM}Groups", v.GroupsView.as_view(), name="groups"),
    path(f"{TEAM}Groups/<str:group_id>", v.GroupsView.as_view(), name="group"),
]
