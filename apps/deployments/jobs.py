"""The deployment job: what one Celery task does for one (deployment, attempt).

Guarantees:
- Idempotent per deployment and attempt: a job acts only while its attempt is the
  deployment's current one and it holds the lease (a compare-and-set on the row); a
  duplicate delivery, a stale job after a redeploy, or a job after the end returns
  without touching anything.
- Resumable: the lease lapses DEPLOYMENTS_LEASE_S after the holder's last heartbeat;
  `deployments.reconcile` re-sends the job of every unsettled deployment whose lease lapsed, and the
  next worker continues from the state and runtime recorded (a target adopts what its
  predecessor started: tests/deployments/test_jobs.py kills a worker mid-deploy).
- Per-team concurrency: at most DEPLOYMENTS_MAX_CONCURRENT jobs of a team work at once
  (taken under a team advisory lock); the others stay `pending` and retry.
- Cancellation: a stop (or a newer attempt) is seen by the running job at its next
  heartbeat, which stops it (Superseded) before the next step.

Not guaranteed: that a target's own side effects are undone when a job is superseded
mid-step; the next attempt's job starts from what was recorded in `runtime`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.deployments import events, packaging, secrets
from apps.deployments.models import SETTLED, WORKING, Deployment, ServedVersion, State
from apps.deployments.targets import TargetError, adapter

log = logging.getLogger(__name__)


def lease_s() -> float:
    return float(getattr(settings, "DEPLOYMENTS_LEASE_S", 30))


def max_concurrent() -> int:
    return int(getattr(settings, "DEPLOYMENTS_MAX_CONCURRENT", 2))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Superseded(Exception):
    """The deployment moved on (a newer attempt, or the lease was lost)."""


@dataclass
class Context:
    """What a target sees of the job: never the ORM row's credentials field."""

    deployment: Deployment
    attempt: int
    owner: str
    credentials: dict
    runtime: dict
    package: object = None
    _last_beat: float = field(default=0.0)

    def log(self, message: str, level: str = "info") -> None:
        events.record(self.deployment, "log", message, level)

    def heartbeat(self, wait: float = 0.0) -> None:
        """Extend the lease (raises Superseded when the attempt is no longer ours),
        then wait up to `wait` seconds (the polling pace of a waiting step)."""
        if wait:
            time.sleep(wait)
        now = timezone.now()
        updated = (
            Deployment.objects.for_team(self.deployment.team)
            .filter(pk=self.deployment.pk, attempt=self.attempt, lease_owner=self.owner)
            .update(lease_until=now + timedelta(seconds=lease_s()))
        )
        if not updated:
            raise Superseded()

    def save_runtime(self, runtime: dict) -> None:
        updated = (
            Deployment.objects.for_team(self.deployment.team)
            .filter(pk=self.deployment.pk, attempt=self.attempt, lease_owner=self.owner)
            .update(runtime=runtime, updated_at=timezone.now())
        )
        if not updated:
            raise Superseded()
        self.runtime = runtime
        self.deployment.runtime = runtime

    def stream_file(self, path: Path, offset: int) -> int:
        """Log the lines appended to `path` since `offset`; returns the new offset."""
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read(64 * 1024)
        except OSError:
            return offset
        end = chunk.rfind(b"\n")
        if end < 0:
            return offset
        for line in chunk[: end + 1].decode(errors="replace").splitlines():
            if line.strip():
                self.log(line.rstrip()[:1000])
        return offset + end + 1


def _claim(team, deployment_id: int, attempt: int, owner: str) -> tuple[str, Deployment | None]:
    """("go", row) with the lease taken; ("wait", None) when a slot or the lease is
    busy; ("skip", None) when there is nothing for this attempt to do."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x6465706C, team.pk])
        deployment = (
            Deployment.objects.for_team(team).select_for_update().filter(pk=deployment_id).first()
        )
        if deployment is None or deployment.attempt != attempt or deployment.state in SETTLED:
            return "skip", None
        now = timezone.now()
        if (
            deployment.lease_until
            and deployment.lease_until > now
            and deployment.lease_owner != owner
        ):
            return "wait", None  # a live job (maybe of an older attempt) is finishing
        busy = (
            Deployment.objects.for_team(team)
            .filter(state__in=WORKING, lease_until__gt=now)
            .exclude(pk=deployment.pk)
            .count()
        )
        if busy >= max_concurrent() and deployment.state == State.PENDING:
            return "wait", None
        deployment.lease_owner = owner
        deployment.lease_until = now + timedelta(seconds=lease_s())
        deployment.save(update_fields=["lease_owner", "lease_until"])
        deployment.team = team
        return "go", deployment


def _set_state(ctx: Context, state: str, message: str = "", **extra) -> None:
    with transaction.atomic():
        updated = (
            Deployment.objects.for_team(ctx.deployment.team)
            .filter(pk=ctx.deployment.pk, attempt=ctx.attempt, lease_owner=ctx.owner)
            .update(state=state, updated_at=timezone.now(), **extra)
        )
        if not updated:
            raise Superseded()
        ctx.deployment.state = state
        for key, value in extra.items():
            setattr(ctx.deployment, key, value)
        events.record(ctx.deployment, "state", f"{state}{': ' + message if message else ''}")


def _release(team, deployment_id: int, owner: str) -> None:
    Deployment.objects.for_team(team).filter(pk=deployment_id, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def _record_served(ctx: Context) -> None:
    deployment = ctx.deployment
    now = timezone.now()
    open_rows = ServedVersion.objects.for_team(deployment.team).filter(
        deployment=deployment, ended_at__isnull=True
    )
    same = open_rows.filter(version_label=deployment.version_label).first()
    if same is not None:
        return
    open_rows.update(ended_at=now)
    ServedVersion.objects.for_team(deployment.team).get_or_create(
        team=deployment.team,
        deployment=deployment,
        attempt=ctx.attempt,
        defaults={
            "version_id": deployment.version_id,
            "version_label": deployment.version_label,
            "started_at": now,
        },
    )


def _deploy(ctx: Context) -> None:
    deployment = ctx.deployment
    target = adapter(deployment.platform)
    if deployment.version_id is None:
        raise TargetError(f"The version {deployment.version_label} was deleted.")
    if deployment.state == State.PENDING:
        _set_state(ctx, State.PACKAGING, deployment.version_label)
    if deployment.state == State.PACKAGING:
        try:
            ctx.package = packaging.build(
                deployment.team, deployment.version, deployment.options, ctx.log
            )
        except packaging.PackagingError as exc:
            raise TargetError(str(exc)) from None
        ctx.heartbeat()
        _set_state(ctx, State.DEPLOYING, deployment.platform, package_id=ctx.package.pk)
    else:  # resumed in `deploying`: the package was built by the job before
        ctx.package = deployment.package or packaging.build(
            deployment.team, deployment.version, deployment.options, ctx.log
        )
    url = target.deploy(ctx)
    with transaction.atomic():
        _set_state(ctx, State.HEALTHY, url, url=url, healthy_at=timezone.now(), error="")
        _record_served(ctx)


def _stop(ctx: Context) -> None:
    target = None
    with contextlib.suppress(TargetError):
        target = adapter(ctx.deployment.platform)
    if target is not None and ctx.runtime:
        target.stop(ctx)
    now = timezone.now()
    with transaction.atomic():
        if ctx.deployment.action == "delete":
            Deployment.objects.for_team(ctx.deployment.team).filter(
                pk=ctx.deployment.pk, attempt=ctx.attempt, lease_owner=ctx.owner
            ).delete()
            return
        _set_state(ctx, State.STOPPED, url="")
        ServedVersion.objects.for_team(ctx.deployment.team).filter(
            deployment=ctx.deployment, ended_at__isnull=True
        ).update(ended_at=now)


def run(team, deployment_id: int, attempt: int, owner: str | None = None) -> str:
    """One job: "done", "failed", "skip", "wait" (the caller retries later) or
    "superseded"."""
    owner = owner or worker_id()
    outcome, deployment = _claim(team, deployment_id, attempt, owner)
    if outcome != "go":
        return outcome
    ctx = Context(
        deployment=deployment,
        attempt=attempt,
        owner=owner,
        credentials={},
        runtime=dict(deployment.runtime or {}),
    )
    try:
        ctx.credentials = secrets.decrypt(deployment.credentials_encrypted)
        if deployment.action in ("stop", "delete"):
            _stop(ctx)
        else:
            _deploy(ctx)
        return "done"
    except Superseded:
        return "superseded"
    except (TargetError, ValueError) as exc:
        _fail(ctx, str(exc))
        return "failed"
    except Exception as exc:
        log.error("deployment %s attempt %s: %s", deployment_id, attempt, traceback.format_exc())
        _fail(ctx, f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        _release(team, deployment_id, owner)


def _fail(ctx: Context, message: str) -> None:
    with contextlib.suppress(Superseded):
        _set_state(ctx, State.FAILED, message.splitlines()[0][:300], error=message[:4000])


def pending(team) -> list[tuple[int, int]]:
    """(id, attempt) of this team's deployments waiting for a slot (their jobs retry;
    a finished job sends them again at once)."""
    waiting = Deployment.objects.for_team(team).filter(state=State.PENDING, lease_owner="")
    return list(waiting.values_list("pk", "attempt")[: max_concurrent()])


def lapsed(team, stale_after_s: float | None = None) -> list[tuple[int, int]]:
    """(id, attempt) of each unsettled deployment of `team` whose lease lapsed (its
    worker died) or that waited unclaimed: the jobs to send again."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_after_s if stale_after_s is not None else lease_s())
    rows = (
        Deployment.objects.for_team(team)
        .exclude(state__in=SETTLED)
        .filter(Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=stale))
    )
    return list(rows.values_list("pk", "attempt"))
