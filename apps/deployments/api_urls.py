"""Deployment API routes (docs/deployments.md), under /api/v1/teams/<team>/. Each name is
classified in apps/core/policy.py ("--- API: deployments")."""

from django.urls import path

from apps.deployments import api_views as v

DEPLOYMENT = "deployments/<id:deployment_id>"

urlpatterns = [
    path("deployments", v.DeploymentListView.as_view(), name="deployment-list"),
    path(DEPLOYMENT, v.DeploymentDetailView.as_view(), name="deployment-detail"),
    path(f"{DEPLOYMENT}/redeploy", v.DeploymentRedeployView.as_view(), name="deployment-redeploy"),
    path(f"{DEPLOYMENT}/rollback", v.DeploymentRollbackView.as_view(), name="deployment-rollback"),
    path(f"{DEPLOYMENT}/stop", v.DeploymentStopView.as_view(), name="deployment-stop"),
    path(f"{DEPLOYMENT}/events", v.DeploymentEventsView.as_view(), name="deployment-events"),
    path(
        f"{DEPLOYMENT}/manifests", v.DeploymentManifestsView.as_view(), name="deployment-manifests"
    ),
    path(f"{DEPLOYMENT}/predict", v.DeploymentPredictView.as_view(), name="deployment-predict"),
]
