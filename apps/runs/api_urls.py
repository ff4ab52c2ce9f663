"""Run-tracking API routes, mounted under /api/v1/teams/<team>/projects/<project>/.
Each name is classified in apps/core/policy.py ("--- API: runs")."""

from django.urls import path

from apps.runs import api_views as v

RUN = "runs/<run_uid:run>"

urlpatterns = [
    path("runs", v.RunListView.as_view(), name="run-list"),
    path(RUN, v.RunDetailView.as_view(), name="run-detail"),
    path(f"{RUN}/heartbeat", v.RunHeartbeatView.as_view(), name="run-heartbeat"),
    path(f"{RUN}/finish", v.RunFinishView.as_view(), name="run-finish"),
    path(f"{RUN}/ingest", v.RunIngestView.as_view(), name="run-ingest"),
    path(f"{RUN}/history", v.RunHistoryView.as_view(), name="run-history"),
    path(f"{RUN}/scan", v.RunScanView.as_view(), name="run-scan"),
    path(f"{RUN}/export.csv", v.RunExportCsvView.as_view(), name="run-export-csv"),
    path(f"{RUN}/export.parquet", v.RunExportParquetView.as_view(), name="run-export-parquet"),
    path(f"{RUN}/files", v.RunFileListView.as_view(), name="run-file-list"),
    path(f"{RUN}/files/<run_file:path>", v.RunFileDetailView.as_view(), name="run-file-detail"),
    path(f"{RUN}/console", v.RunConsoleView.as_view(), name="run-console"),
    path("history", v.ProjectHistoryView.as_view(), name="project-history"),
    path("history/grouped", v.ProjectGroupedHistoryView.as_view(), name="project-history-grouped"),
    path("metric-keys", v.MetricKeyListView.as_view(), name="metric-key-list"),
]
