"""Registry reads that only the web pages need: the artifact types of a project, the
versions table with the runs and people behind each version, a bounded file list,
lineage limited to the projects the caller may see, and the source of each registered
model version checked the same way.

Like apps/registry/selectors.py, the first argument is the team and every query goes
through `for_team`; these build on those selectors rather than repeat them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from apps.accounts.models import User
from apps.projects.selectors import projects_visible
from apps.registry import selectors
from apps.registry.models import AliasEvent, Artifact, ArtifactFile, ArtifactVersion
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
