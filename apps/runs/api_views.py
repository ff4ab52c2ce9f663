"""Run-tracking API views: thin — read parameters, call a selector or service, shape output.

Hot paths (ingest, charts, scans) answer with orjson-encoded HttpResponses instead of DRF
renderers; every view still goes through GradlineAPIView (authentication, team scope and
the policy table).
"""

from __future__ import annotations

import time

import orjson
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response, stored_file_response, streaming
from apps.api.schema import int_query
from apps.core.errors import DomainError
from apps.runs import ingest, serializers, services
from apps.runs import schema as sc
from apps.runs.bodies import request_json
from apps.runs.selectors import history
from apps.runs.selectors import runs as run_selectors


def _param_int(request, name: str, default=None, minimum: int = 0, maximum: int = 2**63 - 1):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(f"{name} must be an integer.", detail={"field": name}) from None
    if not minimum <= value <= maximum:  # the default maximum is PostgreSQL's bigint's
        raise DomainError(f"{name} must be from {minimum} to {maximum}.", detail={"field": name})
    return value


def _param_list(request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return [item for item in (part.strip() for part in raw.split(",")) if item]


_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def _param_bool(request, name: str) -> bool:
    value = request.query_params.get(name, "").lower()
    if value not in _TRUE and value not in _FALSE:  # e.g. "null": a client bug, not false
        raise DomainError(f"{name} must be true or false.", detail={"field": name})
    return value in _TRUE


class RunsAPIView(GradlineAPIView):
    def dispatch(self, request, *args, **kwargs):
        self._started = time.perf_counter()
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        # Server time from authentication to the response (streams: to the first byte).
        elapsed = (time.perf_counter() - self._started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed:.2f}"
        return super().finalize_response(request, response, *args, **kwargs)

    def get_run(self, uid: str):
        """The URL's run (404 when the project has none by that id). For a write, the
        run-ownership rule of the route's policy entry applies here, for every run route:
        a member's `runs:write_own` reaches only the runs it created (else 403)."""
        run = run_selectors.run_get(self.team, self.project, uid)
        self.scope.require_owner(run.created_by_id, what="run")
        return run


# --------------------------------------------------------------------------- runs


class RunListView(RunsAPIView):
    @extend_schema(parameters=sc.RUN_QUERY_PARAMETERS, responses=sc.RunPageOut)
    def get(self, request, team, project):
        columns = _param_list(request, "columns")
        if columns:
            unknown = serializers.valid_columns(columns)
            if unknown:
                raise DomainError(f"Unknown columns {unknown}.", detail={"field": "columns"})
        filters = request.query_params.get("filters")
        if filters:
            try:
                filters = orjson.loads(filters)
            except orjson.JSONDecodeError as exc:
                raise DomainError(
                    "filters must be JSON.", code="invalid_query", detail={"field": "filters"}
                ) from exc
        shortcuts = {
            name: request.query_params[name]
            for name in ("state", "group", "job_type", "user")
            if request.query_params.get(name)
        }
        tags = _param_list(request, "tags")
        if tags:
            shortcuts["tags"] = {"$in": tags}
        if shortcuts:
            filters = {"$and": [filters, shortcuts]} if filters else shortcuts
        page = run_selectors.runs_query(
            self.team,
            self.project,
            filters=filters,
            order=request.query_params.get("order"),
            cursor=request.query_params.get("cursor"),
            page_size=_param_int(request, "page_size", 50, 1, run_selectors.MAX_PAGE_SIZE),
            with_total=_param_bool(request, "with_total"),
        )
        body = {
            "results": [serializers.run_out(run, columns) for run in page.runs],
            "next_cursor": page.next_cursor,
        }
        if page.total is not None:
            body["total"] = page.total
        return json_response(body)

    @extend_schema(
        request=sc.RunIn,
        responses={201: sc.RunCreatedOut, 200: sc.RunCreatedOut},
        summary="Create a run, or resume one (creates the project on first use)",
    )
    def post(self, request, team, project):
        run, created, project_obj = services.run_create_or_resume(
            team=self.team,
            project=self.project,
            project_name=project,
            actor=request.user,
            data=request_json(request),
            permissions=self.scope.permissions,
        )
        run.team, run.project = self.team, project_obj
        body = serializers.run_out(run, detail=True)
        body["resumed"] = not created
        body["high_water"] = services.high_water(run)
        user_steps = [
            s for k, s in body["high_water"].items() if not k.startswith(ingest.SYSTEM_PREFIX)
        ]
        body["last_step"] = max(user_steps) if user_steps else None
        # Where a resumed client's console lines continue (it numbers them for exactly-once).
        body["console_next"] = run.console_next
        return json_response(body, status=201 if created else 200)


class RunDetailView(RunsAPIView):
    @extend_schema(responses=sc.RunWithMetricsOut)
    def get(self, request, team, project, run):
        target = self.get_run(run)
        body = serializers.run_out(target, detail=True)
        body["metrics"] = run_selectors.run_metric_stats(self.team, target)
        return json_response(body)

    @extend_schema(request=sc.RunPatchIn, responses=sc.RunDetailOut)
    def patch(self, request, team, project, run):
        updated = services.run_update(run=self.get_run(run), data=request_json(request))
        updated.team, updated.project = self.team, self.project
        return json_response(serializers.run_out(updated, detail=True))

    @extend_schema(responses={204: None}, summary="Delete (members: only their own runs)")
    def delete(self, request, team, project, run):
        services.run_delete(
            run=self.get_run(run), actor=request.user, permissions=self.scope.permissions
        )
        return HttpResponse(status=204)


class RunHeartbeatView(RunsAPIView):
    @extend_schema(request=None, responses=sc.StateOut)
    def post(self, request, team, project, run):
        updated = services.run_heartbeat(run=self.get_run(run))
        return json_response({"state": updated.state})


class RunFinishView(RunsAPIView):
    @extend_schema(request=sc.FinishIn, responses=sc.RunDetailOut)
    def post(self, request, team, project, run):
        updated = services.run_finish(run=self.get_run(run), data=request_json(request))
        updated.team, updated.project = self.team, self.project
        return json_response(serializers.run_out(updated, detail=True))


class RunIngestView(RunsAPIView):
    @extend_schema(
        request={
            "application/json": sc.IngestIn,
            "application/x-gradline-batch": OpenApiTypes.BINARY,
        },
        responses={200: sc.IngestOut, 413: OpenApiResponse(description="Body too large")},
        summary="Store a batch of points, system metrics, console lines, summary",
    )
    def post(self, request, team, project, run):
        target = self.get_run(run)
        batch = ingest.decode_request(
            request.body,
            request.headers.get("Content-Encoding", ""),
            request.headers.get("Content-Type", ""),
        )
        result = services.run_ingest(run=target, batch=batch)
        return json_response(result.as_dict())


# --------------------------------------------------------------------------- history


def _charts(view, request, runs) -> list[dict]:
    keys = _param_list(request, "keys")
    if not keys:
        raise DomainError("keys is required (comma-separated).", detail={"field": "keys"})
    return history.charts(
        view.team,
        runs,
        keys=keys,
        x_axis=request.query_params.get("x_axis") or "_step",
        min_step=_param_int(request, "min_step"),
        max_step=_param_int(request, "max_step"),
        buckets=_param_int(request, "buckets", 1000, 1, history.MAX_BUCKETS),
    )


class RunHistoryView(RunsAPIView):
    @extend_schema(parameters=sc.CHART_PARAMETERS, responses=sc.ChartOut)
    def get(self, request, team, project, run):
        return json_response(_charts(self, request, [self.get_run(run)])[0])


class ProjectHistoryView(RunsAPIView):
    """Chart series of several runs at once (workspace panels): runs=a,b&keys=…"""

    MAX_RUNS = 100

    @extend_schema(
        parameters=sc.PROJECT_CHART_PARAMETERS,
        responses=sc.ChartsOut,
    )
    def get(self, request, team, project):
        uids = _param_list(request, "runs") or []
        if not uids or len(uids) > self.MAX_RUNS:
            raise DomainError(
                f"runs must list 1-{self.MAX_RUNS} run ids.", detail={"field": "runs"}
            )
        runs = run_selectors.runs_get_many(self.team, self.project, uids)
        # One read for all runs (history.charts), not one per run.
        return json_response({"runs": _charts(self, request, runs)})


class RunScanView(RunsAPIView):
    @extend_schema(parameters=sc.SCAN_PARAMETERS, responses=sc.ScanOut)
    def get(self, request, team, project, run):
        page = history.scan(
            self.team,
            self.get_run(run),
            keys=_param_list(request, "keys"),
            min_step=_param_int(request, "min_step"),
            max_step=_param_int(request, "max_step"),
            page_size=_param_int(request, "page_size", 1000, 1, history.MAX_SCAN_PAGE),
            cursor=_param_int(request, "cursor"),
            require_all=_param_bool(request, "require_all"),
        )
        cursor = str(page.next_cursor) if page.next_cursor is not None else None
        return json_response({"rows": page.rows, "next_cursor": cursor})


class RunExportCsvView(RunsAPIView):
    """Full resolution, streamed: key,step,value,wall_time rows."""

    @extend_schema(
        parameters=sc.EXPORT_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, team, project, run):
        target = self.get_run(run)
        chunks = history.export_csv(self.team, target, _param_list(request, "keys"))
        return streaming(
            request,
            chunks,
            "text/csv; charset=utf-8",
            Content_Disposition=f'attachment; filename="{target.uid}.csv"',
        )


class RunExportParquetView(RunsAPIView):
    """Full resolution, streamed: a Parquet file with one row group per chunk."""

    @extend_schema(
        parameters=sc.EXPORT_PARAMETERS,
        responses={(200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY},
    )
    def get(self, request, team, project, run):
        target = self.get_run(run)
        chunks = history.export_parquet(self.team, target, _param_list(request, "keys"))
        return streaming(
            request,
            chunks,
            "application/vnd.apache.parquet",
            Content_Disposition=f'attachment; filename="{target.uid}.parquet"',
        )


class MetricKeyListView(RunsAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("prefix", str, description="Only keys starting with this."),
            OpenApiParameter("include_system", bool, description="Include system/* keys."),
        ],
        responses=sc.KeysOut,
    )
    def get(self, request, team, project):
        names = run_selectors.project_metric_keys(
            self.team,
            self.project,
            prefix=request.query_params.get("prefix", ""),
            include_system=_param_bool(request, "include_system"),
        )
        return json_response({"keys": names})


# --------------------------------------------------------------------------- files, console


class RunFileListView(RunsAPIView):
    @extend_schema(responses=sc.FilesOut)
    def get(self, request, team, project, run):
        files = run_selectors.run_files(self.team, self.get_run(run))
        return json_response({"files": [serializers.file_out(f) for f in files]})


class RunFileDetailView(RunsAPIView):
    # Served (as an attachment) with the Content-Type it was uploaded with.
    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, team, project, run, path):
        record = run_selectors.run_file_get(self.team, self.get_run(run), path)
        return stored_file_response(
            request,
            record.storage_name,
            size=record.size,
            path=record.path,
            content_type=record.content_type,
        )

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: sc.FileOut},
        summary="Upload (or replace) a file; the raw body is the content",
    )
    def put(self, request, team, project, run, path):
        record = services.run_file_put(
            run=self.get_run(run),
            path=path,
            stream=request.stream,
            content_type=request.content_type or "",
        )
        return json_response(serializers.file_out(record), status=201)

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, run, path):
        services.run_file_delete(run=self.get_run(run), path=path)
        return HttpResponse(status=204)


class RunConsoleView(RunsAPIView):
    @extend_schema(
        parameters=[
            int_query("offset", "First line index.", default=0),
            int_query("limit", "Lines per page.", minimum=1, maximum=10_000, default=1000),
        ],
        responses=sc.ConsoleOut,
    )
    def get(self, request, team, project, run):
        offset = _param_int(request, "offset", 0)
        limit = _param_int(request, "limit", 1000, 1, 10_000)
        lines = run_selectors.console_lines(
            self.team, self.get_run(run), offset=offset, limit=limit
        )
        next_offset = lines[-1].line + 1 if lines else offset
        return json_response(
            {"lines": [serializers.console_out(line) for line in lines], "next_offset": next_offset}
        )


# --------------------------------------------------------------------------- grouped charts


def _param_filters(request):
    """The runs-query filter JSON of `filters=` (None when absent)."""
    raw = request.query_params.get("filters")
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DomainError(
            "filters must be JSON.", code="invalid_query", detail={"field": "filters"}
        ) from exc


class ProjectGroupedHistoryView(RunsAPIView):
    """Grouped chart series: one line per group with mean +/- std and min-max bands, over
    runs picked by `runs=` ids or a runs-query `filters=` (docs/api.md)."""

    @extend_schema(parameters=sc.GROUPED_PARAMETERS, responses=sc.GroupedChartOut)
    def get(self, request, team, project):
        keys = _param_list(request, "keys")
        if not keys:
            raise DomainError("keys is required (comma-separated).", detail={"field": "keys"})
        uids = _param_list(request, "runs")
        if uids is not None and not 1 <= len(uids) <= run_selectors.MAX_CHART_RUNS:
            raise DomainError(
                f"runs must list 1-{run_selectors.MAX_CHART_RUNS} run ids.",
                detail={"field": "runs"},
            )
        chosen = run_selectors.chart_runs(
            self.team,
            self.project,
            group_by=request.query_params.get("group_by"),
            filters=_param_filters(request),
            uids=uids,
        )
        body = history.grouped_chart(
            self.team,
            chosen.runs,
            keys=keys,
            x_axis=request.query_params.get("x_axis") or "_step",
            min_step=_param_int(request, "min_step"),
            max_step=_param_int(request, "max_step"),
            buckets=_param_int(request, "buckets", 1000, 1, history.MAX_BUCKETS),
        )
        body["group_by"] = request.query_params["group_by"]
        body["runs_matched"] = chosen.matched
        body["truncated"] = chosen.truncated
        return json_response(body)
