"""Sweeps and their trials (DESIGN.md §3; docs/sweeps.md "Sweeps on the server").

A trial is one suggested run: the server picks its run id, the agent starts the run with
it. Trial state and metric mirror the run once it exists; `stopped` (early termination)
is stored and sticks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel
from apps.runs.models import RunJSONField


class SweepState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class TrialState(models.TextChoices):
    PENDING = "pending", "Pending"  # suggested; no run with its id yet
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"
    CRASHED = "crashed", "Crashed"
    STOPPED = "stopped", "Stopped"  # early termination said stop
    PREEMPTED = "preempted", "Preempted"  # marked preempting, then its run ended unfinished
    # Its run crashed or was preempted with attempts left: the next agent re-runs it
    # (same run id and params; the run resumes).
    REQUEUED = "requeued", "Re-queued"


class Sweep(TeamOwnedModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    uid = models.CharField(max_length=8)  # the client-visible sweep id
    name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    method = models.CharField(max_length=16)
    config = RunJSONField(default=dict)
    metric_name = models.CharField(max_length=256, blank=True)
    metric_goal = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=16, choices=SweepState.choices, default=SweepState.RUNNING)
    run_cap = models.IntegerField(null=True, blank=True)
    # Bumped whenever a trial's stored state or metric changes: the history a queued
    # suggestion was computed from (SweepSuggestion.basis).
    history_version = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "uid"], name="sweep_unique_uid")]
        indexes = [models.Index(fields=["project", "-created_at"], name="sweep_project_created")]

    def __str__(self) -> str:
        return self.name or self.uid


class SweepTrial(TeamOwnedModel):
    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="+")
    # Denormalised from the sweep so that a run id is unique per project across sweeps.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    run_uid = models.CharField(max_length=64)
    params = RunJSONField(default=dict)
    state = models.CharField(max_length=16, choices=TrialState.choices, default=TrialState.PENDING)
    metric = models.FloatField(null=True, blank=True)
    stop_reason = models.CharField(max_length=512, blank=True)
    agent = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Times handed out (1 + re-runs). attempt_at: when the current attempt was handed out;
    # the run counts for this attempt once it beats after that (it resumed).
    attempts = models.IntegerField(default=1)
    attempt_at = models.DateTimeField(null=True, blank=True)
    # run.mark_preempting() (or SIGTERM to the agent) during the current attempt.
    preempting = models.BooleanField(default=False)
    # Early termination's summary of the run: {milestone: its milestone-th finite value of
    # the sweep's metric}, read from the history once per milestone (they never change).
    milestones = RunJSONField(default=dict)
    # An existing run the sweep was seeded with (`prior_runs`): the engines learn from it;
    # it was never handed out, so it is not re-run and run_cap does not count it.
    prior = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # A handed-out run id belongs to one sweep of the project; a prior run may seed
            # several sweeps, once each.
            models.UniqueConstraint(
                fields=["project", "run_uid"],
                condition=models.Q(prior=False),
                name="sweeptrial_unique_run",
            ),
            models.UniqueConstraint(fields=["sweep", "run_uid"], name="sweeptrial_unique_in_sweep"),
        ]
        indexes = [models.Index(fields=["sweep", "created_at"], name="sweeptrial_sweep_created")]


class SweepSuggestion(TeamOwnedModel):
    """A suggestion the Celery controller computed ahead (apps/sweeps/controller.py):
    `next` hands out the lowest position first. The whole queue is replaced at once."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="+")
    position = models.IntegerField()
    params = RunJSONField(default=dict)
    basis = models.IntegerField()  # the sweep's history_version it was computed from
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["sweep", "position"], name="sweepsuggestion_sweep_pos")]
