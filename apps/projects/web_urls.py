"""Project pages: /<team>/ lists them, /<team>/<project>/ is a project.

Team pages under /<team>/settings/ come first (apps/teams/web_urls.py); "settings" is a
reserved project name (apps.projects.services.RESERVED_NAMES) so the two never collide.
"""

from django.urls import path

from apps.projects import web_views as v

urlpatterns = [
    path("<team_slug:team>/", v.project_list, name="project-list"),
    path("<team_slug:team>/<project_name:project>/", v.project_detail, name="project-detail"),
    path(
        "<team_slug:team>/<project_name:project>/settings",
        v.project_settings,
        name="project-settings",
    ),
    path(
        "<team_slug:team>/<project_name:project>/delete",
        v.project_delete,
        name="project-delete",
    ),
]
