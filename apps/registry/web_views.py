"""Artifact and model-registry pages (docs/registry.md): a project's artifacts, an
artifact with its versions and aliases, one version (metadata, files, lineage), the
team's registered models and one registered model.

TeamScopeMiddleware has already checked the route's permission (apps/core/policy.py):
each form posts to a route that needs the permission of its write (artifacts:write to
edit a description, set an artifact alias or link a model version; artifacts:delete to
delete a version; registry:promote to promote or unlink a registered model version), so
a viewer gets 403 before these views run. Objects named by the URL are looked up before
any form field is read, so another team's name is a 404 whatever the form holds. Writes
go through apps.registry.services; apps/core/htmx.py fixes how success and errors are
answered.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.api.responses import stored_file_response
from apps.comments.pages import panel_config as comments_panel
from apps.comments.selectors import comment_counts
from apps.core.htmx import perform
from apps.core.web_input import form_text
from apps.projects.web_views import project_context
from apps.registry import selectors, services, web_selectors
from apps.teams import roles


def _project_context(request, **extra) -> dict:
    """The project page context on the Artifacts tab, with the registry permissions."""
    scope = request.team_scope
    return project_context(
        request,
        "artifacts",
        can_write_artifacts=scope.has(roles.ARTIFACTS_WRITE),
        can_delete_artifacts=scope.has(roles.ARTIFACTS_DELETE),
        can_promote=scope.has(roles.REGISTRY_PROMOTE),
        **extra,
    )


# --- a project's artifacts ------------------------------------------------------------


def artifact_list(request, team, project):
    scope = request.team_scope
    types = web_selectors.artifact_types(scope.team, scope.project)
    selected = request.GET.get("type") or None
    # Only a type the project has is queried: anything else (a typo, a NUL byte) is
    # simply a filter that matches nothing.
    known = selected is None or any(selected == name for name, _ in types)
    artifacts = selectors.artifacts_list(scope.team, scope.project, type=selected) if known else []
    groups = defaultdict(list)
    for artifact in artifacts:
        groups[artifact.type].append(artifact)
    return render(
        request,
        "registry/artifact_list.html",
        _project_context(
            request,
            types=types,
            selected_type=selected,
            groups=sorted(groups.items()),
            has_artifacts=bool(types),
        ),
    )


# --- one artifact ---------------------------------------------------------------------


def _artifact_page(artifact):
    """A page renderer for `perform`: the artifact page, or its body fragment for htmx."""

    def page(request, status=200, fragment=False, form_data=None):
        team = request.team_scope.team
        [artifact_] = selectors.artifact_stats(team, [artifact])
        versions = web_selectors.artifact_versions_table(team, artifact_)
        context = _project_context(
            request,
            artifact=artifact_,
            versions=versions,
            aliases=sorted(artifact_.alias_map.items()),
            events=selectors.artifact_alias_events(team, artifact_),
            form_data=form_data,
            fragment=fragment,
        )
        template = (
            "registry/partials/artifact_body.html" if fragment else "registry/artifact_detail.html"
        )
        return render(request, template, context, status=status)

    return page


def artifact_detail(request, team, project, name):
    scope = request.team_scope
    return _artifact_page(selectors.artifact_get(scope.team, scope.project, name))(request)


def artifact_update(request, team, project, name):
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)
    return perform(
        request,
        _artifact_page(artifact),
        lambda: services.artifact_update(artifact=artifact, data=_description_form(request)),
        success="Description saved.",
        redirect_to=_artifact_url(artifact),
    )


def artifact_alias_set(request, team, project, name):
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)

    def move():
        alias = form_text(request, "alias", max_length=128)
        version = services.artifact_alias_set(
            artifact=artifact,
            alias=alias,
            ref=form_text(request, "version", max_length=128),
            actor=request.user,
        )
        return alias, version

    return perform(
        request,
        _artifact_page(artifact),
        move,
        success=lambda moved: f"{moved[0]} now points at {moved[1].label}.",
        redirect_to=_artifact_url(artifact),
    )


def artifact_alias_delete(request, team, project, name, alias):
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)
    return perform(
        request,
        _artifact_page(artifact),
        lambda: services.artifact_alias_delete(artifact=artifact, alias=alias, actor=request.user),
        success=f"Alias {alias} removed.",
        redirect_to=_artifact_url(artifact),
    )


def _artifact_url(artifact) -> str:
    kwargs = {"team": artifact.team.slug, "project": artifact.project.name, "name": artifact.name}
    return reverse("web:artifact-detail", kwargs=kwargs)


# --- one version ----------------------------------------------------------------------


def _version_page(artifact, ref: str):
    """A page renderer for `perform`: the version page, or its body fragment for htmx."""

    def page(request, status=200, fragment=False, form_data=None):
        scope = request.team_scope
        version = selectors.version_resolve(scope.team, artifact, ref)
        files = web_selectors.version_files_shown(scope.team, version)
        is_model = artifact.type == "model"
        context = _project_context(
            request,
            artifact=artifact,
            version=version,
            metadata=json.dumps(version.metadata, indent=2, sort_keys=True, ensure_ascii=False),
            files=files,
            files_truncated=version.file_count > len(files),
            references=selectors.version_references(scope.team, version),
            lineage=web_selectors.version_lineage(
                scope.team, version, membership=scope.membership, user=request.user
            ),
            events=web_selectors.version_alias_events(scope.team, artifact, version.label),
            held_aliases=[alias for alias in version.alias_list if alias != "latest"],
            registry_links=(
                web_selectors.version_registry_links(scope.team, version) if is_model else []
            ),
            model_names=(
                web_selectors.registered_model_names(scope.team)
                if is_model and scope.has(roles.ARTIFACTS_WRITE)
                else []
            ),
            form_data=form_data,
            fragment=fragment,
        )
        template = (
            "registry/partials/version_body.html" if fragment else "registry/version_detail.html"
        )
        if not fragment:
            ref_label = f"v{version.index}"
            context["comments_config"] = comments_panel(
                request, "artifact_version", name=artifact.name, ref=ref_label
            )
        return render(request, template, context, status=status)

    return page


def artifact_version_detail(request, team, project, name, ref):
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)
    return _version_page(artifact, ref)(request)


def _version_in_url(request, name, ref):
    """(artifact, version) named by the URL; forms then act on the version's label, so an
    alias that moves meanwhile does not redirect the action."""
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)
    return artifact, selectors.version_resolve(scope.team, artifact, ref)


def artifact_version_update(request, team, project, name, ref):
    artifact, version = _version_in_url(request, name, ref)
    return perform(
        request,
        _version_page(artifact, version.label),
        lambda: services.version_update(version=version, data=_description_form(request)),
        success="Description saved.",
        redirect_to=_version_url(artifact, version),
    )


def artifact_version_delete(request, team, project, name, ref):
    artifact, version = _version_in_url(request, name, ref)
    delete_aliases = request.POST.get("delete_aliases", "") in ("true", "on", "1")

    def delete():
        services.version_delete(version=version, delete_aliases=delete_aliases, actor=request.user)

    return perform(
        request,
        _leaving_to(_artifact_url(artifact), _version_page(artifact, version.label)),
        delete,
        success=f"Deleted {artifact.name}:{version.label}.",
        redirect_to=_artifact_url(artifact),
    )


def artifact_version_link(request, team, project, name, ref):
    """Link the version into a registered model of the team (created on first link), as
    POST T/registered-models/{name}/versions does: the source is this page's version,
    whose project the scope has already found visible to the caller."""
    scope = request.team_scope
    artifact, version = _version_in_url(request, name, ref)

    def link():
        model_name = form_text(request, "name", max_length=128)
        aliases = _alias_list(form_text(request, "aliases", max_length=ALIASES_FIELD_MAX))
        return services.registered_model_link(
            team=scope.team,
            name=model_name,
            source=version,
            aliases=aliases,
            actor=request.user,
            permissions=scope.permissions,
        )

    def linked(result) -> str:
        link, created = result
        where = f"{link.registered_model.name}:{link.label}"
        return f"Linked as {where}." if created else f"Already linked as {where}."

    return perform(
        request,
        _version_page(artifact, version.label),
        link,
        success=linked,
        redirect_to=_version_url(artifact, version),
    )


def artifact_file(request, team, project, name, ref, path):
    """A file of a version, streamed from the blob store (as api:artifact-file does)."""
    scope = request.team_scope
    artifact = selectors.artifact_get(scope.team, scope.project, name)
    record = selectors.version_file_get(
        scope.team, selectors.version_resolve(scope.team, artifact, ref), path
    )
    return stored_file_response(
        request,
        record.blob.storage_name,
        size=record.blob.size,
        path=record.path,
        etag=record.blob.sha256,
    )


def _version_url(artifact, version) -> str:
    kwargs = {
        "team": artifact.team.slug,
        "project": artifact.project.name,
        "name": artifact.name,
        "ref": version.label,
    }
    return reverse("web:artifact-version-detail", kwargs=kwargs)


def _leaving_to(url: str, page):
    """`page` for an action that removes the object the page shows: htmx success then
    follows `url` (HX-Redirect) as a plain POST's redirect does; errors render `page`."""

    def leave(request, status=200, fragment=False, form_data=None):
        if fragment:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return page(request, status=status, fragment=fragment, form_data=form_data)

    return leave


# --- form fields ----------------------------------------------------------------------

# 32 aliases (the service's limit) of up to 128 characters and their separators.
ALIASES_FIELD_MAX = 32 * 130


def _description_form(request) -> dict:
    """The `data` of a description form for the update services."""
    return {"description": form_text(request, "description", max_length=services.MAX_DESCRIPTION)}


def _alias_list(value: str) -> list[str]:
    """Aliases typed as one field ("staging, production"); the service checks each."""
    return [alias for alias in re.split(r"[\s,]+", value) if alias]


# --- the team's registry --------------------------------------------------------------


def _registry_context(request, **extra) -> dict:
    scope = request.team_scope
    return {
        "team": scope.team,
        "section": "registry",
        "can_write_artifacts": scope.has(roles.ARTIFACTS_WRITE),
        "can_promote": scope.has(roles.REGISTRY_PROMOTE),
        **extra,
    }


def registered_model_list(request, team):
    scope = request.team_scope
    models = selectors.registered_models_list(scope.team)
    counts = comment_counts(scope.team, "registered_model", [m.pk for m in models])
    for model in models:
        model.comment_count = counts.get(model.pk, 0)
    return render(
        request,
        "registry/registered_model_list.html",
        _registry_context(request, models=models),
    )


def _model_page(model):
    def page(request, status=200, fragment=False, form_data=None):
        scope = request.team_scope
        links = web_selectors.registered_model_links(
            scope.team, model, membership=scope.membership, user=request.user
        )
        context = _registry_context(
            request,
            model=model,
            links=links,
            aliases=sorted(model.alias_map.items()),
            events=selectors.registered_model_alias_events(scope.team, model),
            form_data=form_data,
            fragment=fragment,
        )
        template = (
            "registry/partials/model_body.html"
            if fragment
            else "registry/registered_model_detail.html"
        )
        if not fragment:
            context["comments_config"] = comments_panel(
                request, "registered_model", name=model.name
            )
        return render(request, template, context, status=status)

    return page


def registered_model_detail(request, team, name):
    return _model_page(selectors.registered_model_get(request.team_scope.team, name))(request)


def registered_model_update(request, team, name):
    model = selectors.registered_model_get(request.team_scope.team, name)
    return perform(
        request,
        _model_page(model),
        lambda: services.registered_model_update(model=model, data=_description_form(request)),
        success="Description saved.",
        redirect_to=_model_url(model),
    )


def registered_model_version_unlink(request, team, name, ref):
    scope = request.team_scope
    model = selectors.registered_model_get(scope.team, name)
    link = selectors.registered_model_version_resolve(scope.team, model, ref)
    source = link.source
    return perform(
        request,
        _model_page(model),
        lambda: services.registered_model_unlink(link=link, actor=request.user),
        success=(
            f"Unlinked {link.label} ({source.artifact.project.name}/{source.artifact.name}:"
            f"{source.label}) from {model.name}."
        ),
        redirect_to=_model_url(model),
    )


def registered_model_alias_set(request, team, name):
    model = selectors.registered_model_get(request.team_scope.team, name)

    def promote():
        alias = form_text(request, "alias", max_length=128)
        link = services.registered_model_alias_set(
            model=model,
            alias=alias,
            ref=form_text(request, "version", max_length=128),
            actor=request.user,
        )
        return alias, link

    return perform(
        request,
        _model_page(model),
        promote,
        success=lambda moved: f"{moved[0]} now points at {moved[1].label}.",
        redirect_to=_model_url(model),
    )


def registered_model_alias_delete(request, team, name, alias):
    model = selectors.registered_model_get(request.team_scope.team, name)
    return perform(
        request,
        _model_page(model),
        lambda: services.registered_model_alias_delete(
            model=model, alias=alias, actor=request.user
        ),
        success=f"Alias {alias} removed.",
        redirect_to=_model_url(model),
    )


def _model_url(model) -> str:
    return reverse(
        "web:registered-model-detail", kwargs={"team": model.team.slug, "name": model.name}
    )
