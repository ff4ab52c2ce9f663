"""Run pages under /<team>/<project>/: one run at runs/<id> (the URL the SDK prints and
the API's `url` field names) and the comparison at compare?runs=a,b.
Each name is classified in apps/core/policy.py ("--- web: runs")."""

from django.urls import path

from apps.runs import web_views as v

PROJECT = "<team_slug:team>/<project_name:project>"

urlpatterns = [
    path(f"{PROJECT}/runs/<run_uid:run>", v.run_detail, name="run-detail"),
    path(f"{PROJECT}/compare", v.run_compare, name="run-compare"),
]
