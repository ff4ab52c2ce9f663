"""Report API routes, mounted under /api/v1/teams/<team>/projects/<project>/; each name
is classified in apps/core/policy.py ("--- API: reports")."""

from django.urls import path

from apps.reports import api_views as v

R = "reports/<id:report_id>"

urlpatterns = [
    path("reports", v.ReportListView.as_view(), name="report-list"),
    path(R, v.ReportDetailView.as_view(), name="report-detail"),
    path(f"{R}/versions", v.ReportVersionListView.as_view(), name="report-version-list"),
    path(
        f"{R}/versions/<id:version>",
        v.ReportVersionDetailView.as_view(),
        name="report-version-detail",
    ),
    path(
        f"{R}/versions/<id:version>/restore",
        v.ReportVersionRestoreView.as_view(),
        name="report-version-restore",
    ),
    path(f"{R}/publish", v.ReportPublishView.as_view(), name="report-publish"),
    path(f"{R}/exports", v.ReportExportListView.as_view(), name="report-export-list"),
    path(
        f"{R}/exports/<id:export_id>",
        v.ReportExportDetailView.as_view(),
        name="report-export-detail",
    ),
    path(
        f"{R}/exports/<id:export_id>/file",
        v.ReportExportFileView.as_view(),
        name="report-export-file",
    ),
]
