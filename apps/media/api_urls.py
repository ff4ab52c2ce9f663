"""Media API routes: `urlpatterns` under /api/v1/teams/<team>/projects/<project>/,
`team_urlpatterns` (the team's chart presets) under /api/v1/teams/<team>/. Each name is
classified in apps/core/policy.py ("--- API: media")."""

from django.urls import path

from apps.media import api_views as v

MEDIA = "runs/<run_uid:run>/media"
ITEM = f"{MEDIA}/<id:media_id>"

urlpatterns = [
    path(MEDIA, v.MediaListView.as_view(), name="run-media-list"),
    path(f"{MEDIA}/keys", v.MediaKeysView.as_view(), name="run-media-keys"),
    path(ITEM, v.MediaDetailView.as_view(), name="run-media-detail"),
    path(f"{ITEM}/file", v.MediaFileView.as_view(), name="run-media-file"),
    path(f"{ITEM}/rows", v.MediaRowsView.as_view(), name="run-media-rows"),
    path(f"{MEDIA}/histogram", v.MediaHistogramView.as_view(), name="run-media-histogram"),
    # Across runs (the workspace's Media section and image grid).
    path("media", v.ProjectMediaView.as_view(), name="project-media"),
    path("media/keys", v.ProjectMediaKeysView.as_view(), name="project-media-keys"),
]

team_urlpatterns = [
    path("chart-presets", v.ChartPresetListView.as_view(), name="chart-preset-list"),
    path(
        "chart-presets/<id:preset_id>",
        v.ChartPresetDetailView.as_view(),
        name="chart-preset-detail",
    ),
]
