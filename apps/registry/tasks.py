"""Periodic registry jobs (Celery beat, see CELERY_BEAT_SCHEDULE). Tasks take ids, act
inside one team's scope and are idempotent."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.core.tasks import team_task
from apps.registry import services
from apps.registry.models import ArtifactBlob, ArtifactVersion, RegisteredModelVersion


def _per_team(rows, team_task_) -> int:
    """Send `team_task_` once for each team holding one of `rows`; how many were sent."""
    team_ids = list(rows.values_list("team_id", flat=True).distinct())
    for team_id in team_ids:
        team_task_.delay(team_id)
    return len(team_ids)


@shared_task(name="registry.collect_blob_garbage")
def collect_blob_garbage() -> int:
    """Fan out one `collect_team_blobs` per team holding blobs old enough to collect."""
    cutoff = timezone.now() - timedelta(seconds=settings.ARTIFACT_BLOB_GRACE_S)
    return _per_team(
        ArtifactBlob.objects.across_teams().filter(created_at__lt=cutoff), collect_team_blobs
    )


@team_task(name="registry.collect_team_blobs")
def collect_team_blobs(team) -> int:
    return services.blobs_collect_garbage(team=team, grace_s=settings.ARTIFACT_BLOB_GRACE_S)


@shared_task(name="registry.expire_artifact_versions")
def expire_artifact_versions() -> int:
    """Fan out one `expire_team_artifact_versions` per team holding a version whose
    time-to-live has run out (W&B's Artifact.ttl; docs/registry.md)."""
    expired = (
        ArtifactVersion.objects.across_teams()
        .filter(expires_at__lte=timezone.now())
        .exclude(pk__in=RegisteredModelVersion.objects.across_teams().values("source_id"))
    )
    return _per_team(expired, expire_team_artifact_versions)


@team_task(name="registry.expire_team_artifact_versions")
def expire_team_artifact_versions(team) -> int:
    return services.versions_expire(team=team)
