"""Media API views (thin): the run's media index, one item, its file, and a table's rows.
Mounted under /api/v1/teams/<team>/projects/<project>/runs/<run>/media (api_urls.py)."""

from __future__ import annotations

import posixpath

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response, stored_file_response
from apps.api.schema import int_query
from apps.core.errors import DomainError
from apps.media import selectors, services
from apps.media.models import MediaItem, MediaType
from apps.runs.api_views import RunsAPIView
from apps.runs.bodies import request_json
from apps.runs.selectors import runs as run_selectors

# Served media never runs in the app's origin: `sandbox` gives the document an opaque
# origin (no cookies, no storage, no access to the app's DOM, even when opened
# directly). HTML may run its own inline scripts inside that sandbox (plotly exports
# need them) but load and send nothing; everything else runs no script at all.
SANDBOX = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)
HTML_SANDBOX = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data: blob:; media-src data: blob:; font-src data:; "
    "frame-ancestors 'self'"
)
MEDIA_QUERY = [
    OpenApiParameter("key", str, description="Only this key."),
    OpenApiParameter("type", str, enum=MediaType.values, description="Only this media type."),
    int_query("step", "Only this step."),
    int_query("min_step", "Steps from this one."),
    int_query("max_step", "Steps up to this one."),
    int_query("offset", "Skip this many items.", default=0),
    int_query("limit", "Items per page.", minimum=1, maximum=selectors.MAX_PAGE, default=100),
]


def _int(request, name: str, default=None, minimum: int = 0, maximum: int = 2**53):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(f"{name} must be an integer.", detail={"field": name}) from None
    if not minimum <= value <= maximum:
        raise DomainError(f"{name} must be from {minimum} to {maximum}.", detail={"field": name})
    return value


def item_out(request, team: str, project: str, run: str, item: MediaItem) -> dict:
    out = {
        "id": item.pk,
        "key": item.key,
        "step": item.step,
        "index": item.index,
        "type": item.type,
        "format": item.format,
        "content_type": item.content_type,
        "size": item.size,
        "sha256": item.sha256,
        "wall_time": item.wall_time,
        "metadata": item.metadata,
    }
    kwargs = {"team": team, "project": project, "run": run, "media_id": item.pk}
    if item.file_id is not None and item.type not in (MediaType.TABLE, MediaType.CHART):
        out["file_url"] = reverse("api:run-media-file", kwargs=kwargs)
    if item.type in (MediaType.TABLE, MediaType.CHART):
        out["rows_url"] = reverse("api:run-media-rows", kwargs=kwargs)
    return out


class MediaAPIView(RunsAPIView):
    """The run API's base: Server-Timing, and get_run applying run ownership to writes."""


class MediaListView(MediaAPIView):
    @extend_schema(parameters=MEDIA_QUERY, responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, run):
        record = self.get_run(run)
        items, more = selectors.media_list(
            self.team,
            record,
            key=request.query_params.get("key"),
            media_type=request.query_params.get("type"),
            step=_int(request, "step"),
            min_step=_int(request, "min_step"),
            max_step=_int(request, "max_step"),
            offset=_int(request, "offset", 0, maximum=10**9),
            limit=_int(request, "limit", 100, 1, selectors.MAX_PAGE),
        )
        return json_response(
            {"items": [item_out(request, team, project, run, i) for i in items], "more": more}
        )

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
        summary="Register media items whose files were uploaded as run files",
    )
    def post(self, request, team, project, run):
        record = self.get_run(run)
        result = services.media_register(run=record, body=request_json(request))
        return json_response(result.body())


class MediaKeysView(MediaAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, run):
        return json_response({"keys": selectors.media_keys(self.team, self.get_run(run))})


class MediaDetailView(MediaAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, run, media_id):
        item = selectors.media_get(self.team, self.get_run(run), media_id)
        return json_response(item_out(request, team, project, run, item))


class MediaFileView(MediaAPIView):
    """The item's bytes with the Content-Type found when it was validated, inline (so
    <img>, <audio>, <video> and sandboxed frames can show it) and always under the
    sandbox policy above; ?mask=<name> serves one of an image's masks."""

    @extend_schema(
        parameters=[OpenApiParameter("mask", str, description="One of the image's masks.")],
        responses={(200, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request, team, project, run, media_id):
        item = selectors.media_get(self.team, self.get_run(run), media_id)
        stored = selectors.media_file(self.team, item, mask=request.query_params.get("mask"))
        response = stored_file_response(
            request,
            stored.storage_name,
            size=stored.size,
            path=stored.path,
            content_type=stored.content_type,
            etag=stored.sha256,
        )
        filename = posixpath.basename(stored.path).replace('"', "")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        response["Content-Security-Policy"] = HTML_SANDBOX if item.type == "html" else SANDBOX
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Frame-Options"] = "SAMEORIGIN"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response


class MediaRowsView(MediaAPIView):
    @extend_schema(
        parameters=[
            int_query("offset", "First row (after sorting and filtering).", default=0),
            int_query(
                "limit", "Rows per page.", minimum=1, maximum=selectors.MAX_TABLE_PAGE, default=50
            ),
            OpenApiParameter("sort", str, description="Column to sort by."),
            OpenApiParameter("order", str, enum=["asc", "desc"], description="Sort direction."),
            OpenApiParameter("filters", str, description='JSON list of {"column", "op", "value"}.'),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, team, project, run, media_id):
        item = selectors.media_get(self.team, self.get_run(run), media_id)
        order = request.query_params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise DomainError("order must be asc or desc.", detail={"field": "order"})
        page = selectors.table_page(
            self.team,
            item,
            offset=_int(request, "offset", 0, maximum=10**9),
            limit=_int(request, "limit", 50, 1, selectors.MAX_TABLE_PAGE),
            sort=request.query_params.get("sort") or None,
            descending=order == "desc",
            filters=selectors.parse_filters(request.query_params.get("filters")),
        )
        return json_response(
            {
                "columns": page.columns,
                "rows": page.rows,
                "total": page.total,
                "offset": page.offset,
            }
        )


# --------------------------------------------------------------------------- across runs


def _runs(view: MediaAPIView, request) -> list:
    raw = request.query_params.get("runs") or ""
    uids = [u for u in (part.strip() for part in raw.split(",")) if u]
    if not uids or len(uids) > selectors.MAX_RUNS:
        raise DomainError(
            f"runs must list 1-{selectors.MAX_RUNS} run ids.", detail={"field": "runs"}
        )
    found = {r.uid: r for r in run_selectors.runs_get_many(view.team, view.project, uids)}
    # Unknown (or another team's) ids are left out, as the history routes do; order kept.
    return [found[u] for u in dict.fromkeys(uids) if u in found]


RUNS_QUERY = OpenApiParameter("runs", str, required=True, description="Run ids, comma-separated.")


class ProjectMediaKeysView(MediaAPIView):
    @extend_schema(parameters=[RUNS_QUERY], responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project):
        runs = _runs(self, request)
        return json_response({"keys": selectors.media_keys_across_runs(self.team, runs)})


class ProjectMediaView(MediaAPIView):
    """One key for several runs at (or nearest before) a step: the image grid's columns."""

    @extend_schema(
        parameters=[
            RUNS_QUERY,
            OpenApiParameter("key", str, required=True, description="The media key."),
            int_query("step", "Show each run's items at this step or its nearest before."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, team, project):
        runs = _runs(self, request)
        key = request.query_params.get("key")
        if not key or len(key) > 255 or "\x00" in key:
            raise DomainError("key must name a media key.", detail={"field": "key"})
        step = _int(request, "step")
        found = selectors.media_across_runs(self.team, runs, key, step)
        return json_response(
            {
                "key": key,
                "step": step,
                "steps": found.steps,
                "steps_truncated": found.steps_truncated,
                "runs": [
                    {
                        "run": run.uid,
                        "step": found.at[run.uid][0],
                        "items": [
                            item_out(request, team, project, run.uid, i)
                            for i in found.at[run.uid][1]
                        ],
                    }
                    for run in runs
                ],
            }
        )


class MediaHistogramView(MediaAPIView):
    """A histogram key of one run over time, re-binned by the server (the heatmap)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("key", str, required=True, description="The histogram key."),
            int_query(
                "bins", "Common bins.", minimum=2, maximum=selectors.MAX_HEATMAP_BINS, default=64
            ),
            int_query(
                "max_steps",
                "Steps at most.",
                minimum=1,
                maximum=selectors.MAX_HEATMAP_STEPS,
                default=200,
            ),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, team, project, run):
        record = self.get_run(run)
        key = request.query_params.get("key")
        if not key or len(key) > 255 or "\x00" in key:
            raise DomainError("key must name a histogram key.", detail={"field": "key"})
        heatmap = selectors.histogram_heatmap(
            self.team,
            record,
            key,
            bins=_int(request, "bins", 64, 2, selectors.MAX_HEATMAP_BINS),
            max_steps=_int(request, "max_steps", 200, 1, selectors.MAX_HEATMAP_STEPS),
        )
        return json_response(
            {
                "key": key,
                "steps": heatmap.steps,
                "edges": heatmap.edges,
                "counts": heatmap.counts,
                "total_steps": heatmap.total_steps,
            }
        )


# --------------------------------------------------------------------------- chart presets


def preset_out(preset) -> dict:
    return {
        "id": preset.pk,
        "name": preset.name,
        "spec": preset.spec,
        "created_by": preset.created_by.email if preset.created_by_id else None,
        "created_at": preset.created_at.isoformat(),
        "updated_at": preset.updated_at.isoformat(),
    }


class ChartPresetListView(GradlineAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The team's custom chart presets")
    def get(self, request, team):
        return json_response(
            {"presets": [preset_out(p) for p in selectors.presets_list(self.team)]}
        )

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, team):
        preset = services.preset_create(
            team=self.team, actor=request.user, data=request_json(request)
        )
        return json_response(preset_out(preset), status=201)


class ChartPresetDetailView(GradlineAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, preset_id):
        return json_response(preset_out(selectors.preset_get(self.team, preset_id)))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request, team, preset_id):
        preset = selectors.preset_get(self.team, preset_id)
        return json_response(
            preset_out(services.preset_update(preset=preset, data=request_json(request)))
        )

    @extend_schema(responses={204: None})
    def delete(self, request, team, preset_id):
        services.preset_delete(preset=selectors.preset_get(self.team, preset_id))
        return HttpResponse(status=204)
