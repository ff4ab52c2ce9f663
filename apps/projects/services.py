"""Project writes."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from apps.core.errors import Conflict, DomainError, PermissionDenied
from apps.core.storage import delete_stored_on_commit
from apps.projects.models import Project, Visibility
from apps.runs.models import RunFile
from apps.teams import audit
from apps.teams.models import Membership
from apps.teams.roles import TEAM_MANAGE, role_has

# Visibilities that expose a project beyond its team; choosing one needs team:manage.
EXPOSED = frozenset({Visibility.PUBLIC, Visibility.OPEN})

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Second URL segments that are team pages (/<team>/settings/), not projects.
# Names of team-level pages that sit where a project name would (/<team>/<name>).
RESERVED_NAMES = frozenset({"settings", "registry"})


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name in {".", ".."}:
        raise DomainError(
            "Project name must be 1-128 letters, digits, '_', '.' or '-'.",
            code="invalid_name",
            detail={"field": "name"},
        )
    if name.lower() in RESERVED_NAMES:
        raise DomainError(
            f"Project name {name!r} is reserved.", code="invalid_name", detail={"field": "name"}
        )
    return name


def validate_visibility(visibility: str) -> str:
    if visibility not in Visibility.values:
        raise DomainError(
            f"visibility must be one of {Visibility.values}.",
            code="invalid_visibility",
            detail={"field": "visibility"},
        )
    return visibility


def _require_may_expose(team, actor, visibility: str) -> None:
    """Only team admins (team:manage) make a project public or open to outsiders."""
    if visibility not in EXPOSED:
        return
    membership = (
        Membership.objects.for_team(team).filter(user=actor).first()
        if getattr(actor, "is_authenticated", False)
        else None
    )
    if membership is None or not role_has(membership.role, TEAM_MANAGE):
        raise PermissionDenied(
            f"Making a project {visibility} needs the {TEAM_MANAGE!r} permission.",
            detail={"field": "visibility"},
        )


@transaction.atomic
def project_create(
    *, team, name: str, actor, description: str = "", visibility: str = Visibility.TEAM
) -> Project:
    validate_name(name)
    validate_visibility(visibility)
    _require_may_expose(team, actor, visibility)
    try:
        with transaction.atomic():
            return Project.objects.for_team(team).create(
                team=team,
                name=name,
                description=description or "",
                visibility=visibility,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"Project {name!r} already exists.", code="project_exists", detail={"field": "name"}
        ) from exc


def project_get_or_create(*, team, name: str, actor) -> Project:
    """The SDK's `init(project=…)` creates the project on first use, as W&B does."""
    project = Project.objects.for_team(team).filter(name=name).first()
    if project is not None:
        return project
    try:
        return project_create(team=team, name=name, actor=actor)
    except Conflict:
        return Project.objects.for_team(team).get(name=name)


@transaction.atomic
def project_update(*, project: Project, actor, **changes) -> Project:
    fields = []
    if "name" in changes and changes["name"] != project.name:
        project.name = validate_name(changes["name"])
        fields.append("name")
    if "description" in changes and changes["description"] != project.description:
        project.description = changes["description"] or ""
        fields.append("description")
    if "visibility" in changes and changes["visibility"] != project.visibility:
        old = project.visibility
        validate_visibility(changes["visibility"])
        _require_may_expose(project.team, actor, changes["visibility"])
        project.visibility = changes["visibility"]
        fields.append("visibility")
        audit.audit_record(
            audit.VISIBILITY_CHANGED,
            team=project.team,
            actor=actor,
            target=project.name,
            detail={"from": old, "to": project.visibility},
        )
    if fields:
        try:
            with transaction.atomic():
                project.save(update_fields=[*fields, "updated_at"])
        except IntegrityError as exc:
            raise Conflict(
                f"Project {project.name!r} already exists.",
                code="project_exists",
                detail={"field": "name"},
            ) from exc
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete a project with its runs and artifacts. Run files leave storage after the
    commit; artifact blobs are team-level and go with blob garbage collection once no
    version lists them."""
    run_files = RunFile.objects.for_team(project.team).filter(run__project=project)
    delete_stored_on_commit(run_files.values_list("storage_name", flat=True))
    project.delete()
