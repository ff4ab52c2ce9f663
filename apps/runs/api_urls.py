"""Run-tracking API routes, mounted under /api/v1/teams/<team>/projects/<project>/."""

urlpatterns: list = []
