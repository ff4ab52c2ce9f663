"""Sweeps API routes (docs/sweeps.md), mounted under /api/v1/teams/<team>/projects/<project>/.
Each name is classified in apps/core/policy.py ("--- API: sweeps")."""

from django.urls import path

from apps.sweeps import api_views as v

SWEEP = "sweeps/<sweep_id:sweep>"

urlpatterns = [
    path("sweeps", v.SweepListView.as_view(), name="sweep-list"),
    # A sweep that ran offline (gradline agent --local), uploaded by `gradline sync`.
    path("sweeps/import", v.SweepImportView.as_view(), name="sweep-import"),
    path(SWEEP, v.SweepDetailView.as_view(), name="sweep-detail"),
    path(f"{SWEEP}/next", v.SweepNextView.as_view(), name="sweep-next"),
    path(f"{SWEEP}/trials/<run_uid:run>/stop", v.TrialStopView.as_view(), name="sweep-trial-stop"),
    path(
        # `trial`, not `run`: this writes the sweep's ledger (sweeps:write), not the run.
        f"{SWEEP}/trials/<run_uid:trial>/preempting",
        v.TrialPreemptingView.as_view(),
        name="sweep-trial-preempting",
    ),
]
