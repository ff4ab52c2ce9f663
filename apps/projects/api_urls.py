"""Project-level API routes, mounted under /api/v1/teams/<team>/projects/<project>/.
Each name is classified in apps/core/policy.py ("--- API: projects")."""

from django.urls import path

from apps.projects import api_views as v

urlpatterns = [
    path("views", v.SavedViewListView.as_view(), name="view-list"),
    path("views/<id:view_id>", v.SavedViewDetailView.as_view(), name="view-detail"),
    path("importance", v.ParameterImportanceView.as_view(), name="parameter-importance"),
]
