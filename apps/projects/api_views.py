"""Project-level API views beyond the project itself: saved workspace views and parameter
importance. Thin: read the request, call a selector or service, shape the answer."""

from __future__ import annotations

import orjson
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response
from apps.core.errors import field_error
from apps.projects import schema as sc
from apps.projects import selectors, services
from apps.runs.bodies import request_json
from apps.runs.selectors import importance


def view_out(view) -> dict:
    return {
        "id": view.pk,
        "name": view.name,
        "is_default": view.is_default,
        "spec": view.spec,
        "created_by": view.created_by.email if view.created_by_id else None,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }


class SavedViewListView(GradlineAPIView):
    @extend_schema(responses=sc.ViewListOut, summary="The project's saved views")
    def get(self, request, team, project):
        views = selectors.views_list(self.team, self.project)
        return json_response({"views": [view_out(v) for v in views]})

    @extend_schema(request=sc.ViewIn, responses={201: sc.ViewOut}, summary="Save a view")
    def post(self, request, team, project):
        view = services.view_create(
            team=self.team, project=self.project, actor=request.user, data=request_json(request)
        )
        return json_response(view_out(view), status=201)


class SavedViewDetailView(GradlineAPIView):
    @extend_schema(responses=sc.ViewOut)
    def get(self, request, team, project, view_id):
        return json_response(view_out(selectors.view_get(self.team, self.project, view_id)))

    @extend_schema(request=sc.ViewPatchIn, responses=sc.ViewOut, summary="Rename, update, default")
    def patch(self, request, team, project, view_id):
        view = selectors.view_get(self.team, self.project, view_id)
        updated = services.view_update(view=view, data=request_json(request))
        return json_response(view_out(updated))

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, view_id):
        services.view_delete(view=selectors.view_get(self.team, self.project, view_id))
        return HttpResponse(status=204)


class ParameterImportanceView(GradlineAPIView):
    """Correlation and random-forest importance of config fields for a summary metric."""

    @extend_schema(
        parameters=[
            OpenApiParameter("metric", str, description="Summary key (required)."),
            OpenApiParameter("filters", str, description="Runs-query filter JSON."),
        ],
        responses=sc.ImportanceOut,
    )
    def get(self, request, team, project):
        raw = request.query_params.get("filters")
        filters = None
        if raw:
            try:
                filters = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise field_error("filters must be JSON.", "filters", "invalid_query") from exc
        result = importance.parameter_importance(
            self.team, self.project, metric=request.query_params.get("metric"), filters=filters
        )
        return json_response(result)
