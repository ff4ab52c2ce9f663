"""Deployment pages: /<team>/deployments and /<team>/deployments/<id> (no trailing slash,
so they never match a project's /<team>/<project>/). Classified in apps/core/policy.py
("--- web: deployments")."""

from django.urls import path

from apps.deployments import web_views as v

DEPLOYMENT = "<team_slug:team>/deployments/<id:deployment_id>"

urlpatterns = [
    path("<team_slug:team>/deployments", v.deployment_list, name="deployment-list"),
    path(DEPLOYMENT, v.deployment_detail, name="deployment-detail"),
    path(f"{DEPLOYMENT}/rollback", v.deployment_rollback, name="deployment-rollback"),
    path(f"{DEPLOYMENT}/stop", v.deployment_stop, name="deployment-stop"),
]
