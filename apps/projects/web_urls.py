from django.urls import path

from apps.projects import web_views as v

urlpatterns = [
    path("<str:team>/", v.project_list, name="project-list"),
]
