"""Report pages (apps/core/policy.py "--- web: reports")."""

from django.urls import path

from apps.reports import web_views as v

P = "<team_slug:team>/<project_name:project>/reports"
R = f"{P}/<id:report_id>"

urlpatterns = [
    path(P, v.report_list, name="report-list"),
    path(R, v.report_detail, name="report-detail"),
    path(f"{R}/edit", v.report_edit, name="report-edit"),
    path(f"{R}/versions", v.report_versions, name="report-versions"),
    path(f"{R}/versions/<id:version>", v.report_version_detail, name="report-version-detail"),
    path(
        f"{R}/versions/<id:version>/restore",
        v.report_version_restore,
        name="report-version-restore",
    ),
    path(f"{R}/share", v.report_share, name="report-share"),
    path(f"{R}/delete", v.report_delete, name="report-delete"),
    # Under "teams/", a reserved first segment (apps.teams.services.RESERVED_SLUGS), so
    # no team's project URL can collide with a share link.
    path("teams/reports/<token:share_token>", v.report_shared, name="report-shared"),
]
