"""Project pages: list and create, a project's overview, and its settings.

TeamScopeMiddleware has already resolved the team and project from the URL through the
policy table: `request.team_scope.project` is visible to the caller and the method's
permission is held (else 404 / 403 before the view runs).
"""

from __future__ import annotations

from django.contrib import messages
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.core.errors import DomainError
from apps.core.htmx import perform
from apps.core.web_input import form_text
from apps.projects import selectors, services
from apps.projects.models import Visibility
from apps.teams import roles


def _visibility_choices(scope, current: str | None = None) -> list[tuple[str, str]]:
    """Public and open expose a project outside the team: offered to team admins only
    (the service enforces it; this keeps the form honest). The current value stays."""
    if scope.has(roles.TEAM_MANAGE):
        return Visibility.choices
    return [
        (v, label) for v, label in Visibility.choices if v not in services.EXPOSED or v == current
    ]


def _project_list_page(request, status=200, fragment=False, form_data=None):
    scope = request.team_scope
    projects = selectors.projects_visible(
        scope.team, membership=scope.membership, user=request.user
    )
    return render(
        request,
        "projects/project_list.html",
        {
            "team": scope.team,
            "projects": projects,
            "can_create": scope.has(roles.PROJECTS_WRITE),
            "visibility_choices": _visibility_choices(scope),
            "form_data": form_data,
            # Open the "new project" form right away after a failed attempt.
            "form_open": form_data is not None,
            "section": "projects",
        },
        status=status,
    )


def project_list(request, team):
    scope = request.team_scope
    if request.method == "POST":
        return perform(
            request,
            _project_list_page,
            lambda: services.project_create(
                team=scope.team,
                name=form_text(request, "name"),
                actor=request.user,
                description=form_text(request, "description", max_length=10_000),
                visibility=form_text(request, "visibility", default=Visibility.TEAM),
            ),
            success=lambda created: f"Project {created.name} created.",
            redirect_to=lambda created: reverse(
                "web:project-detail", kwargs={"team": team, "project": created.name}
            ),
        )
    return _project_list_page(request)


def project_context(request, tab: str, **extra) -> dict:
    """What templates/projects/project_base.html needs (header, tabs) on tab `tab`; the
    Artifacts and Sweeps tabs of other apps use it too."""
    scope = request.team_scope
    return {
        "team": scope.team,
        "project": scope.project,
        "section": "projects",
        "tab": tab,
        "can_write": scope.has(roles.PROJECTS_WRITE),
        "can_delete": scope.has(roles.PROJECTS_DELETE),
        **extra,
    }


def _workspace_data(request) -> dict:
    """What static/js/workspace.js needs, embedded with json_script (no inline script)."""
    scope = request.team_scope
    api_base = reverse(
        "api:run-list", kwargs={"team": scope.team.slug, "project": scope.project.name}
    ).removesuffix("/runs")
    return {
        "team": scope.team.slug,
        "project": scope.project.name,
        "api_base": api_base,
        "ws_path": f"/ws{api_base.removeprefix('/api/v1')}/events",
        "run_url": reverse(
            "web:project-detail", kwargs={"team": scope.team.slug, "project": scope.project.name}
        )
        + "runs/",
        "csrf": get_token(request),
        "user": request.user.email if request.user.is_authenticated else None,
        # Members change (tag) their own runs only; the run API refuses the others (403).
        "can_write": scope.has(roles.RUNS_WRITE_OWN),
        "can_delete": scope.has(roles.RUNS_DELETE) or scope.has(roles.RUNS_DELETE_OWN),
        "can_save_views": scope.has(roles.PROJECTS_WRITE),
    }


def project_detail(request, team, project):
    """The project's home: the workspace (runs table and charts) once it has runs, the
    first-run instructions before."""
    scope = request.team_scope
    if selectors.project_has_runs(scope.team, scope.project):
        return render(
            request,
            "projects/project_workspace.html",
            project_context(request, "overview", workspace=_workspace_data(request)),
        )
    return render(
        request,
        "projects/project_detail.html",
        project_context(request, "overview", base_url=request.build_absolute_uri("/")[:-1]),
    )


def _settings_page(request, status=200, fragment=False, form_data=None):
    return render(
        request,
        "projects/project_settings.html",
        project_context(
            request,
            "settings",
            visibility_choices=_visibility_choices(
                request.team_scope, current=request.team_scope.project.visibility
            ),
            form_data=form_data,
        ),
        status=status,
    )


def project_settings(request, team, project):
    scope = request.team_scope
    if request.method == "POST":

        def update():
            project = scope.project
            try:
                return services.project_update(
                    project=project,
                    actor=request.user,
                    name=form_text(request, "name", default=project.name),
                    description=form_text(request, "description", max_length=10_000),
                    visibility=form_text(request, "visibility", default=project.visibility),
                )
            except DomainError:
                # The service set the refused values on the instance; the page shows
                # the stored project (its real name is in every link) with the error.
                scope.project.refresh_from_db()
                raise

        return perform(
            request,
            _settings_page,
            update,
            success="Project settings saved.",
            redirect_to=lambda updated: reverse(
                "web:project-settings", kwargs={"team": team, "project": updated.name}
            ),
        )
    return _settings_page(request)


def project_delete(request, team, project):
    scope = request.team_scope
    # Deleting needs the project's name typed back, as a deliberate confirmation.
    if request.POST.get("confirm", "").strip() != scope.project.name:
        error = DomainError(
            "Type the project name to confirm deletion.", code="confirmation_required"
        )
        messages.error(request, error.message)
        return _settings_page(request, status=error.status)
    name = scope.project.name
    services.project_delete(project=scope.project)
    messages.success(request, f"Project {name} deleted.")
    return redirect("web:project-list", team=team)
