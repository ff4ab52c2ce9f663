"""Media tests use the run-tracking fixtures (a run in team A's project, API clients)."""

from tests.runs.conftest import member_api, run, viewer_api  # noqa: F401 - fixtures
