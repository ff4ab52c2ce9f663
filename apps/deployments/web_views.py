"""Deployment pages (templates/deployments): the team's list and one deployment with
its history and live logs (static/js/deployments.js over ws:deployment-events).
Thin: selectors to read, services to act (apps/core/htmx.perform)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from apps.core.htmx import perform
from apps.deployments import selectors, services
from apps.teams import roles


def _context(request, **extra) -> dict:
    scope = request.team_scope
    return {
        "team": scope.team,
        "section": "deployments",
        "can_deploy": scope.has(roles.DEPLOYMENTS_WRITE),
        **extra,
    }


def deployment_list(request, team):
    rows = selectors.deployments_list(request.team_scope.team)
    return render(request, "deployments/deployment_list.html", _context(request, deployments=rows))


def _page(deployment):
    def page(request, status=200, fragment=False, form_data=None):
        team = request.team_scope.team
        fresh = selectors.deployment_get(team, deployment.pk)
        events = selectors.deployment_events(team, fresh)[-200:]
        context = _context(
            request,
            deployment=fresh,
            history=selectors.deployment_history(team, fresh),
            events=events,
            last_event_id=events[-1].pk if events else 0,
        )
        return render(request, "deployments/deployment_detail.html", context, status=status)

    return page


def _url(deployment) -> str:
    return reverse(
        "web:deployment-detail",
        kwargs={"team": deployment.team.slug, "deployment_id": deployment.pk},
    )


def deployment_detail(request, team, deployment_id):
    deployment = selectors.deployment_get(request.team_scope.team, deployment_id)
    return _page(deployment)(request)


def deployment_rollback(request, team, deployment_id):
    deployment = selectors.deployment_get(request.team_scope.team, deployment_id)
    return perform(
        request,
        _page(deployment),
        lambda: services.deployment_rollback(deployment=deployment),
        success=lambda d: f"Rolling back {d.endpoint_name} to {d.version_label}.",
        redirect_to=_url(deployment),
    )


def deployment_stop(request, team, deployment_id):
    deployment = selectors.deployment_get(request.team_scope.team, deployment_id)
    return perform(
        request,
        _page(deployment),
        lambda: services.deployment_stop(deployment=deployment),
        success=f"Stopping {deployment.endpoint_name}.",
        redirect_to=_url(deployment),
    )
