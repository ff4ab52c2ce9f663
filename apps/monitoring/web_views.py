"""The team's Monitoring section: the list of monitors and one monitor's dashboard. The
page is a shell; static/js/monitoring.js draws it from the metrics, drift and alerts
API routes (aggregates only), and polls for new windows while predictions stream in."""

from __future__ import annotations

from django.shortcuts import render

from apps.monitoring import selectors


def monitor_list(request, team):
    scope = request.team_scope
    return render(
        request,
        "monitoring/list.html",
        {
            "team": scope.team,
            "section": "monitoring",
            "monitors": selectors.monitors_list(scope.team),
        },
    )


def monitor_detail(request, team, monitor):
    scope = request.team_scope
    found = selectors.monitor_get(scope.team, monitor)
    return render(
        request,
        "monitoring/detail.html",
        {
            "team": scope.team,
            "section": "monitoring",
            "monitor": found,
            "rules": selectors.rules(scope.team, found),
            "incidents": selectors.incidents(scope.team, found, limit=50),
            "features": found.features,
        },
    )
