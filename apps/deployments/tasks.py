"""Celery entry points of deployments (thin: apps/deployments/jobs.py does the work).

Acked late and re-queued when the worker is lost, so a killed worker's job runs again
elsewhere; `deployments.reconcile` (beat) also re-sends jobs whose lease lapsed."""

from __future__ import annotations

from celery import shared_task

from apps.deployments import attempts, jobs

SLOT_RETRY_S = 2


@shared_task(
    name="deployments.job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def deployment_job(self, team_id: int, deployment_id: int, attempt: int) -> str | None:
    """The job of one attempt, in the team's scope (as apps.core.tasks.team_task, which
    does not bind; the retry needs the bound task)."""
    from apps.teams.models import Team

    team = Team.objects.filter(pk=int(team_id)).first()
    if team is None:
        return None
    outcome = jobs.run(team, int(deployment_id), int(attempt))
    if outcome == "wait":
        raise self.retry(countdown=SLOT_RETRY_S)
    if outcome in ("done", "failed"):
        _send(team, jobs.pending(team))  # a slot came free
    return outcome


def _send(team, pairs) -> int:
    for pk, attempt in pairs:
        deployment_job.delay(team.pk, pk, attempt)
    return len(pairs)


def resend_lapsed(team) -> int:
    """Send again the jobs whose worker died (lease lapsed); returns how many."""
    return _send(team, jobs.lapsed(team))


def _each_team(action) -> int:
    from apps.deployments.models import Deployment
    from apps.teams.models import Team

    total = 0
    team_ids = Deployment.objects.across_teams().values_list("team_id", flat=True).distinct()
    for team in Team.objects.filter(pk__in=list(team_ids)):
        total += action(team)
    return total


def _reconcile() -> int:
    return _each_team(resend_lapsed)


def _follow() -> int:
    return _each_team(lambda team: _send(team, attempts.follow_aliases(team)))


@shared_task(name="deployments.reconcile")
def reconcile() -> int:
    """Resume deployments whose job died with its worker (lease lapsed)."""
    return _reconcile()


@shared_task(name="deployments.follow_aliases")
def follow_aliases() -> int:
    """Redeploy deployments that follow an alias which moved (docs/deployments.md)."""
    return _follow()
