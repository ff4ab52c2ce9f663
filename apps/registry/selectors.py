"""Registry reads. First argument is the team; every query goes through `for_team`."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Max, Subquery

from apps.core.errors import NotFound
from apps.projects.selectors import projects_visible
from apps.registry import names
from apps.registry.models import (
    AliasEvent,
    Artifact,
    ArtifactAlias,
    ArtifactBlob,
    ArtifactFile,
    ArtifactReference,
    ArtifactUsage,
    ArtifactVersion,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelVersion,
)


def blobs_missing(team, digests: list[str]) -> list[str]:
    held = set(
        ArtifactBlob.objects.for_team(team)
        .filter(sha256__in=set(digests))
        .values_list("sha256", flat=True)
    )
    return [d for d in dict.fromkeys(digests) if d not in held]


# --------------------------------------------------------------------------- artifacts


def artifacts_list(team, project, *, type: str | None = None) -> list[Artifact]:
    """The project's artifacts, newest first, with their stats (`artifact_stats`)."""
    qs = Artifact.objects.for_team(team).filter(project=project)
    if type:
        qs = qs.filter(type=type)
    return artifact_stats(team, list(qs.order_by("-updated_at", "-id")[:1000]))


def artifact_stats(team, artifacts: list[Artifact]) -> list[Artifact]:
    """Sets `version_count`, `latest_index` and `alias_map` (alias -> label) on each."""
    ids = [a.pk for a in artifacts]
    stats = {
        row["artifact_id"]: row
        for row in ArtifactVersion.objects.for_team(team)
        .filter(artifact_id__in=ids)
        .values("artifact_id")
        .annotate(count=Count("id"), latest=Max("index"))
    }
    aliases = defaultdict(dict)
    for alias, artifact_id, index in (
        ArtifactAlias.objects.for_team(team)
        .filter(artifact_id__in=ids)
        .values_list("alias", "artifact_id", "version__index")
    ):
        aliases[artifact_id][alias] = f"v{index}"
    for artifact in artifacts:
        row = stats.get(artifact.pk, {})
        artifact.version_count = row.get("count", 0)
        artifact.latest_index = row.get("latest")
        artifact.alias_map = dict(sorted(aliases[artifact.pk].items()))
    return artifacts


def artifact_get(team, project, name: str) -> Artifact:
    artifact = Artifact.objects.for_team(team).filter(project=project, name=name).first()
    if artifact is None:
        raise NotFound("Artifact not found.")
    artifact.team, artifact.project = team, project
    return artifact


def artifact_versions(team, artifact: Artifact) -> list[ArtifactVersion]:
    versions = list(
        ArtifactVersion.objects.for_team(team).filter(artifact=artifact).order_by("-index")[:1000]
    )
    _attach_aliases(team, artifact, versions)
    return versions


def _by_ref(versions, aliases, ref: str):
    """The version of `versions` that `ref` names (`v<N>`, `latest` or one of `aliases`)."""
    index = names.version_index(ref)
    if index is not None:
        return versions.filter(index=index).first()
    if ref == names.LATEST:
        return versions.order_by("-index").first()
    return versions.filter(pk__in=aliases.filter(alias=ref).values("version_id")).first()


def version_resolve(team, artifact: Artifact, ref: str) -> ArtifactVersion:
    """`v<N>`, `latest` or an alias -> the version (404 when it names none)."""
    qs = ArtifactVersion.objects.for_team(team).filter(artifact=artifact)
    aliases = ArtifactAlias.objects.for_team(team).filter(artifact=artifact)
    version = _by_ref(qs, aliases, ref)
    if version is None:
        raise NotFound(f"Artifact {artifact.name!r} has no version {ref!r}.")
    version.team, version.artifact = team, artifact
    _attach_aliases(team, artifact, [version])
    return version


def _attach_aliases(team, artifact: Artifact, versions: list[ArtifactVersion]) -> None:
    by_version = defaultdict(list)
    for alias, version_id in (
        ArtifactAlias.objects.for_team(team)
        .filter(version__in=[v.pk for v in versions])
        .order_by("alias")
        .values_list("alias", "version_id")
    ):
        by_version[version_id].append(alias)
    latest = (
        ArtifactVersion.objects.for_team(team)
        .filter(artifact=artifact)
        .aggregate(top=Max("index"))["top"]
    )
    for version in versions:
        version.alias_list = (["latest"] if version.index == latest else []) + by_version[
            version.pk
        ]


def version_files(team, version: ArtifactVersion) -> list[ArtifactFile]:
    return list(
        ArtifactFile.objects.for_team(team)
        .filter(version=version)
        .select_related("blob")
        .order_by("path")
    )


def version_references(team, version: ArtifactVersion) -> list[ArtifactReference]:
    return list(ArtifactReference.objects.for_team(team).filter(version=version).order_by("path"))


def version_file_get(team, version: ArtifactVersion, path: str) -> ArtifactFile:
    record = (
        ArtifactFile.objects.for_team(team)
        .filter(version=version, path=path)
        .select_related("blob")
        .first()
    )
    if record is None:
        raise NotFound("No such file in this version.")
    return record


def version_files_by_path(team, version: ArtifactVersion, paths: list[str]) -> dict:
    """path -> ArtifactFile for each of `paths` (400 naming the first unknown one)."""
    found = {
        record.path: record
        for record in ArtifactFile.objects.for_team(team)
        .filter(version=version, path__in=set(paths))
        .select_related("blob")
    }
    for i, path in enumerate(paths):
        if path not in found:
            raise names.field_error(f"No file {path!r} in this version.", f"paths[{i}]")
    return found


def version_file_by_ref(team, project, name: str, ref: str, path: str) -> ArtifactFile:
    """One file of the version `name:ref` in one query (the download path: a dataset
    download asks this once per file)."""
    qs = (
        ArtifactFile.objects.for_team(team)
        .filter(version__artifact__project=project, version__artifact__name=name, path=path)
        .select_related("blob")
    )
    index = names.version_index(ref)
    if index is not None:
        qs = qs.filter(version__index=index)
    elif ref == names.LATEST:
        newest = (
            ArtifactVersion.objects.for_team(team)
            .filter(artifact__project=project, artifact__name=name)
            .order_by("-index")
            .values("id")[:1]
        )
        qs = qs.filter(version_id=Subquery(newest))
    else:
        qs = qs.filter(
            version_id__in=ArtifactAlias.objects.for_team(team)
            .filter(artifact__project=project, artifact__name=name, alias=ref)
            .values("version_id")
        )
    record = qs.first()
    if record is None:
        raise NotFound(f"No file {path!r} in {name}:{ref}.")
    return record


def version_used_by(team, version: ArtifactVersion, limit: int = 100) -> list[ArtifactUsage]:
    return list(
        ArtifactUsage.objects.for_team(team)
        .filter(version=version)
        .select_related("run__project")
        .order_by("-used_at")[:limit]
    )


def artifact_alias_events(team, artifact: Artifact) -> list[AliasEvent]:
    return list(
        AliasEvent.objects.for_team(team)
        .filter(artifact=artifact)
        .select_related("actor")
        .order_by("-at", "-id")[:1000]
    )


def run_artifacts(team, run) -> dict[str, list[ArtifactVersion]]:
    """What `run` logged and what it used (oldest first)."""
    logged = list(
        ArtifactVersion.objects.for_team(team)
        .filter(run=run)
        .select_related("artifact__project")
        .order_by("created_at", "id")
    )
    used = [
        usage.version
        for usage in ArtifactUsage.objects.for_team(team)
        .filter(run=run)
        .select_related("version__artifact__project")
        .order_by("used_at", "id")
    ]
    return {"logged": logged, "used": used}


def project_visible(team, name: str, *, membership, user):
    """A project of `team` by name, if this caller may see it (404 otherwise)."""
    project = projects_visible(team, membership=membership, user=user).filter(name=name).first()
    if project is None:
        raise NotFound("Project not found.")
    return project


# --------------------------------------------------------------------------- registered models


def registered_models_list(team) -> list[RegisteredModel]:
    models = list(RegisteredModel.objects.for_team(team).order_by("name")[:1000])
    counts = dict(
        RegisteredModelVersion.objects.for_team(team)
        .values("registered_model_id")
        .annotate(count=Count("id"))
        .values_list("registered_model_id", "count")
    )
    aliases = defaultdict(dict)
    for alias, model_id, index in RegisteredModelAlias.objects.for_team(team).values_list(
        "alias", "registered_model_id", "version__index"
    ):
        aliases[model_id][alias] = f"v{index}"
    for model in models:
        model.version_count = counts.get(model.pk, 0)
        model.alias_map = dict(sorted(aliases[model.pk].items()))
    return models


def registered_model_get(team, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.for_team(team).filter(name=name).first()
    if model is None:
        raise NotFound("Registered model not found.")
    model.team = team
    return model


def registered_model_versions(team, model: RegisteredModel) -> list[RegisteredModelVersion]:
    versions = list(
        RegisteredModelVersion.objects.for_team(team)
        .filter(registered_model=model)
        .select_related("source__artifact__project", "linked_by")
        .order_by("-index")[:1000]
    )
    _attach_model_aliases(team, model, versions)
    return versions


def registered_model_version_resolve(
    team, model: RegisteredModel, ref: str
) -> RegisteredModelVersion:
    qs = (
        RegisteredModelVersion.objects.for_team(team)
        .filter(registered_model=model)
        .select_related("source__artifact__project", "linked_by")
    )
    aliases = RegisteredModelAlias.objects.for_team(team).filter(registered_model=model)
    version = _by_ref(qs, aliases, ref)
    if version is None:
        raise NotFound(f"Registered model {model.name!r} has no version {ref!r}.")
    version.team, version.registered_model = team, model
    _attach_model_aliases(team, model, [version])
    return version


def _attach_model_aliases(team, model, versions: list[RegisteredModelVersion]) -> None:
    """Sets `alias_list` on each version and `alias_map` (alias -> label) on the model."""
    by_version = defaultdict(list)
    model.alias_map = {}
    for alias, version_id, index in (
        RegisteredModelAlias.objects.for_team(team)
        .filter(registered_model=model)
        .order_by("alias")
        .values_list("alias", "version_id", "version__index")
    ):
        by_version[version_id].append(alias)
        model.alias_map[alias] = f"v{index}"
    latest = (
        RegisteredModelVersion.objects.for_team(team)
        .filter(registered_model=model)
        .aggregate(top=Max("index"))["top"]
    )
    for version in versions:
        version.alias_list = (["latest"] if version.index == latest else []) + by_version[
            version.pk
        ]


def registered_model_alias_events(team, model: RegisteredModel) -> list[AliasEvent]:
    return list(
        AliasEvent.objects.for_team(team)
        .filter(registered_model=model)
        .select_related("actor")
        .order_by("-at", "-id")[:1000]
    )
