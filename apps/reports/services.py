"""Report writes: create, save (each save is a new version), restore, share, publish,
delete, and PDF export requests. Callers pass a report found through
apps.reports.selectors with their own rights, so every function here acts on a report
the caller may read; the rules below add who may change what.

- Any writer of the project (projects:write, checked by the route) edits a report it can
  read: team reports are edited together, as W&B's are.
- Sharing, publishing and deleting: the report's author, or a team admin (team:manage).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from apps.comments.cleanup import comments_remove
from apps.core.access import is_owner
from apps.core.errors import Conflict, DomainError, PermissionDenied, field_error
from apps.reports import document, tasks
from apps.reports.models import Report, ReportExport, ReportVersion, Sharing
from apps.teams import roles

MAX_TITLE = 200
MAX_DESCRIPTION = 1000


def _text(data: dict, name: str, limit: int, *, required: bool = False) -> str | None:
    if name not in data:
        if required:
            raise field_error(f"{name} is required.", name)
        return None
    value = data[name]
    if not isinstance(value, str):
        raise field_error(f"{name} must be a string.", name)
    if "\x00" in value:
        raise field_error(f"{name} must not contain NUL characters.", name)
    if len(value) > limit:
        raise field_error(f"{name} must be at most {limit} characters.", name)
    if required and not value.strip():
        raise field_error(f"{name} must not be empty.", name)
    return value


def _body(data: dict) -> str | None:
    body = _text(data, "body", document.MAX_BODY)
    if body is not None:
        document.check(body)  # 400 naming the first bad panel
    return body


def _sharing(data: dict) -> str | None:
    if "sharing" not in data:
        return None
    if data["sharing"] not in Sharing.values:
        raise field_error(f"sharing must be one of {Sharing.values}.", "sharing")
    return data["sharing"]


def _object(data) -> dict:
    if not isinstance(data, dict):
        raise DomainError("Body must be a JSON object.", code="invalid_json")
    return data


def may_manage(report: Report, actor, permissions) -> bool:
    return roles.TEAM_MANAGE in permissions or is_owner(report.created_by_id, actor)


def _require_manage(report: Report, actor, permissions, what: str) -> None:
    if not may_manage(report, actor, permissions):
        raise PermissionDenied(
            f"Only the report's author or a team admin may {what} it.",
            detail={"permission": roles.TEAM_MANAGE, "owner_only": True},
        )


def report_create(*, team, project, actor, data) -> Report:
    data = _object(data)
    title = _text(data, "title", MAX_TITLE, required=True).strip()
    body = _body(data) or ""
    description = _text(data, "description", MAX_DESCRIPTION) or ""
    sharing = _sharing(data) or Sharing.TEAM
    with transaction.atomic():
        report = Report.objects.for_team(team).create(
            team=team,
            project=project,
            title=title,
            description=description,
            body=body,
            sharing=sharing,
            created_by=actor,
            updated_by=actor,
        )
        ReportVersion.objects.for_team(team).create(
            team=team, report=report, number=1, title=title, body=body, created_by=actor
        )
    return report


def _new_version(report: Report, *, actor, title: str, body: str, note: str = "") -> Report:
    report.version += 1
    report.title, report.body = title, body
    report.updated_by, report.updated_at = actor, timezone.now()
    ReportVersion.objects.for_team(report.team).create(
        team=report.team,
        report=report,
        number=report.version,
        title=title,
        body=body,
        note=note,
        created_by=actor,
    )
    return report


def _locked(report: Report) -> Report:
    locked = Report.objects.for_team(report.team).select_for_update().get(pk=report.pk)
    locked.created_by = report.created_by
    return locked


def report_update(*, report: Report, actor, permissions, data) -> Report:
    """Title, body and description changes save a new version; `base_version` (the
    version the editor started from) turns a concurrent save into 409 instead of
    silently replacing someone else's edit. Sharing is the author's or an admin's."""
    data = _object(data)
    title = _text(data, "title", MAX_TITLE)
    if title is not None:
        title = title.strip()
        if not title:
            raise field_error("title must not be empty.", "title")
    body = _body(data)
    description = _text(data, "description", MAX_DESCRIPTION)
    sharing = _sharing(data)
    base = data.get("base_version")
    if base is not None and type(base) is not int:
        raise field_error("base_version must be a version number.", "base_version")
    if sharing is not None and sharing != report.sharing:
        _require_manage(report, actor, permissions, "change the sharing of")
    with transaction.atomic():
        report = _locked(report)
        if base is not None and base != report.version:
            raise Conflict(
                f"The report was saved meanwhile (now version {report.version}, you edited "
                f"version {base}); reload it and apply your changes again.",
                detail={"field": "base_version", "version": report.version},
            )
        new_title = report.title if title is None else title
        new_body = report.body if body is None else body
        if (new_title, new_body) != (report.title, report.body):
            _new_version(report, actor=actor, title=new_title, body=new_body)
        if description is not None:
            report.description = description
        if sharing is not None:
            report.sharing = sharing
        report.updated_at = timezone.now()
        report.save()
    return report


def report_restore(*, report: Report, version: ReportVersion, actor) -> Report:
    """Restoring makes the old text the newest version (history is never rewritten)."""
    with transaction.atomic():
        report = _locked(report)
        _new_version(
            report,
            actor=actor,
            title=version.title,
            body=version.body,
            note=f"restored from v{version.number}",
        )
        report.save()
    return report


def report_publish(*, report: Report, actor, permissions) -> Report:
    """Publish the newest version by link (a new secret when none is set; republishing
    moves the link to the newest version and keeps the secret)."""
    _require_manage(report, actor, permissions, "publish")
    with transaction.atomic():
        report = _locked(report)
        report.publish_token = report.publish_token or secrets.token_urlsafe(24)
        report.published_version = report.version
        report.save(update_fields=["publish_token", "published_version"])
    return report


def report_unpublish(*, report: Report, actor, permissions) -> Report:
    """The link stops working at once; a later publish makes a new secret."""
    _require_manage(report, actor, permissions, "unpublish")
    Report.objects.for_team(report.team).filter(pk=report.pk).update(
        publish_token=None, published_version=None
    )
    report.publish_token = report.published_version = None
    return report


def report_delete(*, report: Report, actor, permissions) -> None:
    from apps.core.storage import delete_stored_on_commit

    _require_manage(report, actor, permissions, "delete")
    with transaction.atomic():
        files = list(
            ReportExport.objects.for_team(report.team)
            .filter(report=report)
            .exclude(path="")
            .values_list("path", flat=True)
        )
        comments_remove(report.team, "report", [report.pk])
        Report.objects.for_team(report.team).filter(pk=report.pk).delete()
        delete_stored_on_commit(files)


def export_request(*, report: Report, actor) -> ReportExport:
    """A PDF of the newest version, rendered by a Celery task after commit."""
    with transaction.atomic():
        export = ReportExport.objects.for_team(report.team).create(
            team=report.team, report=report, version=report.version, requested_by=actor
        )
        transaction.on_commit(
            lambda: tasks.report_export_pdf.delay(team_id=report.team_id, export_id=export.pk)
        )
    return export
