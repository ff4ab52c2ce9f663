"""Deployments (docs/deployments.md): an endpoint on a platform serving one registry
version at a time, its events and logs, and the history of every version it served.

State machine: pending -> packaging -> deploying -> healthy | failed; stopping -> stopped.
Each redeploy, rollback or stop bumps `attempt`; a Celery job acts only for the attempt
it was sent for (apps/deployments/jobs.py), so a stale or duplicated job is a no-op.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel
from apps.runs.models import RunJSONField


class State(models.TextChoices):
    PENDING = "pending"
    PACKAGING = "packaging"
    DEPLOYING = "deploying"
    HEALTHY = "healthy"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


# States a job is working on (they hold a slot of the team's concurrency limit).
WORKING = (State.PACKAGING, State.DEPLOYING, State.STOPPING)
# States from which nothing more happens until someone acts.
SETTLED = (State.HEALTHY, State.FAILED, State.STOPPED)


class Platform(models.TextChoices):
    LOCAL = "local"
    SAGEMAKER = "sagemaker"
    KUBERNETES = "kubernetes"
    GCP = "gcp"
    AZURE = "azure"


class ModelPackage(TeamOwnedModel):
    """A servable package built from a version's files, content-addressed: the same
    model file with the same flavor is packaged once and reused by every target."""

    digest = models.CharField(max_length=64)
    flavor = models.CharField(max_length=32)
    model_file = models.CharField(max_length=512)
    model_sha256 = models.CharField(max_length=64)
    signature = RunJSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "digest"], name="modelpackage_unique_digest")
        ]


class Deployment(TeamOwnedModel):
    endpoint_name = models.CharField(max_length=63)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    # The reference as given ("model:latest", "model-registry/churn:production") and
    # what it names: an artifact of `project`, or a registered model of the team.
    model_ref = models.CharField(max_length=300)
    project = models.ForeignKey(
        "projects.Project", null=True, on_delete=models.CASCADE, related_name="+"
    )
    artifact = models.ForeignKey(
        "registry.Artifact", null=True, on_delete=models.CASCADE, related_name="+"
    )
    registered_model = models.ForeignKey(
        "registry.RegisteredModel", null=True, on_delete=models.CASCADE, related_name="+"
    )
    ref = models.CharField(max_length=128)  # alias, `latest` or `v<N>`
    follow_alias = models.BooleanField(default=False)
    # The version to serve (resolved at create / redeploy / rollback) and its label, kept
    # as text so the record survives a deleted version.
    version = models.ForeignKey(
        "registry.ArtifactVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_label = models.CharField(max_length=160)
    package = models.ForeignKey(
        ModelPackage, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    options = RunJSONField(default=dict)  # target options without secrets
    # Fernet token of the target's credentials (apps/deployments/secrets.py); never
    # serialized, never logged.
    credentials_encrypted = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    attempt = models.IntegerField(default=1)
    # What the current attempt is for: deploy, stop or delete.
    action = models.CharField(max_length=16, default="deploy")
    url = models.CharField(max_length=500, blank=True)
    # Target-side facts a resumed job needs (a local server's pid and port, SageMaker
    # resource names): never secrets.
    runtime = RunJSONField(default=dict)
    # A job holds the lease while it works; one whose lease lapsed (a killed worker) is
    # re-sent by `deployments.reconcile` and resumed by any worker.
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    healthy_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "platform", "endpoint_name"], name="deployment_unique_endpoint"
            )
        ]
        indexes = [models.Index(fields=["team", "state"], name="deployment_team_state")]


class DeploymentEvent(TeamOwnedModel):
    """A state change or a log line of one attempt; ids order them (the live log
    resumes from the last id it saw)."""

    id = models.BigAutoField(primary_key=True)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    attempt = models.IntegerField()
    kind = models.CharField(max_length=8)  # "state" or "log"
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["deployment", "id"], name="deploymentevent_order")]


class ServedVersion(TeamOwnedModel):
    """History: `version_label` served on the deployment from `started_at` to `ended_at`
    (open while it still serves)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "registry.ArtifactVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_label = models.CharField(max_length=160)
    attempt = models.IntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "attempt"], name="servedversion_unique_attempt"
            )
        ]
