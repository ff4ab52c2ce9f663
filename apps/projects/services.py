"""Project writes."""

from __future__ import annotations

import re

import orjson
from django.db import IntegrityError, transaction

from apps.core.errors import Conflict, DomainError, PermissionDenied, TooLarge, field_error
from apps.core.storage import delete_stored_on_commit
from apps.projects.models import Project, SavedView, Visibility
from apps.reports.models import ReportExport
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
    # Its reports' PDF exports leave storage too (the rows go with the project).
    exports = ReportExport.objects.for_team(project.team).filter(report__project=project)
    delete_stored_on_commit(exports.exclude(path="").values_list("path", flat=True))
    project.delete()


# --------------------------------------------------------------------------- saved views

VIEW_NAME_MAX = 128
VIEW_SPEC_MAX_BYTES = 256 * 1024
VIEW_SPEC_MAX_DEPTH = 32


def _spec_depth_ok(value, depth: int = 0) -> bool:
    if depth > VIEW_SPEC_MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_spec_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_spec_depth_ok(v, depth + 1) for v in value)
    return True


def validate_view_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > VIEW_NAME_MAX:
        raise field_error(f"name must be 1-{VIEW_NAME_MAX} characters.", "name")
    if "\x00" in name:
        raise field_error("name must not contain NUL characters.", "name")
    return name.strip()


def validate_view_spec(spec) -> dict:
    """A JSON object, nested at most VIEW_SPEC_MAX_DEPTH deep, at most
    VIEW_SPEC_MAX_BYTES encoded, without NUL characters (jsonb cannot hold them)."""
    if not isinstance(spec, dict):
        raise field_error("spec must be a JSON object.", "spec")
    if not _spec_depth_ok(spec):
        raise field_error(f"spec nests deeper than {VIEW_SPEC_MAX_DEPTH} levels.", "spec")
    try:
        encoded = orjson.dumps(spec)
    except TypeError as exc:  # integers beyond 64 bits
        raise field_error(f"spec cannot be stored: {exc}.", "spec") from exc
    if len(encoded) > VIEW_SPEC_MAX_BYTES:
        raise TooLarge(
            f"spec is larger than {VIEW_SPEC_MAX_BYTES} bytes.", detail={"field": "spec"}
        )
    if b"\\u0000" in encoded:
        raise field_error("spec must not contain NUL characters.", "spec")
    return spec


def _unknown_fields(data: dict, allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise field_error(f"Unknown fields {extra}.", extra[0])


def _clear_default(project: Project, keep_id: int | None = None) -> None:
    SavedView.objects.for_team(project.team).filter(project=project, is_default=True).exclude(
        pk=keep_id
    ).update(is_default=False)


def _save_view(view: SavedView, fields: list[str] | None = None) -> SavedView:
    try:
        with transaction.atomic():
            view.save(update_fields=fields)
    except IntegrityError as exc:
        raise Conflict(
            f"A view named {view.name!r} already exists in this project.",
            code="view_exists",
            detail={"field": "name"},
        ) from exc
    return view


@transaction.atomic
def view_create(*, team, project: Project, actor, data) -> SavedView:
    """A new saved view; is_default=true makes it the project's default (the previous
    default stops being one)."""
    if not isinstance(data, dict):
        raise field_error("The body must be a JSON object.", "body")
    _unknown_fields(data, {"name", "spec", "is_default"})
    is_default = data.get("is_default", False)
    if not isinstance(is_default, bool):
        raise field_error("is_default must be true or false.", "is_default")
    view = SavedView(
        team=team,
        project=project,
        name=validate_view_name(data.get("name")),
        spec=validate_view_spec(data.get("spec", {})),
        is_default=is_default,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if is_default:
        _clear_default(project)
    return _save_view(view)


@transaction.atomic
def view_update(*, view: SavedView, data) -> SavedView:
    """PATCH: rename, replace the spec, set (or unset) as the project's default."""
    if not isinstance(data, dict):
        raise field_error("The body must be a JSON object.", "body")
    _unknown_fields(data, {"name", "spec", "is_default"})
    view = SavedView.objects.for_team(view.team).select_for_update().get(pk=view.pk)
    fields = ["updated_at"]
    if "name" in data:
        view.name = validate_view_name(data["name"])
        fields.append("name")
    if "spec" in data:
        view.spec = validate_view_spec(data["spec"])
        fields.append("spec")
    if "is_default" in data:
        if not isinstance(data["is_default"], bool):
            raise field_error("is_default must be true or false.", "is_default")
        if data["is_default"]:
            _clear_default(view.project, keep_id=view.pk)
        view.is_default = data["is_default"]
        fields.append("is_default")
    return _save_view(view, fields)


def view_delete(*, view: SavedView) -> None:
    SavedView.objects.for_team(view.team).filter(pk=view.pk).delete()
