"""Registry reads that only the web pages need: the artifact types of a project, the
versions table with the runs and people behind each version, a bounded file list,
lineage limited to the projects the caller may see, the source of each registered
model version checked the same way, and the registry side of a version page (the
registered models linking it, the names offered by the link form).

Like apps/registry/selectors.py, the first argument is the team and every query goes
through `for_team`; these build on those selectors rather than repeat them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Max, Q

from apps.accounts.models import User
from apps.projects.selectors import projects_visible
from apps.registry import selectors
from apps.registry.models import (
    AliasEvent,
    Artifact,
    ArtifactFile,
    ArtifactVersion,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelVersion,
)
from apps.runs.models import Run

FILES_SHOWN = 1000


def artifact_types(team, project) -> list[tuple[str, int]]:
    """(type, number of artifacts) of the project, by type name."""
    return list(
        Artifact.objects.for_team(team)
        .filter(project=project)
        .values("type")
        .annotate(count=Count("id"))
        .order_by("type")
        .values_list("type", "count")
    )


def artifact_versions_table(team, artifact: Artifact) -> list[ArtifactVersion]:
    """The artifact's versions, newest first, with aliases (`alias_list`), the run that
    logged each one (`run`, with its project) and who logged it (`created_by`): two
    queries for the whole table instead of two per row."""
    versions = selectors.artifact_versions(team, artifact)
    runs = Run.objects.for_team(team).filter(pk__in={v.run_id for v in versions if v.run_id})
    runs = {run.pk: run for run in runs.select_related("project")}
    users = User.objects.in_bulk({v.created_by_id for v in versions if v.created_by_id})
    for version in versions:
        version.run = runs.get(version.run_id)
        version.created_by = users.get(version.created_by_id)
    return versions


def version_files_shown(team, version: ArtifactVersion) -> list[ArtifactFile]:
    """The first FILES_SHOWN files by path: a version may list up to 100,000."""
    return list(
        ArtifactFile.objects.for_team(team)
        .filter(version=version)
        .select_related("blob")
        .order_by("path")[:FILES_SHOWN]
    )


def version_alias_events(team, artifact: Artifact, label: str) -> list[AliasEvent]:
    """Alias moves onto or away from one version, newest first."""
    return list(
        AliasEvent.objects.for_team(team)
        .filter(Q(from_version=label) | Q(to_version=label), artifact=artifact)
        .select_related("actor")
        .order_by("-at", "-id")[:1000]
    )


@dataclass
class Lineage:
    logged_by: Run | None = None
    used_by: list[Run] = field(default_factory=list)
    # Runs in projects the caller cannot see: counted, never named.
    hidden: int = 0


def version_lineage(team, version: ArtifactVersion, *, membership, user) -> Lineage:
    """The run that logged `version` and the runs that used it, within what the caller
    may see (a run of a restricted project is hidden from non-admins)."""
    visible = set(
        projects_visible(team, membership=membership, user=user).values_list("pk", flat=True)
    )
    lineage = Lineage()
    if version.run_id:
        run = Run.objects.for_team(team).filter(pk=version.run_id).select_related("project")
        lineage.logged_by = run.first()
    for usage in selectors.version_used_by(team, version):
        if usage.run.project_id in visible:
            lineage.used_by.append(usage.run)
        else:
            lineage.hidden += 1
    return lineage


def registered_model_links(team, model, *, membership, user):
    """The registered model's versions (newest first) with `source_visible`: whether the
    caller may open the source artifact's project (its name is shown either way, as the
    API does)."""
    links = selectors.registered_model_versions(team, model)
    visible = set(
        projects_visible(team, membership=membership, user=user).values_list("pk", flat=True)
    )
    for link in links:
        link.source_visible = link.source.artifact.project_id in visible
    return links


def version_registry_links(team, version: ArtifactVersion) -> list[RegisteredModelVersion]:
    """The registered-model versions that link `version`, by model name, each with
    `alias_list` (`latest` first when it is its model's newest link): three queries."""
    links = list(
        RegisteredModelVersion.objects.for_team(team)
        .filter(source=version)
        .select_related("registered_model")
        .order_by("registered_model__name")[:1000]
    )
    model_ids = {link.registered_model_id for link in links}
    newest = dict(
        RegisteredModelVersion.objects.for_team(team)
        .filter(registered_model_id__in=model_ids)
        .values("registered_model_id")
        .annotate(top=Max("index"))
        .values_list("registered_model_id", "top")
    )
    aliases: dict[int, list[str]] = {link.pk: [] for link in links}
    for alias, link_id in (
        RegisteredModelAlias.objects.for_team(team)
        .filter(version_id__in=aliases)
        .order_by("alias")
        .values_list("alias", "version_id")
    ):
        aliases[link_id].append(alias)
    for link in links:
        latest = newest.get(link.registered_model_id) == link.index
        link.alias_list = (["latest"] if latest else []) + aliases[link.pk]
    return links


def registered_model_names(team) -> list[str]:
    """The team's registered model names (the link form offers them), by name."""
    names = RegisteredModel.objects.for_team(team).order_by("name").values_list("name", flat=True)
    return list(names[:1000])
