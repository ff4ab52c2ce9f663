"""Report pages (templates/reports; docs/collaboration.md "Reports"): the project's list,
the live view, the editor, versions, sharing, and the read-only page of a share link.
Writes go through apps.reports.services, as the API's do."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.comments.pages import panel_config as comments_panel
from apps.core.access import open_scope
from apps.core.errors import DomainError
from apps.projects.selectors import views_list
from apps.projects.web_views import project_context
from apps.reports import document, presenters, selectors, services
from apps.runs.selectors import runs as run_selectors
from apps.teams import roles


def _report(request, report_id: int):
    scope = request.team_scope
    return selectors.report_get(
        scope.team, scope.project, report_id, actor=scope.actor, permissions=scope.permissions
    )


def _api_base(team, project) -> str:
    runs = reverse("api:run-list", kwargs={"team": team.slug, "project": project.name})
    return runs.removesuffix("/runs")


def panel_data(request, team, project, blocks, *, report=None, live: bool = True) -> dict:
    """What static/js/report.js needs (json_script): the panels and where to read them."""
    base = _api_base(team, project)
    data = {
        "api_base": base,
        "ws_path": f"/ws{base.removeprefix('/api/v1')}/events" if live else None,
        "run_url": reverse(
            "web:project-detail", kwargs={"team": team.slug, "project": project.name}
        )
        + "runs/",
        "panels": {str(b.index): b.panel for b in blocks if b.kind == "panel"},
        "csrf": get_token(request),
    }
    if report is not None:
        data["exports"] = reverse(
            "api:report-export-list",
            kwargs={"team": team.slug, "project": project.name, "report_id": report.pk},
        )
    return data


def _urls(team, project, report) -> dict:
    kwargs = {"team": team.slug, "project": project.name, "report_id": report.pk}
    return {
        name: reverse(f"web:report-{name}", kwargs=kwargs)
        for name in ("detail", "edit", "versions", "share", "delete")
    }


def report_list(request, team, project):
    scope = request.team_scope
    if request.method == "POST":
        try:
            report = services.report_create(
                team=scope.team,
                project=scope.project,
                actor=scope.actor,
                data={
                    "title": request.POST.get("title", ""),
                    "description": request.POST.get("description", ""),
                    "body": f"# {request.POST.get('title', '').strip()}\n\n",
                },
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(_urls(scope.team, scope.project, report)["edit"])
    rows = selectors.reports_visible(
        scope.team, scope.project, actor=scope.actor, permissions=scope.permissions
    )
    context = project_context(request, "reports", reports=rows)
    status = 400 if request.method == "POST" else 200
    return render(request, "reports/list.html", context, status=status)


def report_detail(request, team, project, report_id):
    scope = request.team_scope
    report = _report(request, report_id)
    blocks = document.blocks(report.body)
    manage = services.may_manage(report, scope.actor, scope.permissions)
    context = project_context(
        request,
        "reports",
        report=report,
        blocks=blocks,
        urls=_urls(scope.team, scope.project, report),
        page_data=panel_data(request, scope.team, scope.project, blocks, report=report),
        can_manage=manage,
        share_url=request.build_absolute_uri(presenters.share_path(report))
        if manage and report.publish_token
        else None,
        latest_export=selectors.export_latest(scope.team, report),
    )
    context["comments_config"] = comments_panel(request, "report", report_id=report.pk)
    return render(request, "reports/detail.html", context)


def report_edit(request, team, project, report_id):
    scope = request.team_scope
    report = _report(request, report_id)
    status = 200
    draft = {"title": report.title, "body": report.body, "base_version": report.version}
    if request.method == "POST":
        base = request.POST.get("base_version", "")
        draft = {
            "title": request.POST.get("title", ""),
            "body": request.POST.get("body", "").replace("\r\n", "\n"),
            "base_version": int(base) if base.isdigit() and len(base) < 10 else None,
        }
        try:
            services.report_update(
                report=report, actor=scope.actor, permissions=scope.permissions, data=draft
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
        else:
            messages.success(request, "Report saved.")
            return redirect(_urls(scope.team, scope.project, report)["detail"])
    views = [
        {"id": v.pk, "name": v.name, "spec": v.spec} for v in views_list(scope.team, scope.project)
    ]
    data = {
        "keys": run_selectors.project_metric_keys(scope.team, scope.project)[:2000],
        "views": views,
    }
    context = project_context(
        request,
        "reports",
        report=report,
        draft=draft,
        urls=_urls(scope.team, scope.project, report),
        editor_data=data,
    )
    return render(request, "reports/edit.html", context, status=status)


def report_versions(request, team, project, report_id):
    scope = request.team_scope
    report = _report(request, report_id)
    context = project_context(
        request,
        "reports",
        report=report,
        versions=selectors.versions(scope.team, report),
        urls=_urls(scope.team, scope.project, report),
    )
    return render(request, "reports/versions.html", context)


def report_version_detail(request, team, project, report_id, version):
    scope = request.team_scope
    report = _report(request, report_id)
    found = selectors.version_get(scope.team, report, version)
    blocks = document.blocks(found.body)
    context = project_context(
        request,
        "reports",
        report=report,
        version=found,
        blocks=blocks,
        urls=_urls(scope.team, scope.project, report),
        page_data=panel_data(request, scope.team, scope.project, blocks, live=False),
    )
    return render(request, "reports/version_detail.html", context)


def report_version_restore(request, team, project, report_id, version):
    scope = request.team_scope
    report = _report(request, report_id)
    found = selectors.version_get(scope.team, report, version)
    services.report_restore(report=report, version=found, actor=scope.actor)
    messages.success(request, f"Version {found.number} restored as the newest version.")
    return redirect(_urls(scope.team, scope.project, report)["detail"])


def report_share(request, team, project, report_id):
    """One form: sharing (private / team) and publish / unpublish by link."""
    scope = request.team_scope
    report = _report(request, report_id)
    action = request.POST.get("action", "")
    try:
        if action == "publish":
            services.report_publish(report=report, actor=scope.actor, permissions=scope.permissions)
            messages.success(request, "Published: whoever may read this project opens the link.")
        elif action == "unpublish":
            services.report_unpublish(
                report=report, actor=scope.actor, permissions=scope.permissions
            )
            messages.success(request, "The link no longer works.")
        else:
            services.report_update(
                report=report,
                actor=scope.actor,
                permissions=scope.permissions,
                data={"sharing": request.POST.get("sharing", "")},
            )
            messages.success(request, "Sharing saved.")
    except DomainError as exc:
        messages.error(request, exc.message)
        if exc.status == 403:
            raise
    return redirect(_urls(scope.team, scope.project, report)["detail"])


def report_delete(request, team, project, report_id):
    scope = request.team_scope
    report = _report(request, report_id)
    services.report_delete(report=report, actor=scope.actor, permissions=scope.permissions)
    messages.success(request, f"Report {report.title} deleted.")
    return redirect(reverse("web:report-list", kwargs={"team": team, "project": project}))


def report_shared(request, share_token):
    """A published report by its secret link: the published version, read-only.

    The link grants nothing beyond the project's visibility: the reader must be allowed
    to read the project exactly as on its own pages (open_scope with the report page's
    policy entry) — anyone on a public or open project; on a team or restricted project,
    a signed-in member who may see it. Anyone else gets a 404 (a signed-out reader the
    sign-in page first, for any token, so the answer tells nothing about the link). The
    panels then read their data through the API with the reader's own rights."""
    report = selectors.report_by_token(share_token)
    user = request.user
    try:
        if report is None:
            raise Http404
        scope = open_scope(
            route_name="web:report-detail",
            method="GET",
            user=user,
            team_slug=report.team.slug,
            project_name=report.project.name,
        )
    except (DomainError, Http404):
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404("Report not found.") from None
    if scope.project is None or scope.project.pk != report.project_id:
        raise Http404("Report not found.")
    version = selectors.version_get(report.team, report, report.published_version)
    blocks = document.blocks(version.body)
    context = {
        "team": report.team,
        "project": report.project,
        "report": report,
        "version": version,
        "blocks": blocks,
        "section": "projects",
        "is_member": scope.membership is not None,
        "can_write": scope.has(roles.PROJECTS_WRITE),
        "page_data": panel_data(request, report.team, report.project, blocks),
    }
    return render(request, "reports/shared.html", context)
