"""Report API (docs/api.md "Reports"): the URL's report is found through
apps.reports.selectors with the caller's rights before the body is read, so another
team's report — or a private one of someone else — is a 404 whatever the body holds."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.api.responses import stored_file_response
from apps.core.errors import NotFound
from apps.reports import presenters, selectors, services


class ReportsAPIView(GradlineAPIView):
    def report(self, report_id: int):
        return selectors.report_get(
            self.team,
            self.project,
            report_id,
            actor=self.scope.actor,
            permissions=self.scope.permissions,
        )

    def out(self, report, detail: bool = False) -> dict:
        return presenters.report_out(
            report, actor=self.scope.actor, permissions=self.scope.permissions, detail=detail
        )


class ReportListView(ReportsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project):
        rows = selectors.reports_visible(
            self.team, self.project, actor=self.scope.actor, permissions=self.scope.permissions
        )
        for report in rows:
            report.project = self.project
            report.team = self.team
        return Response({"results": [self.out(r) for r in rows]})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, team, project):
        report = services.report_create(
            team=self.team, project=self.project, actor=self.scope.actor, data=request.data
        )
        return Response(self.out(report, detail=True), status=201)


class ReportDetailView(ReportsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, report_id):
        return Response(self.out(self.report(report_id), detail=True))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request, team, project, report_id):
        report = services.report_update(
            report=self.report(report_id),
            actor=self.scope.actor,
            permissions=self.scope.permissions,
            data=request.data,
        )
        return Response(self.out(report, detail=True))

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, report_id):
        services.report_delete(
            report=self.report(report_id),
            actor=self.scope.actor,
            permissions=self.scope.permissions,
        )
        return Response(status=204)


class ReportVersionListView(ReportsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, report_id):
        report = self.report(report_id)
        rows = selectors.versions(self.team, report)
        return Response({"results": [presenters.version_out(v) for v in rows]})


class ReportVersionDetailView(ReportsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, report_id, version):
        report = self.report(report_id)
        found = selectors.version_get(self.team, report, version)
        return Response(presenters.version_out(found, detail=True))


class ReportVersionRestoreView(ReportsAPIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, team, project, report_id, version):
        report = self.report(report_id)
        found = selectors.version_get(self.team, report, version)
        report = services.report_restore(report=report, version=found, actor=self.scope.actor)
        return Response(self.out(report, detail=True))


class ReportPublishView(ReportsAPIView):
    """POST publishes the newest version by a secret link; DELETE revokes the link."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, team, project, report_id):
        report = services.report_publish(
            report=self.report(report_id),
            actor=self.scope.actor,
            permissions=self.scope.permissions,
        )
        return Response(self.out(report))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def delete(self, request, team, project, report_id):
        report = services.report_unpublish(
            report=self.report(report_id),
            actor=self.scope.actor,
            permissions=self.scope.permissions,
        )
        return Response(self.out(report))


class ReportExportListView(ReportsAPIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, team, project, report_id):
        report = self.report(report_id)
        export = services.export_request(report=report, actor=self.scope.actor)
        export.refresh_from_db()  # eager tasks (no broker) have finished already
        return Response(presenters.export_out(export, report), status=202)


class ReportExportDetailView(ReportsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, team, project, report_id, export_id):
        report = self.report(report_id)
        export = selectors.export_get(self.team, report, export_id)
        return Response(presenters.export_out(export, report))


class ReportExportFileView(ReportsAPIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, team, project, report_id, export_id):
        report = self.report(report_id)
        export = selectors.export_get(self.team, report, export_id)
        if export.state != "done" or not export.path:
            raise NotFound("This export has no file (yet).")
        return stored_file_response(
            request,
            export.path,
            size=export.size or 0,
            path=f"{report.title[:80] or 'report'}-v{export.version}.pdf",
            content_type="application/pdf",
        )
