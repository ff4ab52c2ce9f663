"""API shapes of deployments. Credentials are never part of any of them: only whether
some are stored (`has_credentials`)."""

from __future__ import annotations

from apps.deployments import events


def served_out(row) -> dict:
    return {
        "version": row.version_label,
        "attempt": row.attempt,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
    }


def deployment_out(d, history=None) -> dict:
    body = {
        "id": d.pk,
        "endpoint_name": d.endpoint_name,
        "platform": d.platform,
        "model": d.model_ref,
        "project": d.project.name if d.project_id else None,
        "ref": d.ref,
        "version": d.version_label,
        "follow_alias": d.follow_alias,
        "state": d.state,
        "error": d.error or None,
        "attempt": d.attempt,
        "action": d.action,
        "url": d.url or None,
        "options": d.options,
        "has_credentials": bool(d.credentials_encrypted),
        "package": d.package.digest if d.package_id and d.package else None,
        "created_at": d.created_at.isoformat(),
        "updated_at": d.updated_at.isoformat(),
        "healthy_at": d.healthy_at.isoformat() if d.healthy_at else None,
    }
    if history is not None:
        body["history"] = [served_out(row) for row in history]
    return body


def event_out(event) -> dict:
    return events.event_out(event)
