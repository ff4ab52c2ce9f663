"""Registry API routes (docs/registry.md). `project_urlpatterns` mount under
/api/v1/teams/<team>/projects/<project>/, `team_urlpatterns` under /api/v1/teams/<team>/.
Each name is classified in apps/core/policy.py ("--- API: registry")."""

from django.urls import path

from apps.registry import api_views as v

ARTIFACT = "artifacts/<artifact_name:name>"
VERSION = f"{ARTIFACT}/versions/<artifact_ref:ref>"
RUN = "runs/<run_uid:run>"
MODEL = "registered-models/<model_name:name>"

project_urlpatterns = [
    path("artifact-blobs/missing", v.BlobMissingView.as_view(), name="artifact-blob-missing"),
    path("artifact-blobs/bundle", v.BlobBundleView.as_view(), name="artifact-blob-bundle"),
    path("artifact-blobs/<sha256:sha256>", v.BlobDetailView.as_view(), name="artifact-blob"),
    path("artifacts", v.ArtifactListView.as_view(), name="artifact-list"),
    path(ARTIFACT, v.ArtifactDetailView.as_view(), name="artifact-detail"),
    path(f"{ARTIFACT}/versions", v.VersionListView.as_view(), name="artifact-version-list"),
    path(VERSION, v.VersionDetailView.as_view(), name="artifact-version-detail"),
    path(
        f"{VERSION}/files-bundle", v.VersionFilesBundleView.as_view(), name="artifact-files-bundle"
    ),
    path(f"{VERSION}/files/<run_file:path>", v.VersionFileView.as_view(), name="artifact-file"),
    path(
        f"{ARTIFACT}/aliases/<artifact_name:alias>",
        v.ArtifactAliasView.as_view(),
        name="artifact-alias",
    ),
    path(
        f"{ARTIFACT}/alias-events",
        v.ArtifactAliasEventsView.as_view(),
        name="artifact-alias-events",
    ),
    path(f"{RUN}/artifacts", v.RunArtifactsView.as_view(), name="run-artifacts"),
    path(f"{RUN}/used-artifacts", v.RunUsedArtifactsView.as_view(), name="run-used-artifacts"),
]

team_urlpatterns = [
    path("registered-models", v.RegisteredModelListView.as_view(), name="registered-model-list"),
    path(MODEL, v.RegisteredModelDetailView.as_view(), name="registered-model-detail"),
    path(
        f"{MODEL}/versions",
        v.RegisteredModelVersionListView.as_view(),
        name="registered-model-version-list",
    ),
    path(
        f"{MODEL}/versions/<artifact_ref:ref>",
        v.RegisteredModelVersionDetailView.as_view(),
        name="registered-model-version-detail",
    ),
    path(
        f"{MODEL}/aliases/<artifact_name:alias>",
        v.RegisteredModelAliasView.as_view(),
        name="registered-model-alias",
    ),
    path(
        f"{MODEL}/alias-events",
        v.RegisteredModelAliasEventsView.as_view(),
        name="registered-model-alias-events",
    ),
]
