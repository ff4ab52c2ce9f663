"""Registry writes (docs/registry.md). Each function is atomic and takes objects already
resolved inside the caller's team scope.

Concurrency: every change to an artifact's versions or aliases locks the artifact row
first (and a registered model's row for its links and aliases), so version numbers are
dense per artifact, alias moves are serialised and each move is one alias event.
Blob references are taken under FOR KEY SHARE, which the garbage collector's
FOR UPDATE SKIP LOCKED steps around, so a blob is never removed under a commit.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.automations import hooks as automation_hooks
from apps.comments.cleanup import comments_remove
from apps.core import jsonlimits
from apps.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from apps.core.storage import delete_stored, delete_stored_on_commit, spooled_upload
from apps.registry import bundles, names
from apps.registry.models import (
    AliasEvent,
    Artifact,
    ArtifactAlias,
    ArtifactBlob,
    ArtifactFile,
    ArtifactReference,
    ArtifactUsage,
    ArtifactVersion,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelVersion,
)
from apps.registry.selectors import registered_model_version_resolve, version_resolve
from apps.runs import services as run_services
from apps.runs.models import Run
from apps.teams import roles

MAX_METADATA_BYTES = 1024 * 1024
MAX_DESCRIPTION = 65_536


# --------------------------------------------------------------------------- input


def _description(data: dict) -> str | None:
    value = data.get("description")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise names.field_error(
            f"description must be a string of at most {MAX_DESCRIPTION} characters.",
            "description",
        )
    if "\x00" in value:
        raise names.field_error("description must not contain NUL characters.", "description")
    return value


def _metadata(data: dict) -> dict | None:
    value = data.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise names.field_error("metadata must be a JSON object.", "metadata")
    jsonlimits.check(value, "metadata")
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise names.field_error(
            f"metadata must encode to at most {MAX_METADATA_BYTES} bytes.", "metadata"
        )
    return value


# --------------------------------------------------------------------------- blobs


def blob_put(*, team, sha256: str, stream: BinaryIO | None) -> tuple[ArtifactBlob, bool]:
    """Store a blob from a stream, checking its content against `sha256`. Idempotent:
    a blob the team already holds is answered as is (created False)."""
    existing = ArtifactBlob.objects.for_team(team).filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    with spooled_upload(stream, settings.ARTIFACT_FILE_MAX_BYTES) as upload:
        if upload.sha256 != sha256:
            raise DomainError(
                "The body's SHA-256 does not match the URL.",
                code="digest_mismatch",
                detail={"expected": sha256, "actual": upload.sha256, "size": upload.size},
            )
        stored = _blob_file_save(team, sha256, File(upload.spool))
        size = upload.size
    created = _blob_rows_insert(team, [(sha256, size, stored)]) == {sha256}
    return ArtifactBlob.objects.for_team(team).get(sha256=sha256), created


def _blob_file_save(team, sha256: str, content: File) -> str:
    name = f"artifacts/{team.pk}/{sha256[:2]}/{sha256}"
    content.name = name
    return default_storage.save(name, content)


def _blob_rows_insert(team, blobs: list[tuple[str, int, str]]) -> set[str]:
    """Insert (sha256, size, storage name) rows; returns the digests inserted. A digest
    inserted concurrently by another upload keeps that upload's file: ours goes."""
    if not blobs:
        return set()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO registry_artifactblob (team_id, sha256, size, storage_name, created_at)"
            " SELECT %s, sha, size, name, now()"
            " FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS t(sha, size, name)"
            " ON CONFLICT (team_id, sha256) DO NOTHING RETURNING sha256",
            [team.pk, *map(list, zip(*blobs, strict=True))],
        )
        inserted = {row[0] for row in cur.fetchall()}
    delete_stored(name for sha, _, name in blobs if sha not in inserted)
    return inserted


def blobs_put_bundle(*, team, stream: BinaryIO | None) -> dict:
    """Store the members of a tar bundle (members named by their SHA-256; docs/registry.md).
    Each member is checked like a single upload: a bad one is rejected with its reason,
    the others are stored. Blobs the team holds already are counted as held."""
    rejected: list[dict] = []
    pending: dict[str, tuple[int, str]] = {}
    try:
        for member in bundles.read_members(stream or io.BytesIO()):
            if member.content is None:
                rejected.append({"sha256": member.name, "reason": "not a regular file"})
            elif not names.SHA256_RE.fullmatch(member.name):
                rejected.append({"sha256": member.name, "reason": "name is not a SHA-256"})
            elif hashlib.sha256(member.content).hexdigest() != member.name:
                rejected.append({"sha256": member.name, "reason": "content does not match"})
            elif member.name not in pending:
                saved_as = _blob_file_save(team, member.name, ContentFile(member.content))
                pending[member.name] = (len(member.content), saved_as)
    except BaseException:
        delete_stored(saved_as for _, saved_as in pending.values())  # no row will name them
        raise
    rows = [(sha, size, saved_as) for sha, (size, saved_as) in pending.items()]
    inserted = _blob_rows_insert(team, rows)
    return {"stored": len(inserted), "held": len(pending) - len(inserted), "rejected": rejected}


def blobs_collect_garbage(*, team, grace_s: float) -> int:
    """Remove the team's blobs that no version lists and that are older than `grace_s`
    (younger ones may belong to a version being committed). Idempotent."""
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            DELETE FROM registry_artifactblob b
            WHERE b.id IN (
                SELECT id FROM registry_artifactblob
                WHERE team_id = %s AND created_at < %s
                FOR UPDATE SKIP LOCKED
            )
            AND NOT EXISTS (SELECT 1 FROM registry_artifactfile f WHERE f.blob_id = b.id)
            RETURNING b.storage_name
            """,
            [team.pk, cutoff],
        )
        gone = [row[0] for row in cur.fetchall()]
        delete_stored_on_commit(gone)
    return len(gone)


# --------------------------------------------------------------------------- versions


def _artifact_locked(team, project, name: str, type_: str | None, description: str | None):
    """The artifact row, locked; created (with `type_`) when missing."""
    qs = Artifact.objects.for_team(team).select_for_update(no_key=True)
    artifact = qs.filter(project=project, name=name).first()
    if artifact is not None:
        artifact.team, artifact.project = team, project
        return artifact
    if type_ is None:
        raise NotFound("Artifact not found.")
    try:
        with transaction.atomic():
            Artifact.objects.for_team(team).create(
                team=team, project=project, name=name, type=type_, description=description or ""
            )
    except IntegrityError:
        pass  # created concurrently; lock that one
    artifact = qs.get(project=project, name=name)
    artifact.team, artifact.project = team, project
    return artifact


def _lock_blobs(team, digests: list[str]) -> dict[str, tuple[int, int]]:
    """sha256 -> (blob id, size) for the held ones, locked FOR KEY SHARE against GC."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT sha256, id, size FROM registry_artifactblob"
            " WHERE team_id = %s AND sha256 = ANY(%s) FOR KEY SHARE",
            [team.pk, digests],
        )
        return {sha: (blob_id, size) for sha, blob_id, size in cur.fetchall()}


def version_create(
    *, team, project, name: str, data: dict, actor, permissions: frozenset[str] = frozenset()
) -> tuple[ArtifactVersion, bool]:
    """Commit a version from a manifest of uploaded blobs (docs/registry.md). The same
    manifest as an existing version returns that version (created False); the requested
    aliases move to it either way. Naming a `run` (the version's producer) writes to that
    run's lineage: the run-ownership rule applies (the actor's own run, or any with
    runs:write in `permissions`)."""
    name = names.clean_name(name)
    type_ = names.clean_type(data.get("type"))
    description = _description(data)
    metadata = _metadata(data)
    aliases = names.clean_aliases(data.get("aliases"))
    entries = names.clean_manifest(data.get("files"))
    references = names.clean_references(data.get("references"), {e.path for e in entries})
    tags = names.clean_tags(data.get("tags"))
    ttl_seconds = names.clean_ttl(data.get("ttl_seconds"))
    run = None
    if data.get("run") is not None:
        if not isinstance(data["run"], str):
            raise names.field_error("run must be a run id.", "run")
        run = Run.objects.for_team(team).filter(project=project, uid=data["run"]).first()
        if run is None:
            raise names.field_error("run names no run of this project.", "run")
        run_services.run_require_writable(run, actor=actor, permissions=permissions)
    digest = names.manifest_digest(entries, references)
    with transaction.atomic():
        artifact = _artifact_locked(team, project, name, type_, description)
        if artifact.type != type_:
            raise Conflict(
                f"Artifact {name!r} has type {artifact.type!r}, not {type_!r}.",
                code="type_mismatch",
                detail={"type": artifact.type},
            )
        version = (
            ArtifactVersion.objects.for_team(team).filter(artifact=artifact, digest=digest).first()
        )
        created = version is None
        if created:
            version = _version_insert(
                team, artifact, entries, digest, run, actor, description, metadata,
                references=references, ttl_seconds=ttl_seconds,
            )  # fmt: skip
            automation_hooks.version_created(version)  # automations, after commit
        if tags and any(t not in version.tags for t in tags):  # logged again with more tags
            version.tags = [*version.tags, *(t for t in tags if t not in version.tags)]
            version.save(update_fields=["tags"])
        for alias in aliases:
            _artifact_alias_move(team, artifact, alias, version, actor)
        artifact.updated_at = timezone.now()
        artifact.save(update_fields=["updated_at"])
    version.artifact = artifact
    return version, created


def _version_insert(
    team, artifact, entries, digest, run, actor, description, metadata, *,
    references=(), ttl_seconds: int | None = None,
) -> ArtifactVersion:  # fmt: skip
    held = _lock_blobs(team, sorted({e.sha256 for e in entries}))
    missing = sorted({e.sha256 for e in entries} - set(held))
    if missing:
        raise Conflict(
            f"{len(missing)} file(s) were not uploaded.",
            code="missing_blobs",
            detail={"missing": missing},
        )
    for i, entry in enumerate(entries):
        if held[entry.sha256][1] != entry.size:
            raise names.field_error(
                f"size {entry.size} does not match the uploaded content "
                f"({held[entry.sha256][1]} bytes).",
                f"files[{i}].size",
            )
    created_at = timezone.now()
    version = ArtifactVersion.objects.for_team(team).create(
        team=team,
        artifact=artifact,
        index=artifact.next_index,
        digest=digest,
        description=description or "",
        metadata=metadata or {},
        size=sum(e.size for e in entries),
        file_count=len(entries),
        run=run,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=created_at,
        ttl_seconds=ttl_seconds,
        expires_at=_expires_at(created_at, ttl_seconds),
    )
    ArtifactFile.objects.for_team(team).bulk_create(
        [
            ArtifactFile(team=team, version=version, path=e.path, blob_id=held[e.sha256][0])
            for e in entries
        ],
        batch_size=5000,
    )
    # size and file_count stay what the server stores; references are listed apart.
    ArtifactReference.objects.for_team(team).bulk_create(
        [
            ArtifactReference(
                team=team,
                version=version,
                path=r.path,
                uri=r.uri,
                digest=r.digest,
                size=r.size,
                extra=r.extra,
            )
            for r in references
        ],
        batch_size=5000,
    )
    artifact.next_index += 1
    artifact.save(update_fields=["next_index"])
    return version


def artifact_update(*, artifact: Artifact, data: dict) -> Artifact:
    description = _description(data)
    if description is not None:
        artifact.description = description
        artifact.updated_at = timezone.now()
        artifact.save(update_fields=["description", "updated_at"])
    return artifact


def _expires_at(created_at, ttl_seconds: int | None):
    return None if ttl_seconds is None else created_at + timedelta(seconds=ttl_seconds)


def _refuse_ttl_if_linked(version: ArtifactVersion) -> None:
    links = RegisteredModelVersion.objects.for_team(version.team).filter(source=version)
    if links.exists():
        models_ = sorted(links.values_list("registered_model__name", flat=True))
        raise Conflict(
            f"{version.label} is linked to the model registry ({', '.join(models_)}); "
            "a linked version never expires, so it cannot have a ttl. Unlink it first.",
            code="linked_ttl",
            detail={"field": "ttl_seconds", "registered_models": models_},
        )


def version_update(*, version: ArtifactVersion, data: dict) -> ArtifactVersion:
    """Description, metadata, tags and, with `ttl_seconds` in the body, the time-to-live
    (counted from the version's creation; null: never expires). A version a registered
    model links cannot get one (409 linked_ttl)."""
    description, metadata = _description(data), _metadata(data)
    tags = names.clean_tags(data.get("tags"))
    change_ttl = "ttl_seconds" in data
    ttl_seconds = names.clean_ttl(data.get("ttl_seconds"))
    team = version.team
    with transaction.atomic():
        # Locked against a concurrent link (which clears the ttl under the same lock).
        locked = ArtifactVersion.objects.for_team(team).select_for_update().get(pk=version.pk)
        locked.team, locked.artifact = team, version.artifact
        if change_ttl and ttl_seconds is not None:
            _refuse_ttl_if_linked(locked)
        if description is not None:
            locked.description = description
        if metadata is not None:
            locked.metadata = metadata
        if tags is not None:
            locked.tags = tags
        fields = ["description", "metadata", "tags"]
        if change_ttl:
            locked.ttl_seconds = ttl_seconds
            locked.expires_at = _expires_at(locked.created_at, ttl_seconds)
            fields += ["ttl_seconds", "expires_at"]
        locked.save(update_fields=fields)
    for field in ("description", "metadata", "tags", "ttl_seconds", "expires_at"):
        setattr(version, field, getattr(locked, field))
    return version


def versions_expire(*, team, now=None) -> int:
    """Delete the team's versions whose time-to-live has run out (expires_at <= `now`),
    with their aliases (one alias event each, no actor), as `version_delete` does; their
    blobs go with the next blob garbage collection. A version a registered model links
    is skipped. Idempotent and safe to run concurrently: each version is re-checked under
    its artifact's lock and its own. Returns how many were deleted."""
    now = now or timezone.now()
    candidates = list(
        ArtifactVersion.objects.for_team(team)
        .filter(expires_at__lte=now)
        .exclude(pk__in=RegisteredModelVersion.objects.for_team(team).values("source_id"))
        .select_related("artifact__project")
        .order_by("expires_at", "pk")
    )
    deleted = 0
    for version in candidates:
        version.team = team
        with transaction.atomic():
            artifact = version.artifact
            try:
                _artifact_locked(team, artifact.project, artifact.name, None, None)
            except NotFound:
                continue  # the whole artifact was deleted meanwhile
            still = (
                ArtifactVersion.objects.for_team(team)
                .select_for_update(skip_locked=True)
                .filter(pk=version.pk, expires_at__lte=now)
                .first()
            )
            if still is None:
                continue  # gone, given a new ttl, or held by a link in progress
            if RegisteredModelVersion.objects.for_team(team).filter(source=version).exists():
                continue  # linked since: registry versions never expire
            version_delete(version=version, delete_aliases=True, actor=None)
            deleted += 1
    return deleted


def version_delete(*, version: ArtifactVersion, delete_aliases: bool, actor) -> None:
    team = version.team
    with transaction.atomic():
        artifact = version.artifact
        artifact = _artifact_locked(team, artifact.project, artifact.name, None, None)
        if RegisteredModelVersion.objects.for_team(team).filter(source=version).exists():
            raise Conflict("A registered model links this version; unlink it first.", code="linked")
        held = list(ArtifactAlias.objects.for_team(team).filter(version=version))
        if held and not delete_aliases:
            raise Conflict(
                f"{version.label} holds aliases ({', '.join(sorted(a.alias for a in held))}); "
                "move them first, or delete them with the version.",
                code="has_aliases",
                detail={"aliases": sorted(a.alias for a in held)},
            )
        for alias in held:
            _event(team, alias.alias, version.label, "", actor, artifact=artifact)
        ArtifactVersion.objects.for_team(team).filter(pk=version.pk).delete()
        comments_remove(team, "artifact_version", [version.pk])


def artifact_delete(*, artifact: Artifact) -> None:
    team = artifact.team
    with transaction.atomic():
        artifact = _artifact_locked(team, artifact.project, artifact.name, None, None)
        linked = RegisteredModelVersion.objects.for_team(team).filter(source__artifact=artifact)
        if linked.exists():
            raise Conflict(
                "A registered model links a version of this artifact; unlink it first.",
                code="linked",
            )
        versions = ArtifactVersion.objects.for_team(team).filter(artifact=artifact)
        version_ids = list(versions.values_list("pk", flat=True))
        Artifact.objects.for_team(team).filter(pk=artifact.pk).delete()
        comments_remove(team, "artifact_version", version_ids)


def _event(team, alias, from_label, to_label, actor, **target) -> None:
    event = AliasEvent.objects.for_team(team).create(
        team=team,
        alias=alias,
        from_version=from_label,
        to_version=to_label,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        **target,
    )
    automation_hooks.alias_event_recorded(event)  # notices and automations, after commit


def _alias_move(team, alias_model, owner_field: str, owner, alias: str, version, actor) -> None:
    """Point `alias` of `owner` (an artifact or a registered model, whose row the caller
    holds locked) at `version`, recording one alias event per actual move."""
    owner_filter = {owner_field: owner}
    current = (
        alias_model.objects.for_team(team)
        .filter(alias=alias, **owner_filter)
        .select_related("version")
        .first()
    )
    if current is not None and current.version_id == version.pk:
        return
    previous = ""
    if current is None:
        alias_model.objects.for_team(team).create(
            team=team, version=version, alias=alias, **owner_filter
        )
    else:
        previous = current.version.label
        current.version = version
        current.updated_at = timezone.now()
        current.save(update_fields=["version", "updated_at"])
    _event(team, alias, previous, version.label, actor, **owner_filter)


def _artifact_alias_move(team, artifact, alias: str, version: ArtifactVersion, actor) -> None:
    _alias_move(team, ArtifactAlias, "artifact", artifact, alias, version, actor)


def artifact_alias_set(*, artifact: Artifact, alias: str, ref: Any, actor) -> ArtifactVersion:
    alias = names.clean_alias(alias)
    ref = names.clean_ref(ref, "version")
    team = artifact.team
    with transaction.atomic():
        artifact = _artifact_locked(team, artifact.project, artifact.name, None, None)
        try:
            version = version_resolve(team, artifact, ref)
        except NotFound as exc:
            raise names.field_error(exc.message, "version") from None
        _artifact_alias_move(team, artifact, alias, version, actor)
    return version


def artifact_alias_delete(*, artifact: Artifact, alias: str, actor) -> None:
    team = artifact.team
    with transaction.atomic():
        artifact = _artifact_locked(team, artifact.project, artifact.name, None, None)
        current = (
            ArtifactAlias.objects.for_team(team)
            .filter(artifact=artifact, alias=alias)
            .select_related("version")
            .first()
        )
        if current is None:
            raise NotFound(f"Artifact {artifact.name!r} has no alias {alias!r}.")
        current.delete()
        _event(team, alias, current.version.label, "", actor, artifact=artifact)


def usage_record(*, run: Run, version: ArtifactVersion) -> None:
    """Lineage: `run` used `version`. Idempotent."""
    ArtifactUsage.objects.for_team(run.team).bulk_create(
        [ArtifactUsage(team_id=run.team_id, run=run, version=version)], ignore_conflicts=True
    )


# --------------------------------------------------------------------------- registered models


def _model_locked(team, name: str, *, create: bool = False, actor=None, description=None):
    qs = RegisteredModel.objects.for_team(team).select_for_update(no_key=True)
    model = qs.filter(name=name).first()
    if model is not None:
        model.team = team
        return model
    if not create:
        raise NotFound("Registered model not found.")
    try:
        with transaction.atomic():
            RegisteredModel.objects.for_team(team).create(
                team=team,
                name=name,
                description=description or "",
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        pass  # created concurrently; lock that one
    model = qs.get(name=name)
    model.team = team
    return model


def registered_model_create(*, team, data: dict, actor) -> RegisteredModel:
    name = names.clean_model_name(data.get("name"))
    description = _description(data)
    try:
        with transaction.atomic():
            return RegisteredModel.objects.for_team(team).create(
                team=team,
                name=name,
                description=description or "",
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise Conflict(
            f"A registered model named {name!r} exists.", code="exists", detail={"field": "name"}
        ) from None


def registered_model_update(*, model: RegisteredModel, data: dict) -> RegisteredModel:
    description = _description(data)
    if description is not None:
        model.description = description
        model.updated_at = timezone.now()
        model.save(update_fields=["description", "updated_at"])
    return model


def registered_model_delete(*, model: RegisteredModel) -> None:
    with transaction.atomic():
        RegisteredModel.objects.for_team(model.team).filter(pk=model.pk).delete()
        comments_remove(model.team, "registered_model", [model.pk])


def registered_model_link(
    *,
    team,
    name: str,
    source: ArtifactVersion,
    aliases: Any,
    actor,
    permissions: frozenset[str],
) -> tuple[RegisteredModelVersion, bool]:
    """Link a model version into the team's registered model `name` (created on first
    link). Linking the same source again returns the existing link (created False).
    Setting aliases other than `latest` is a promotion: it needs registry:promote."""
    name = names.clean_model_name(name)
    aliases = names.clean_aliases(aliases)
    if aliases and roles.REGISTRY_PROMOTE not in permissions:
        raise PermissionDenied(
            f"Setting aliases {aliases} on a registered model needs the "
            f"{roles.REGISTRY_PROMOTE!r} permission."
        )
    if source.artifact.type != "model":
        raise names.field_error(
            f"Only artifacts of type 'model' can be linked (this one is {source.artifact.type!r}).",
            "artifact",
        )
    with transaction.atomic():
        model = _model_locked(team, name, create=True, actor=actor)
        # A registry version never expires (W&B disables the ttl on link): cleared under
        # the version's lock, which version_update and versions_expire take too.
        locked = ArtifactVersion.objects.for_team(team).select_for_update().filter(pk=source.pk)
        held = list(locked.values_list("ttl_seconds", flat=True))
        if not held:
            raise NotFound("Artifact version not found.")  # deleted (or expired) just now
        if held[0] is not None:
            locked.update(ttl_seconds=None, expires_at=None)
        source.ttl_seconds = source.expires_at = None
        link = (
            RegisteredModelVersion.objects.for_team(team)
            .filter(registered_model=model, source=source)
            .first()
        )
        created = link is None
        if created:
            link = RegisteredModelVersion.objects.for_team(team).create(
                team=team,
                registered_model=model,
                index=model.next_index,
                source=source,
                linked_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            model.next_index += 1
        model.updated_at = timezone.now()
        model.save(update_fields=["next_index", "updated_at"])
        for alias in aliases:
            _model_alias_move(team, model, alias, link, actor)
    return link, created


def _model_alias_move(team, model, alias: str, link: RegisteredModelVersion, actor) -> None:
    _alias_move(team, RegisteredModelAlias, "registered_model", model, alias, link, actor)


def registered_model_alias_set(
    *, model: RegisteredModel, alias: str, ref: Any, actor
) -> RegisteredModelVersion:
    alias = names.clean_alias(alias)
    ref = names.clean_ref(ref, "version")
    team = model.team
    with transaction.atomic():
        model = _model_locked(team, model.name)
        try:
            link = registered_model_version_resolve(team, model, ref)
        except NotFound as exc:
            raise names.field_error(exc.message, "version") from None
        _model_alias_move(team, model, alias, link, actor)
    return link


def registered_model_alias_delete(*, model: RegisteredModel, alias: str, actor) -> None:
    team = model.team
    with transaction.atomic():
        model = _model_locked(team, model.name)
        current = (
            RegisteredModelAlias.objects.for_team(team)
            .filter(registered_model=model, alias=alias)
            .select_related("version")
            .first()
        )
        if current is None:
            raise NotFound(f"Registered model {model.name!r} has no alias {alias!r}.")
        current.delete()
        _event(team, alias, current.version.label, "", actor, registered_model=model)


def registered_model_unlink(*, link: RegisteredModelVersion, actor) -> None:
    team = link.team
    with transaction.atomic():
        model = _model_locked(team, link.registered_model.name)
        for alias in RegisteredModelAlias.objects.for_team(team).filter(version=link):
            _event(team, alias.alias, link.label, "", actor, registered_model=model)
        RegisteredModelVersion.objects.for_team(team).filter(pk=link.pk).delete()
