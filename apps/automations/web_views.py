"""The team's automations page: rules (on projects the caller may see) and their recent
firings; admins add and remove rules here (the API takes every option)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.automations import hooks, selectors, services
from apps.automations.api_views import AutomationsView
from apps.automations.models import Action, Trigger
from apps.core.errors import DomainError
from apps.teams import roles


def _context(request, **extra):
    scope = request.team_scope
    rows = selectors.automations_visible(scope.team, membership=scope.membership, user=request.user)
    return {
        "team": scope.team,
        "section": "automations",
        "automations": rows,
        "firings": selectors.firings_recent(scope.team, rows),
        "can_manage": scope.has(roles.TEAM_MANAGE),
        "triggers": Trigger.choices,
        "actions": Action.choices,
        **extra,
    }


class _Scoper(AutomationsView):
    """The API's project / registered-model lookup, for a web request."""

    def __init__(self, request):
        self.request = request
        self.scope = request.team_scope


def automation_list(request, team):
    scope = request.team_scope
    if request.method == "POST":
        try:
            condition = json.loads(request.POST.get("condition") or "{}")
            config = json.loads(request.POST.get("action_config") or "{}")
        except ValueError:
            messages.error(request, "condition and action config must be JSON objects.")
            return render(request, "automations/list.html", _context(request), status=400)
        data = {
            "name": request.POST.get("name", ""),
            "trigger": request.POST.get("trigger"),
            "condition": condition,
            "action": request.POST.get("action"),
            "action_config": config,
        }
        target = request.POST.get("target", "")
        kind, _, name = target.partition(":")
        data["registered_model" if kind == "model" else "project"] = name
        try:
            automation = services.automation_save(
                team=scope.team,
                automation=None,
                data=data,
                actor=request.user,
                scope_of=_Scoper(request).scope_of,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return render(request, "automations/list.html", _context(request), status=exc.status)
        hooks.rules_changed(scope.team.pk, automation.project_id)
        messages.success(request, f"Automation {automation.name} added.")
        return redirect(reverse("web:automation-list", kwargs={"team": scope.team.slug}))
    return render(request, "automations/list.html", _context(request))


def automation_delete(request, team, automation_id):
    scope = request.team_scope
    automation = _Scoper(request).visible(automation_id)
    services.automation_delete(automation=automation)
    hooks.rules_changed(scope.team.pk, automation.project_id)
    messages.success(request, "Automation removed.")
    return redirect(reverse("web:automation-list", kwargs={"team": scope.team.slug}))
