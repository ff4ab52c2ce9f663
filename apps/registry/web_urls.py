"""Artifact and registry pages. Project pages live under /<team>/<project>/artifacts;
the team's registry is /<team>/registry (no trailing slash, so it never matches the
project overview /<team>/<project>/) and its models /<team>/registry/models/<name>.
Each name is classified in apps/core/policy.py ("--- web: registry")."""

from django.urls import path

from apps.registry import web_views as v

PROJECT = "<team_slug:team>/<project_name:project>"
ARTIFACT = f"{PROJECT}/artifacts/<artifact_name:name>"
VERSION = f"{ARTIFACT}/versions/<artifact_ref:ref>"
MODEL = "<team_slug:team>/registry/models/<model_name:name>"

urlpatterns = [
    path(f"{PROJECT}/artifacts", v.artifact_list, name="artifact-list"),
    path(ARTIFACT, v.artifact_detail, name="artifact-detail"),
    path(f"{ARTIFACT}/description", v.artifact_update, name="artifact-update"),
    path(f"{ARTIFACT}/aliases", v.artifact_alias_set, name="artifact-alias-set"),
    path(
        f"{ARTIFACT}/aliases/<artifact_name:alias>/delete",
        v.artifact_alias_delete,
        name="artifact-alias-delete",
    ),
    path(VERSION, v.artifact_version_detail, name="artifact-version-detail"),
    path(f"{VERSION}/description", v.artifact_version_update, name="artifact-version-update"),
    path(f"{VERSION}/delete", v.artifact_version_delete, name="artifact-version-delete"),
    path(f"{VERSION}/link", v.artifact_version_link, name="artifact-version-link"),
    path(f"{VERSION}/files/<run_file:path>", v.artifact_file, name="artifact-file"),
    path("<team_slug:team>/registry", v.registered_model_list, name="registered-model-list"),
    path(MODEL, v.registered_model_detail, name="registered-model-detail"),
    path(f"{MODEL}/description", v.registered_model_update, name="registered-model-update"),
    path(
        f"{MODEL}/versions/<artifact_ref:ref>/unlink",
        v.registered_model_version_unlink,
        name="registered-model-version-unlink",
    ),
    path(f"{MODEL}/aliases", v.registered_model_alias_set, name="registered-model-alias-set"),
    path(
        f"{MODEL}/aliases/<artifact_name:alias>/delete",
        v.registered_model_alias_delete,
        name="registered-model-alias-delete",
    ),
]
