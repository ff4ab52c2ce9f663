"""Model references of a deployment, read the way the SDK's use_model reads them:

- `name:ref` or `name` (latest), `project/name:ref`, `team/project/name:ref`: an
  artifact version of a project of this team;
- `model-registry/Name:ref` (or `team/model-registry/...`, `wandb-registry-model/...`):
  a version of one of the team's registered models.

`ref` is `latest`, `v<N>` or an alias."""

from __future__ import annotations

from dataclasses import dataclass

from apps.core.errors import NotFound, field_error
from apps.registry import names
from apps.registry import selectors as registry

REGISTRY_PROJECTS = frozenset({"model-registry", "wandb-registry-model"})


@dataclass
class Resolved:
    project: object | None
    artifact: object | None
    registered_model: object | None
    ref: str
    version: object  # ArtifactVersion
    label: str  # "classifier:v3" / "model-registry/churn:v1"


def parse(value, team_slug: str) -> tuple[str | None, str, str]:
    """(project or None for the registry, name, ref); 400 naming `model` when bad."""
    if not isinstance(value, str) or not value or len(value) > 300 or "\x00" in value:
        raise field_error("model must be a reference like 'name:alias' or 'name:v3'.", "model")
    path, _, ref = value.rpartition(":") if ":" in value else (value, "", names.LATEST)
    parts = path.split("/")
    if len(parts) == 3:
        if parts[0] != team_slug:
            raise field_error(f"model names team {parts[0]!r}, not this team.", "model")
        parts = parts[1:]
    if len(parts) == 2:
        project, name = parts
    elif len(parts) == 1:
        project, name = "", parts[0]
    else:
        raise field_error("model must be [[team/]project/]name[:ref].", "model")
    ref = names.clean_ref(ref or names.LATEST, "model")
    if project in REGISTRY_PROJECTS:
        return None, names.clean_model_name(name, "model"), ref
    return project, names.clean_name(name, "model"), ref


def resolve(team, value, *, project_name: str | None, membership, user) -> Resolved:
    """The version a reference names now, checked against what this caller may see
    (a restricted project's artifacts stay hidden: 400 as if missing)."""
    project_part, name, ref = parse(value, team.slug)
    try:
        if project_part is None:
            model = registry.registered_model_get(team, name)
            link = registry.registered_model_version_resolve(team, model, ref)
            return Resolved(
                None, None, model, ref, link.source, f"model-registry/{name}:{link.label}"
            )
        project_name = project_part or project_name
        if not project_name:
            raise field_error(
                "project is required for a model reference without one ('project/name:ref').",
                "project",
            )
        project = registry.project_visible(team, project_name, membership=membership, user=user)
        artifact = registry.artifact_get(team, project, name)
        version = registry.version_resolve(team, artifact, ref)
    except NotFound as exc:
        raise field_error(exc.message, "model") from None
    return Resolved(project, artifact, None, ref, version, f"{name}:{version.label}")


def resolve_again(team, deployment) -> tuple[object, str] | None:
    """The version the deployment's own reference names now (follow-alias), or None
    when it names none any more."""
    try:
        if deployment.registered_model_id:
            model = registry.registered_model_get(team, deployment.registered_model.name)
            link = registry.registered_model_version_resolve(team, model, deployment.ref)
            return link.source, f"model-registry/{model.name}:{link.label}"
        artifact = deployment.artifact
        version = registry.version_resolve(team, artifact, deployment.ref)
    except NotFound:
        return None
    return version, f"{artifact.name}:{version.label}"
