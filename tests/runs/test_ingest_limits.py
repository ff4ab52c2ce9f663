"""Ingest limits through the API: a batch of too many console lines is refused whole
(413 too_many_lines, nothing stored), long console lines are cut and NUL replaced rather
than refused, and a batch with more bad records than the error list holds reports the
first MAX_ERRORS_LISTED of them while counting all (and storing the good ones)."""

from __future__ import annotations

import pytest

from apps.runs.ingest import MAX_CONSOLE_LINE_CHARS, MAX_CONSOLE_LINES, MAX_ERRORS_LISTED
from tests.runs.conftest import ingest, run_url

pytestmark = pytest.mark.django_db

T0 = 1.7e9


def _console(client, run) -> list[dict]:
    return client.get(run_url(run.uid, "/console?offset=0")).json()["lines"]


def test_too_many_console_lines_is_413_and_stores_nothing(member_api, run):
    lines = [["stdout", T0, "x"]] * (MAX_CONSOLE_LINES + 1)
    response = ingest(member_api, run.uid, {"console": lines, "points": [["a", 0, 1.0, T0]]})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_many_lines"
    assert str(MAX_CONSOLE_LINES) in error["message"]
    assert _console(member_api, run) == []
    assert member_api.get(run_url(run.uid)).json()["summary"] == {}
    # The limit itself is accepted.
    ok = ingest(member_api, run.uid, {"console": lines[:MAX_CONSOLE_LINES]})
    assert ok.status_code == 200 and ok.json()["console"]["accepted"] == MAX_CONSOLE_LINES


def test_long_console_lines_are_cut_and_nul_replaced(member_api, run):
    long_line = "y" * (MAX_CONSOLE_LINE_CHARS + 100)
    body = {"console": [["stdout", T0, long_line], ["stderr", T0 + 1, "before\x00after"]]}
    out = ingest(member_api, run.uid, body).json()
    assert out["console"] == {"accepted": 2, "duplicates": 0}
    assert out["rejected"] == 0
    first, second = _console(member_api, run)
    assert first["text"] == "y" * MAX_CONSOLE_LINE_CHARS
    assert (second["stream"], second["text"]) == ("stderr", "before\ufffdafter")


def test_error_list_is_capped_and_the_rest_still_counted(member_api, run):
    bad = MAX_ERRORS_LISTED + 500
    points = [["loss", -1, 1.0, T0]] * bad + [["loss", 7, 0.5, T0]]
    response = ingest(member_api, run.uid, {"points": points})
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["accepted"] == 1 and out["rejected"] == bad
    assert len(out["errors"]) == MAX_ERRORS_LISTED
    assert [e["index"] for e in out["errors"]] == list(range(MAX_ERRORS_LISTED))
    assert all(e["part"] == "points" and "step" in e["reason"] for e in out["errors"])
    series = member_api.get(run_url(run.uid, "/history?keys=loss")).json()["series"]["loss"]
    assert sum(series["count"]) == 1 and series["max"] == [0.5]  # the good point, stored
