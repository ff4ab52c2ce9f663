"""Reports as JSON (API and SDK) and the URLs that name them."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from apps.reports import document, services


def web_path(report) -> str:
    return reverse(
        "web:report-detail",
        kwargs={"team": report.team.slug, "project": report.project.name, "report_id": report.pk},
    )


def share_path(report) -> str | None:
    if not report.publish_token:
        return None
    return reverse("web:report-shared", kwargs={"share_token": report.publish_token})


def _user(user) -> dict | None:
    return None if user is None else {"id": user.pk, "name": user.name or user.email}


def report_out(report, *, actor=None, permissions=frozenset(), detail: bool = False) -> dict:
    manage = services.may_manage(report, actor, permissions)
    out = {
        "id": report.pk,
        "title": report.title,
        "description": report.description,
        "project": report.project.name,
        "url": settings.PUBLIC_BASE_URL + web_path(report),
        "version": report.version,
        "sharing": report.sharing,
        "published": report.published_version is not None,
        "published_version": report.published_version,
        "created_by": _user(report.created_by),
        "created_at": report.created_at.isoformat(),
        "updated_at": report.updated_at.isoformat(),
        "can_manage": manage,
    }
    if manage and report.publish_token:
        # The secret link is shown to those who may publish (and so unpublish) it.
        out["share_url"] = settings.PUBLIC_BASE_URL + share_path(report)
    if detail:
        out["body"] = report.body
        out["panels"] = [b.panel for b in document.blocks(report.body) if b.kind == "panel"]
    return out


def version_out(version, *, detail: bool = False) -> dict:
    out = {
        "number": version.number,
        "title": version.title,
        "note": version.note,
        "created_by": _user(version.created_by),
        "created_at": version.created_at.isoformat(),
    }
    if detail:
        out["body"] = version.body
    return out


def export_out(export, report) -> dict:
    out = {
        "id": export.pk,
        "version": export.version,
        "state": export.state,
        "size": export.size,
        "error": export.error or None,
        "created_at": export.created_at.isoformat(),
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        "file_url": None,
    }
    if export.state == "done":
        out["file_url"] = reverse(
            "api:report-export-file",
            kwargs={
                "team": report.team.slug,
                "project": report.project.name,
                "report_id": report.pk,
                "export_id": export.pk,
            },
        )
    return out
