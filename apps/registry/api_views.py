"""Registry API views (docs/registry.md): thin — resolve what the URL names inside the
scope, call a selector or service, shape the answer."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response, stored_file_response, streaming
from apps.core.errors import DomainError, NotFound
from apps.registry import bundles, names, selectors, services
from apps.registry import serializers as out
from apps.runs.bodies import request_json
from apps.runs.selectors import runs as run_selectors

OBJECT = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)


class RegistryAPIView(GradlineAPIView):
    def get_artifact(self, name: str):
        return selectors.artifact_get(self.team, self.project, name)

    def get_version(self, name: str, ref: str):
        return selectors.version_resolve(self.team, self.get_artifact(name), ref)

    def version_body(self, version) -> dict:
        team = self.team
        run_uid = version.run.uid if version.run_id else None
        return out.version_out(
            version,
            selectors.version_files(team, version),
            selectors.version_used_by(team, version),
            run_uid,
            selectors.version_references(team, version),
        )

    def visible_project(self, name, field: str):
        """A project of this team named in a body, if the caller may see it (400 naming
        `field` otherwise: the body, not the URL, named it)."""
        if name is None:
            return self.project
        if not isinstance(name, str):
            raise names.field_error(f"{field} must be a project name.", field)
        try:
            return selectors.project_visible(
                self.team, name, membership=self.scope.membership, user=self.request.user
            )
        except NotFound:
            raise names.field_error(f"{field} names no project you can see.", field) from None


# --------------------------------------------------------------------------- blobs


class BlobMissingView(RegistryAPIView):
    @OBJECT
    def post(self, request, team, project):
        digests = request_json(request).get("sha256")
        if (
            not isinstance(digests, list)
            or len(digests) > 10_000
            or not all(isinstance(d, str) and names.SHA256_RE.fullmatch(d) for d in digests)
        ):
            raise names.field_error(
                "sha256 must be a list of at most 10000 digests (64 lowercase hex digits).",
                "sha256",
            )
        return json_response({"missing": selectors.blobs_missing(self.team, digests)})


class BlobDetailView(RegistryAPIView):
    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses=OpenApiTypes.OBJECT,
        summary="Upload a file's content; the server checks it against the URL's SHA-256",
    )
    def put(self, request, team, project, sha256):
        if request.headers.get("Content-Encoding", "identity") not in ("", "identity"):
            raise DomainError(
                "Blobs are stored as sent; Content-Encoding is not accepted here.",
                code="invalid_encoding",
            )
        blob, created = services.blob_put(team=self.team, sha256=sha256, stream=request.stream)
        body = {"sha256": blob.sha256, "size": blob.size, "created": created}
        return json_response(body, status=201 if created else 200)


class BlobBundleView(RegistryAPIView):
    @extend_schema(
        request={"application/x-tar": OpenApiTypes.BINARY},
        responses=OpenApiTypes.OBJECT,
        summary="Upload many small blobs as one tar whose members are named by SHA-256",
    )
    def post(self, request, team, project):
        return json_response(services.blobs_put_bundle(team=self.team, stream=request.stream))


# --------------------------------------------------------------------------- artifacts


class ArtifactListView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, project):
        type_ = request.query_params.get("type") or None
        artifacts = selectors.artifacts_list(self.team, self.project, type=type_)
        return json_response({"artifacts": [out.artifact_out(a) for a in artifacts]})


class ArtifactDetailView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, project, name):
        [artifact] = selectors.artifact_stats(self.team, [self.get_artifact(name)])
        versions = selectors.artifact_versions(self.team, artifact)
        return json_response(
            {**out.artifact_out(artifact), "versions": [out.version_row(v) for v in versions]}
        )

    @OBJECT
    def patch(self, request, team, project, name):
        artifact = services.artifact_update(
            artifact=self.get_artifact(name), data=request_json(request)
        )
        return json_response({"name": artifact.name, "description": artifact.description})

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, name):
        services.artifact_delete(artifact=self.get_artifact(name))
        return HttpResponse(status=204)


class VersionListView(RegistryAPIView):
    @OBJECT
    def post(self, request, team, project, name):
        version, created = services.version_create(
            team=self.team,
            project=self.project,
            name=name,
            data=request_json(request),
            actor=request.user,
            permissions=self.scope.permissions,
        )
        version = selectors.version_resolve(self.team, version.artifact, version.label)
        body = {**self.version_body(version), "created": created}
        return json_response(body, status=201 if created else 200)


class VersionDetailView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, project, name, ref):
        return json_response(self.version_body(self.get_version(name, ref)))

    @OBJECT
    def patch(self, request, team, project, name, ref):
        version = services.version_update(
            version=self.get_version(name, ref), data=request_json(request)
        )
        return json_response(self.version_body(version))

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, name, ref):
        delete_aliases = request.query_params.get("delete_aliases", "").lower() in ("1", "true")
        services.version_delete(
            version=self.get_version(name, ref), delete_aliases=delete_aliases, actor=request.user
        )
        return HttpResponse(status=204)


class VersionFileView(RegistryAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, team, project, name, ref, path):
        record = selectors.version_file_by_ref(self.team, self.project, name, ref, path)
        return stored_file_response(
            request,
            record.blob.storage_name,
            size=record.blob.size,
            path=record.path,
            etag=record.blob.sha256,
        )


class VersionFilesBundleView(RegistryAPIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={(200, "application/x-tar"): OpenApiTypes.BINARY},
        summary="Download many files of a version as one tar stream",
    )
    def post(self, request, team, project, name, ref):
        version = self.get_version(name, ref)  # what the URL names first: 404 before 400
        paths = request_json(request).get("paths")
        if (
            not isinstance(paths, list)
            or not 0 < len(paths) <= bundles.MAX_MEMBERS
            or not all(isinstance(p, str) for p in paths)
        ):
            raise names.field_error(
                f"paths must be a list of 1-{bundles.MAX_MEMBERS} file paths.", "paths"
            )
        files = selectors.version_files_by_path(self.team, version, paths)
        members = [(path, files[path].blob.storage_name, files[path].blob.size) for path in paths]
        return streaming(request, bundles.write_stream(members), "application/x-tar")


class ArtifactAliasView(RegistryAPIView):
    @OBJECT
    def put(self, request, team, project, name, alias):
        artifact = self.get_artifact(name)
        version = services.artifact_alias_set(
            artifact=artifact,
            alias=alias,
            ref=request_json(request).get("version"),
            actor=request.user,
        )
        return json_response({"alias": alias, "version": version.label})

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, name, alias):
        services.artifact_alias_delete(
            artifact=self.get_artifact(name), alias=alias, actor=request.user
        )
        return HttpResponse(status=204)


class ArtifactAliasEventsView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, project, name):
        events = selectors.artifact_alias_events(self.team, self.get_artifact(name))
        return json_response({"events": [out.alias_event_out(e) for e in events]})


class RunArtifactsView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, project, run):
        found = selectors.run_artifacts(
            self.team, run_selectors.run_get(self.team, self.project, run)
        )
        return json_response(
            {part: [out.version_summary(v) for v in versions] for part, versions in found.items()}
        )


class RunUsedArtifactsView(RegistryAPIView):
    @OBJECT
    def post(self, request, team, project, run):
        run = run_selectors.run_get(self.team, self.project, run)
        self.scope.require_owner(run.created_by_id, what="run")  # lineage is the run's
        data = request_json(request)
        source_project = self.visible_project(data.get("project"), "project")
        name = names.clean_name(data.get("name"))
        ref = names.clean_ref(data.get("ref", names.LATEST), "ref")
        try:
            artifact = selectors.artifact_get(self.team, source_project, name)
            version = selectors.version_resolve(self.team, artifact, ref)
        except NotFound as exc:
            raise names.field_error(exc.message, "name") from None
        services.usage_record(run=run, version=version)
        return json_response(self.version_body(version), status=201)


# --------------------------------------------------------------------------- registered models


class RegisteredModelListView(RegistryAPIView):
    @OBJECT
    def get(self, request, team):
        models = selectors.registered_models_list(self.team)
        return json_response({"registered_models": [out.registered_model_out(m) for m in models]})

    @OBJECT
    def post(self, request, team):
        model = services.registered_model_create(
            team=self.team, data=request_json(request), actor=request.user
        )
        model.version_count, model.alias_map = 0, {}
        return json_response(out.registered_model_out(model), status=201)


class RegisteredModelDetailView(RegistryAPIView):
    def body(self, model) -> dict:
        versions = selectors.registered_model_versions(self.team, model)
        model.version_count = len(versions)
        return {
            **out.registered_model_out(model),
            "versions": [out.link_out(v) for v in versions],
        }

    @OBJECT
    def get(self, request, team, name):
        return json_response(self.body(selectors.registered_model_get(self.team, name)))

    @OBJECT
    def patch(self, request, team, name):
        model = services.registered_model_update(
            model=selectors.registered_model_get(self.team, name), data=request_json(request)
        )
        return json_response(self.body(model))

    @extend_schema(responses={204: None})
    def delete(self, request, team, name):
        services.registered_model_delete(model=selectors.registered_model_get(self.team, name))
        return HttpResponse(status=204)


class RegisteredModelVersionListView(RegistryAPIView):
    @OBJECT
    def post(self, request, team, name):
        data = request_json(request)
        project = self.visible_project(data.get("project"), "project")
        if project is None:
            raise names.field_error("project is required.", "project")
        artifact_name = names.clean_name(data.get("artifact"), "artifact")
        ref = names.clean_ref(data.get("ref", names.LATEST), "ref")
        try:
            source = selectors.version_resolve(
                self.team, selectors.artifact_get(self.team, project, artifact_name), ref
            )
        except NotFound as exc:
            raise names.field_error(exc.message, "artifact") from None
        link, created = services.registered_model_link(
            team=self.team,
            name=name,
            source=source,
            aliases=data.get("aliases"),
            actor=request.user,
            permissions=self.scope.permissions,
        )
        model = selectors.registered_model_get(self.team, name)
        link = selectors.registered_model_version_resolve(self.team, model, link.label)
        body = {**out.link_out(link), "created": created}
        return json_response(body, status=201 if created else 200)


class RegisteredModelVersionDetailView(RegistryAPIView):
    def get_link(self, name: str, ref: str):
        model = selectors.registered_model_get(self.team, name)
        return selectors.registered_model_version_resolve(self.team, model, ref)

    @OBJECT
    def get(self, request, team, name, ref):
        link = self.get_link(name, ref)
        body = out.link_out(link)
        source_project = link.source.artifact.project
        try:
            selectors.project_visible(
                self.team,
                source_project.name,
                membership=self.scope.membership,
                user=request.user,
            )
        except NotFound:
            return json_response(body)  # the link exists; its restricted source stays hidden
        source = selectors.version_resolve(
            self.team,
            selectors.artifact_get(self.team, source_project, link.source.artifact.name),
            link.source.label,
        )
        body["source"] = self.version_body(source)
        return json_response(body)

    @extend_schema(responses={204: None})
    def delete(self, request, team, name, ref):
        services.registered_model_unlink(link=self.get_link(name, ref), actor=request.user)
        return HttpResponse(status=204)


class RegisteredModelAliasView(RegistryAPIView):
    @OBJECT
    def put(self, request, team, name, alias):
        link = services.registered_model_alias_set(
            model=selectors.registered_model_get(self.team, name),
            alias=alias,
            ref=request_json(request).get("version"),
            actor=request.user,
        )
        return json_response({"alias": alias, "version": link.label})

    @extend_schema(responses={204: None})
    def delete(self, request, team, name, alias):
        services.registered_model_alias_delete(
            model=selectors.registered_model_get(self.team, name), alias=alias, actor=request.user
        )
        return HttpResponse(status=204)


class RegisteredModelAliasEventsView(RegistryAPIView):
    @OBJECT
    def get(self, request, team, name):
        model = selectors.registered_model_get(self.team, name)
        events = selectors.registered_model_alias_events(self.team, model)
        return json_response({"events": [out.alias_event_out(e) for e in events]})
