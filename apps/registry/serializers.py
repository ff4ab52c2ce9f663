"""Output shapes of the registry API (docs/registry.md). Plain functions: the views answer
with orjson like the run API does."""

from __future__ import annotations

from apps.registry.models import (
    AliasEvent,
    Artifact,
    ArtifactFile,
    ArtifactReference,
    ArtifactVersion,
    RegisteredModel,
    RegisteredModelVersion,
)


def _email(user) -> str | None:
    return getattr(user, "email", None) if user is not None else None


def artifact_out(artifact: Artifact) -> dict:
    return {
        "name": artifact.name,
        "type": artifact.type,
        "description": artifact.description,
        "version_count": artifact.version_count,
        "latest": None if artifact.latest_index is None else f"v{artifact.latest_index}",
        "aliases": artifact.alias_map,
        "created_at": artifact.created_at,
        "updated_at": artifact.updated_at,
    }


def version_row(version: ArtifactVersion) -> dict:
    return {
        "version": version.label,
        "index": version.index,
        "digest": version.digest,
        "size": version.size,
        "file_count": version.file_count,
        "aliases": version.alias_list,
        "tags": version.tags,
        "description": version.description,
        "created_at": version.created_at,
        "ttl_seconds": version.ttl_seconds,
        "expires_at": version.expires_at,
    }


def file_out(record: ArtifactFile) -> dict:
    return {"path": record.path, "sha256": record.blob.sha256, "size": record.blob.size}


def reference_out(record: ArtifactReference) -> dict:
    return {
        "path": record.path,
        "ref": record.uri,
        "digest": record.digest,
        "size": record.size,
        "extra": record.extra,
    }


def version_out(
    version: ArtifactVersion,
    files: list[ArtifactFile],
    used_by: list,
    run_uid: str | None,
    references: list[ArtifactReference] = (),
) -> dict:
    artifact = version.artifact
    return {
        "project": artifact.project.name,
        "name": artifact.name,
        "type": artifact.type,
        "version": version.label,
        "index": version.index,
        "digest": version.digest,
        "description": version.description,
        "metadata": version.metadata,
        "aliases": version.alias_list,
        "tags": version.tags,
        "size": version.size,
        "file_count": version.file_count,
        "created_at": version.created_at,
        "ttl_seconds": version.ttl_seconds,
        "expires_at": version.expires_at,
        "created_by": _email(version.created_by),
        "run": run_uid,
        "used_by": [{"project": u.run.project.name, "run": u.run.uid} for u in used_by],
        "files": [file_out(f) for f in files],
        "references": [reference_out(r) for r in references],
    }


def version_summary(version: ArtifactVersion) -> dict:
    artifact = version.artifact
    return {
        "project": artifact.project.name,
        "name": artifact.name,
        "type": artifact.type,
        "version": version.label,
        "digest": version.digest,
    }


def alias_event_out(event: AliasEvent) -> dict:
    return {
        "alias": event.alias,
        "from": event.from_version or None,
        "to": event.to_version or None,
        "actor": _email(event.actor),
        "at": event.at,
    }


def registered_model_out(model: RegisteredModel) -> dict:
    return {
        "name": model.name,
        "description": model.description,
        "version_count": model.version_count,
        "aliases": model.alias_map,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


def link_out(link: RegisteredModelVersion) -> dict:
    source = link.source
    return {
        "version": link.label,
        "index": link.index,
        "aliases": link.alias_list,
        "source": {
            "project": source.artifact.project.name,
            "name": source.artifact.name,
            "version": source.label,
            "digest": source.digest,
        },
        "linked_at": link.linked_at,
        "linked_by": _email(link.linked_by),
    }
