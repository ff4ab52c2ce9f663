"""Sweep pages under /<team>/<project>/sweeps (the URL the SDK prints for a new sweep).
Each name is classified in apps/core/policy.py ("--- web: sweeps")."""

from django.urls import path

from apps.sweeps import web_views as v

PROJECT = "<team_slug:team>/<project_name:project>"
SWEEP = f"{PROJECT}/sweeps/<sweep_id:sweep>"

urlpatterns = [
    path(f"{PROJECT}/sweeps", v.sweep_list, name="sweep-list"),
    path(SWEEP, v.sweep_detail, name="sweep-detail"),
    path(f"{SWEEP}/state", v.sweep_state, name="sweep-state"),
]
