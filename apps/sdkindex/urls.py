"""SDK downloads, mounted at /sdk/ (each name classified in apps/core/policy.py)."""

from django.urls import path

from apps.sdkindex import views as v

urlpatterns = [
    path("simple/", v.simple_root, name="sdk-simple"),
    path("simple/<str:name>/", v.simple_project, name="sdk-simple-project"),
    path("files/<str:filename>", v.download, name="sdk-file"),
]
