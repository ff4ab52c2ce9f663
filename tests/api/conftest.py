"""The run-API fixtures (a member's client, one run of theirs) from tests/runs/conftest.py,
shared with the API-wide input tests here."""

from tests.runs.conftest import member_api, run  # noqa: F401 - fixtures by name
