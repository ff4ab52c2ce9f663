"""Artifacts, versions, aliases, lineage and registered models (DESIGN.md §3; docs/registry.md).

Files are content-addressed per team: an `ArtifactBlob` holds one content (by SHA-256)
once, whatever number of versions list it. Blobs live in the default storage under a
server-chosen name; nothing a client sends becomes a storage path.

`latest` is not stored: it always names an artifact's highest version index, so it can
never point at a deleted version or lag behind a concurrent commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel
from apps.runs.models import RunJSONField


class ArtifactBlob(TeamOwnedModel):
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    storage_name = models.CharField(max_length=1024)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "sha256"], name="artifactblob_unique_sha")
        ]


class Artifact(TeamOwnedModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=128)
    type = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    # Index the next version gets; only grows, so a deleted v3 is never reissued.
    next_index = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="artifact_unique_name")
        ]
        indexes = [models.Index(fields=["project", "type"], name="artifact_project_type")]

    def __str__(self) -> str:
        return self.name


class ArtifactVersion(TeamOwnedModel):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="+")
    index = models.IntegerField()
    digest = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    metadata = RunJSONField(default=dict)
    # W&B's version tags (Artifact.tags): a filter for Api().artifacts(tags=...).
    tags = RunJSONField(default=list)
    size = models.BigIntegerField(default=0)
    file_count = models.IntegerField(default=0)
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # W&B's Artifact.ttl: the version is deleted at expires_at (= created_at + ttl) by the
    # beat task registry.expire_artifact_versions. Null: kept until deleted. A version a
    # registered model links never has one (linking clears it; setting one is refused).
    ttl_seconds = models.BigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artifact", "index"], name="artifactversion_unique"),
            models.UniqueConstraint(
                fields=["artifact", "digest"], name="artifactversion_unique_digest"
            ),
        ]

    @property
    def label(self) -> str:
        return f"v{self.index}"


class ArtifactFile(TeamOwnedModel):
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=512)
    # RESTRICT: a blob goes only when no version lists it (blob garbage collection), or
    # with its whole team.
    blob = models.ForeignKey(ArtifactBlob, on_delete=models.RESTRICT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="artifactfile_unique_path")
        ]


class ArtifactReference(TeamOwnedModel):
    """A manifest entry that points outside Gradline (W&B's `add_reference`): the URI,
    the digest the client recorded (a file's SHA-256, an HTTP ETag, an S3/GCS ETag or
    the URI itself without checksum) and its size. The server never fetches it."""

    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=512)
    uri = models.TextField()
    digest = models.CharField(max_length=512)
    size = models.BigIntegerField(null=True, blank=True)
    extra = RunJSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="artifactreference_unique")
        ]


class ArtifactAlias(TeamOwnedModel):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="+")
    alias = models.CharField(max_length=128)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artifact", "alias"], name="artifactalias_unique")
        ]


class ArtifactUsage(TeamOwnedModel):
    """Lineage: `run` used `version` (use_artifact / use_model)."""

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "version"], name="artifactusage_unique")
        ]


class RegisteredModel(TeamOwnedModel):
    """A team-level collection of model versions (W&B's registered model / portfolio)."""

    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    next_index = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="registeredmodel_unique_name")
        ]


class RegisteredModelVersion(TeamOwnedModel):
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+"
    )
    index = models.IntegerField()
    # The API refuses to delete a linked version (409); deleting its whole project unlinks.
    source = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "index"], name="registeredmodelversion_unique"
            ),
            models.UniqueConstraint(
                fields=["registered_model", "source"], name="registeredmodelversion_source"
            ),
        ]

    @property
    def label(self) -> str:
        return f"v{self.index}"


class RegisteredModelAlias(TeamOwnedModel):
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+"
    )
    version = models.ForeignKey(RegisteredModelVersion, on_delete=models.CASCADE, related_name="+")
    alias = models.CharField(max_length=128)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "alias"], name="registeredmodelalias_unique"
            )
        ]


class AliasEvent(TeamOwnedModel):
    """History of alias moves on an artifact or a registered model (exactly one is set).
    Versions are kept as labels ("v3") so the history survives deleted versions."""

    artifact = models.ForeignKey(Artifact, null=True, on_delete=models.CASCADE, related_name="+")
    registered_model = models.ForeignKey(
        RegisteredModel, null=True, on_delete=models.CASCADE, related_name="+"
    )
    alias = models.CharField(max_length=128)
    from_version = models.CharField(max_length=16, blank=True)
    to_version = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(artifact__isnull=False, registered_model__isnull=True)
                | models.Q(artifact__isnull=True, registered_model__isnull=False),
                name="aliasevent_one_target",
            )
        ]
        indexes = [
            models.Index(fields=["artifact", "-at"], name="aliasevent_artifact"),
            models.Index(fields=["registered_model", "-at"], name="aliasevent_model"),
        ]
