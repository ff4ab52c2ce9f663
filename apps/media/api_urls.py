"""Media API routes, mounted under /api/v1/teams/<team>/projects/<project>/. Each name is
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
]
