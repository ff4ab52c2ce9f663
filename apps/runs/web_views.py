"""Run pages (docs/workspace.md "Web pages"): one run, and several runs compared.

TeamScopeMiddleware has already resolved the team and project from the URL through the
policy table and checked runs:read (else 404 / 403 before these views run); the run is
looked up through the team-scoped selector, so another team's run is a 404. The pages
only read: edits (name, notes, tags) and deletion go from the browser to the run API,
where the run services apply their ownership rules to every write.
"""

from __future__ import annotations

from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from apps.comments.pages import panel_config as comments_panel
from apps.projects.web_views import project_context
from apps.runs import web_selectors
from apps.runs.selectors import runs as run_selectors
from apps.runs.serializers import run_out


def run_detail(request, team, project, run):
    scope = request.team_scope
    target = run_selectors.run_get(scope.team, scope.project, run)
    page = web_selectors.run_page(
        scope.team,
        scope.project,
        target,
        membership=scope.membership,
        user=request.user,
        permissions=scope.permissions,
    )
    data = {
        "api_base": web_selectors.api_base(scope.team, scope.project),
        "ws_path": f"/ws/teams/{scope.team.slug}/projects/{scope.project.name}/runs/{target.uid}",
        "csrf": get_token(request),
        "run": run_out(target, ["id", "name", "state", "created_at", "runtime", "tags", "notes"]),
        "finished_at": target.finished_at.isoformat() if target.finished_at else None,
        "console_next": target.console_next,
        "metric_keys": page.metric_keys,
        "system_keys": page.system_keys,
        "can_edit": page.can_edit,
        "can_delete": page.can_delete,
        "project_url": reverse(
            "web:project-detail", kwargs={"team": scope.team.slug, "project": scope.project.name}
        ),
    }
    context = project_context(request, "overview", page=page, run=target, page_data=data)
    context["comments_config"] = comments_panel(request, "run", run=target.uid)
    return render(request, "runs/run_detail.html", context)


def _requested_uids(request) -> list[str]:
    """`?runs=a,b` or `?runs=a&runs=b` (the picker's checkboxes), in order, once each."""
    uids: list[str] = []
    for value in request.GET.getlist("runs"):
        for part in value.split(","):
            uid = part.strip()
            if uid and uid not in uids and len(uid) <= 64:
                uids.append(uid)
    return uids[:100]


def run_compare(request, team, project):
    scope = request.team_scope
    uids = _requested_uids(request)
    too_many = len(uids) > web_selectors.MAX_COMPARED
    comparison = web_selectors.compare_runs(scope.team, scope.project, uids)
    context = project_context(
        request,
        "overview",
        comparison=comparison,
        requested=uids,
        too_many=too_many,
        max_compared=web_selectors.MAX_COMPARED,
    )
    if len(comparison.runs) >= 2:
        context["page_data"] = {
            "api_base": web_selectors.api_base(scope.team, scope.project),
            "runs": [{"id": run.uid, "name": run.name or run.uid} for run in comparison.runs],
            "metric_keys": comparison.metric_keys,
        }
    else:
        context["candidates"] = web_selectors.compare_candidates(scope.team, scope.project)
    return render(request, "runs/run_compare.html", context)
