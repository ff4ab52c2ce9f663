"""Deployment writes (docs/deployments.md). Each user action bumps the attempt and sends
one Celery job for it after commit; the job (apps/deployments/jobs.py) does the work.

Guarantees: credentials given here are encrypted before they are stored and never come
back from any function of this module; an action on a deployment of another team is
impossible (callers resolve it through selectors with the URL's team)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from apps.core import jsonlimits
from apps.core.errors import Conflict, NotFound, field_error
from apps.deployments import attempts, events, references, secrets, tasks
from apps.deployments.models import (
    SETTLED,
    Deployment,
    Platform,
    ServedVersion,
    State,
)

ENDPOINT_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Option keys that are secrets: stored encrypted with the credentials, never as options.
CREDENTIAL_KEYS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "kubeconfig",
        "service_account_json",
        "client_secret",
        "credentials",
    }
)


def _queue(deployment: Deployment) -> None:
    team_id, pk, attempt = deployment.team_id, deployment.pk, deployment.attempt
    transaction.on_commit(lambda: tasks.deployment_job.delay(team_id, pk, attempt))


def clean_endpoint_name(value: Any) -> str:
    if not isinstance(value, str) or not ENDPOINT_RE.fullmatch(value):
        raise field_error(
            "endpoint_name must be 1-63 letters, digits or '-', starting and ending with a "
            "letter or digit.",
            "endpoint_name",
        )
    return value


def clean_platform(value: Any) -> str:
    if value not in Platform.values:
        raise field_error(f"platform must be one of {', '.join(Platform.values)}.", "platform")
    return value


def split_options(value: Any) -> tuple[dict, dict]:
    """(options, credentials) from a body's `options` (and `credentials`): secrets are
    pulled out of the options wherever the caller put them."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise field_error("options must be an object.", "options")
    jsonlimits.check(value, "options")
    credentials = {k: v for k, v in value.items() if k in CREDENTIAL_KEYS}
    options = {k: v for k, v in value.items() if k not in CREDENTIAL_KEYS}
    for key in options:
        if not isinstance(key, str) or "\x00" in key:
            raise field_error("options keys must be text without NUL.", "options")
    return options, credentials


def _clean_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise field_error(f"{field} must be true or false.", field)
    return value


def _start_attempt(deployment: Deployment, action: str, message: str) -> None:
    attempts.start(deployment, action, message)
    _queue(deployment)


@transaction.atomic
def deployment_deploy(*, team, data: dict, actor, membership, user) -> tuple[Deployment, bool]:
    """Create the deployment, or redeploy it when the team already has this endpoint on
    this platform (the SDK's `deploy()` says what should serve, as W&B's does).
    Returns (deployment, created)."""
    endpoint_name = clean_endpoint_name(data.get("endpoint_name"))
    platform = clean_platform(data.get("platform"))
    project_name = data.get("project")
    if project_name is not None and not isinstance(project_name, str):
        raise field_error("project must be a project name.", "project")
    resolved = references.resolve(
        team, data.get("model"), project_name=project_name, membership=membership, user=user
    )
    options, credentials = split_options(data.get("options"))
    if data.get("credentials") is not None:
        if not isinstance(data["credentials"], dict):
            raise field_error("credentials must be an object.", "credentials")
        credentials.update(data["credentials"])
    follow_alias = _clean_flag(data.get("follow_alias", False), "follow_alias")
    existing = (
        Deployment.objects.for_team(team)
        .select_for_update()
        .filter(platform=platform, endpoint_name=endpoint_name)
        .first()
    )
    if existing is not None:
        _point(existing, resolved, data.get("model"))
        existing.options = {**existing.options, **options}
        if credentials:
            existing.credentials_encrypted = secrets.encrypt(credentials)
        existing.follow_alias = follow_alias
        _start_attempt(existing, "deploy", f"redeploy {resolved.label}")
        return existing, False
    deployment = Deployment(
        team=team,
        endpoint_name=endpoint_name,
        platform=platform,
        options=options,
        credentials_encrypted=secrets.encrypt(credentials),
        follow_alias=follow_alias,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _point(deployment, resolved, data.get("model"))
    try:
        with transaction.atomic():
            deployment.save()
    except IntegrityError:
        raise Conflict("A deployment of this endpoint is being created; retry.") from None
    events.record(deployment, "state", f"pending: deploy {resolved.label}")
    _queue(deployment)
    return deployment, True


def _point(deployment: Deployment, resolved: references.Resolved, given: str) -> None:
    deployment.model_ref = given
    deployment.project = resolved.project
    deployment.artifact = resolved.artifact or resolved.version.artifact
    deployment.registered_model = resolved.registered_model
    deployment.ref = resolved.ref
    deployment.version = resolved.version
    deployment.version_label = resolved.label


def _locked(deployment: Deployment) -> Deployment:
    return attempts.locked(deployment)


@transaction.atomic
def deployment_redeploy(*, deployment: Deployment, data: dict, membership, user) -> Deployment:
    """Serve what the reference names now (or a new `model` reference)."""
    deployment = _locked(deployment)
    team = deployment.team
    if data.get("model") is not None:
        resolved = references.resolve(
            team,
            data["model"],
            project_name=deployment.project.name if deployment.project_id else None,
            membership=membership,
            user=user,
        )
        _point(deployment, resolved, data["model"])
    else:
        again = references.resolve_again(team, deployment)
        if again is None:
            raise Conflict(f"{deployment.model_ref!r} names no version any more.")
        deployment.version, deployment.version_label = again
    if "follow_alias" in data:
        deployment.follow_alias = _clean_flag(data["follow_alias"], "follow_alias")
    _start_attempt(deployment, "deploy", f"redeploy {deployment.version_label}")
    return deployment


@transaction.atomic
def deployment_rollback(*, deployment: Deployment) -> Deployment:
    """Serve the version that served before the current one (409 when there is none)."""
    deployment = _locked(deployment)
    served = list(
        ServedVersion.objects.for_team(deployment.team)
        .filter(deployment=deployment)
        .order_by("-started_at", "-id")[:100]
    )
    current = served[0].version_label if served else None
    previous = next((s for s in served if s.version_label != current and s.version_id), None)
    if previous is None:
        raise Conflict("This deployment has served no earlier version to roll back to.")
    deployment.version_id, deployment.version_label = previous.version_id, previous.version_label
    # A rollback pins the version: following the alias would undo it at the next move.
    deployment.follow_alias = False
    _start_attempt(deployment, "deploy", f"roll back to {previous.version_label}")
    return deployment


@transaction.atomic
def deployment_stop(*, deployment: Deployment) -> Deployment:
    """Cancel whatever the deployment is doing and take its endpoint down."""
    deployment = _locked(deployment)
    if deployment.state == State.STOPPED:
        return deployment
    _start_attempt(deployment, "stop", "stop requested")
    return deployment


@transaction.atomic
def deployment_delete(*, deployment: Deployment) -> bool:
    """Delete the record; a deployment that may still hold resources is stopped first
    and deleted by its job (returns False then: accepted, not done)."""
    deployment = _locked(deployment)
    if deployment.state == State.STOPPED or (
        deployment.state == State.FAILED and not deployment.runtime
    ):
        deployment.delete()
        return True
    _start_attempt(deployment, "delete", "delete requested")
    return False


def settled(deployment: Deployment) -> bool:
    return deployment.state in SETTLED


def predictions_logged(*, deployment: Deployment, request: dict, response: dict, latency_ms: float):
    """Hand relayed predictions to the monitoring ingest when the deployment names a
    monitor (option `monitor`): one record per row, the input tensor's columns as the
    monitor's features in schema order, the first output as the prediction. Returns the
    ingest's report (accepted, duplicates, rejected) or None when nothing is monitored."""
    name = deployment.options.get("monitor")
    if not isinstance(name, str) or not name:
        return None
    from apps.monitoring import selectors as monitoring_selectors
    from apps.monitoring import services as monitoring

    try:
        monitor = monitoring_selectors.monitor_get(deployment.team, name)
    except NotFound:
        return {"accepted": 0, "error": f"No monitor named {name!r} in this team."}
    tensor = request["inputs"][0] if isinstance(request["inputs"][0], dict) else {}
    data, shape = tensor.get("data"), tensor.get("shape")
    outputs = (response.get("outputs") or [{}])[0].get("data") or []
    if not isinstance(data, list) or not isinstance(shape, list) or len(shape) != 2:
        return {"accepted": 0, "error": "Only [rows, columns] input tensors are monitored."}
    flat = [v for row in data for v in row] if data and isinstance(data[0], list) else data
    rows, width = int(shape[0]), int(shape[1])
    names = [f["name"] for f in monitor.features][:width]
    batch = uuid.uuid4().hex[:16]
    records = [
        {
            "id": f"d{deployment.pk}-{batch}-{i}",
            "features": dict(zip(names, flat[i * width : (i + 1) * width], strict=False)),
            "prediction": outputs[i] if i < len(outputs) else None,
            "latency_ms": latency_ms / max(rows, 1),
        }
        for i in range(rows)
    ]
    return monitoring.predictions_log(
        team=deployment.team, monitor=monitor, body={"records": records}
    )
