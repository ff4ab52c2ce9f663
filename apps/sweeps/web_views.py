"""Sweep pages (docs/sweeps.md "Web pages"): a project's sweeps, and one sweep with its
controls, config, best trial, trials table and charts.

TeamScopeMiddleware has already checked the route's permission (apps/core/policy.py):
the state form posts to a route that needs sweeps:write, so a viewer gets 403 before
these views run. The sweep named by the URL is looked up before the form is read, so
another team's sweep is a 404 whatever the form holds. apps/core/htmx.py fixes how
success and errors are answered.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from apps.comments.pages import panel_config as comments_panel
from apps.core.htmx import perform
from apps.core.web_input import form_text
from apps.projects.web_views import project_context
from apps.sweeps import selectors, services, web_selectors
from apps.sweeps.models import SweepState
from apps.teams import roles

# What each control button says it did.
STATE_MESSAGES = {
    SweepState.RUNNING: "Sweep resumed: agents get new trials again.",
    SweepState.PAUSED: "Sweep paused: agents get no new trials until it is resumed.",
    SweepState.FINISHED: "Sweep finished: agents get no new trials; running trials complete.",
    SweepState.CANCELLED: "Sweep cancelled: running trials are told to stop.",
}


def _project_context(request, **extra) -> dict:
    """The project page context on the Sweeps tab, with the sweep controls' permission."""
    scope = request.team_scope
    return project_context(request, "sweeps", can_control=scope.has(roles.SWEEPS_WRITE), **extra)


def sweep_list(request, team, project):
    scope = request.team_scope
    rows = web_selectors.sweeps_table(scope.team, scope.project)
    return render(request, "sweeps/sweep_list.html", _project_context(request, rows=rows))


def _sweep_page(sweep):
    """A page renderer for `perform`: the sweep page, or its header fragment for htmx."""

    def page(request, status=200, fragment=False, form_data=None):
        team = request.team_scope.team
        context = _project_context(request, sweep=sweep, fragment=fragment)
        if fragment:
            return render(request, "sweeps/partials/sweep_header.html", context, status=status)
        context["page"] = web_selectors.sweep_page(team, sweep)
        context["comments_config"] = comments_panel(request, "sweep", sweep=sweep.uid)
        return render(request, "sweeps/sweep_detail.html", context, status=status)

    return page


def sweep_detail(request, team, project, sweep):
    scope = request.team_scope
    return _sweep_page(selectors.sweep_get(scope.team, scope.project, sweep))(request)


def sweep_state(request, team, project, sweep):
    """Pause, resume, finish or cancel: the form's `state` is the sweep's new state."""
    scope = request.team_scope
    target = selectors.sweep_get(scope.team, scope.project, sweep)
    holder = {"sweep": target}

    def change():
        state = form_text(request, "state", max_length=16)
        holder["sweep"] = services.sweep_update_state(sweep=target, state=state)
        return holder["sweep"]

    def page(request, **kwargs):
        return _sweep_page(holder["sweep"])(request, **kwargs)

    return perform(
        request,
        page,
        change,
        success=lambda updated: STATE_MESSAGES[updated.state],
        redirect_to=_sweep_url(target),
    )


def _sweep_url(sweep) -> str:
    kwargs = {"team": sweep.team.slug, "project": sweep.project.name, "sweep": sweep.uid}
    return reverse("web:sweep-detail", kwargs=kwargs)
