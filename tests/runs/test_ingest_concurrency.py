"""Ingest against real concurrent PostgreSQL transactions (no mocks): a second
connection holds the locks a writer needs, and the test waits until PostgreSQL reports
the writer waiting before it acts.

- a deadlock between a batch and another run's writer of the same project: PostgreSQL
  aborts the batch, which is redone, and everything ends stored once;
- a point that appears under the batch's direct COPY (a writer that bypassed the run
  lock): the unique violation makes the batch restage, and the point is judged a
  conflict instead of a 500;
- a run deleted while its batch waits for the run's lock: 404, nothing stored.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from tests.runs.conftest import ingest, make_run, run_url

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1.7e9


@pytest.fixture
def other_session():
    """A second connection to the test database, in its own transaction."""
    conn = connections.create_connection("default")
    conn.set_autocommit(False)
    yield conn
    conn.rollback()
    conn.close()


def _in_thread(call):
    """Runs `call()` in a thread with its own connection; returns (thread, outcome)."""
    outcome: dict = {}

    def target():
        try:
            outcome["response"] = call()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def _wait_until_a_backend_waits_on_a_lock(session, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session.cursor() as cur:
            # Activity is snapshotted once per transaction: drop the snapshot each time.
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cur.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError(f"no backend waited on a lock: {what}")


def _key_id(session, run, key: str) -> int:
    with session.cursor() as cur:
        cur.execute("SELECT id FROM runs_metrickey WHERE run_id = %s AND name = %s", [run.pk, key])
        return cur.fetchone()[0]


def _insert_point(session, run, key_id: int, step: int, value: float) -> None:
    with session.cursor() as cur:
        cur.execute(
            "INSERT INTO runs_point (run_id, key_id, step, value, wall_time) "
            "VALUES (%s, %s, %s, %s, %s)",
            [run.pk, key_id, step, value, T0],
        )


def test_a_point_appearing_under_the_direct_copy_restages_the_batch(
    team, project, member_user, api_for, other_session
):
    client = api_for(member_user)
    run = make_run(team, project, member_user)
    assert ingest(client, run.uid, {"points": [["loss", 0, 1.0, T0]]}).json()["accepted"] == 1
    # Step 1 is above the key's high water: the batch COPYs it directly. Another session
    # has written step 1 (uncommitted), so the COPY waits on the unique index ...
    _insert_point(other_session, run, _key_id(other_session, run, "loss"), 1, 5.0)
    thread, outcome = _in_thread(
        lambda: ingest(client, run.uid, {"points": [["loss", 1, 0.5, T0]]})
    )
    _wait_until_a_backend_waits_on_a_lock(other_session, "the batch's COPY")
    other_session.commit()  # ... and meets a unique violation once it commits.
    thread.join(60)
    assert not thread.is_alive()
    response = outcome["response"]
    assert response.status_code == 200, response.content
    out = response.json()
    assert (out["accepted"], out["conflicts"]) == (0, 1)
    assert out["errors"] == [{"index": 0, "part": "points", "reason": "conflict"}]
    with connection.cursor() as cur:
        cur.execute("SELECT step, value FROM runs_point WHERE run_id = %s ORDER BY step", [run.pk])
        assert cur.fetchall() == [(0, 1.0), (1, 5.0)]


def test_a_deadlocked_batch_is_redone(team, project, member_user, api_for, other_session):
    """Another run's writer of the same project introduces the key `acc` (its project-key
    row, uncommitted) and then wants this run's lock, which the batch holds while it
    waits for that row: PostgreSQL aborts the batch (its wait is checked first), which is
    redone once the other transaction is through, and stores everything once."""
    client = api_for(member_user)
    run = make_run(team, project, member_user)
    deadlocks_before = _deadlocks(other_session)
    with other_session.cursor() as cur:
        cur.execute("SET LOCAL deadlock_timeout = '60s'")  # the batch detects the deadlock
        cur.execute(
            "INSERT INTO runs_projectmetrickey (team_id, project_id, name, created_at) "
            "VALUES (%s, %s, 'acc', now())",
            [team.pk, project.pk],
        )
    batch = {"points": [["acc", 0, 0.5, T0], ["acc", 1, 0.75, T0]]}
    thread, outcome = _in_thread(lambda: ingest(client, run.uid, batch))
    _wait_until_a_backend_waits_on_a_lock(other_session, "the batch's project key")
    with other_session.cursor() as cur:  # the deadlock: the batch holds this lock
        cur.execute("SELECT 1 FROM runs_run WHERE id = %s FOR UPDATE", [run.pk])
    other_session.commit()
    thread.join(60)
    assert not thread.is_alive()
    response = outcome["response"]
    assert response.status_code == 200, response.content
    out = response.json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (2, 0, 0)
    series = client.get(run_url(run.uid, "/history?keys=acc")).json()["series"]["acc"]
    assert sum(series["count"]) == 2 and series["max"][-1] == 0.75
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM runs_projectmetrickey WHERE project_id = %s AND name = 'acc'",
            [project.pk],
        )
        assert cur.fetchone()[0] == 1
    # It was a deadlock, broken by PostgreSQL (counted once it reports its statistics;
    # the database's counter may also take in an earlier test's, reported late: at least
    # one more, not exactly one).
    deadline = time.monotonic() + 60
    while _deadlocks(other_session) == deadlocks_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _deadlocks(other_session) > deadlocks_before


def _deadlocks(session) -> int:
    with session.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()[0]


def test_a_run_deleted_while_its_batch_waits_for_the_lock_is_404(
    team, project, member_user, api_for, other_session
):
    client = api_for(member_user)
    run = make_run(team, project, member_user)
    with other_session.cursor() as cur:
        cur.execute("SELECT 1 FROM runs_run WHERE id = %s FOR UPDATE", [run.pk])
    thread, outcome = _in_thread(
        lambda: ingest(client, run.uid, {"points": [["loss", 0, 1.0, T0]]})
    )
    _wait_until_a_backend_waits_on_a_lock(other_session, "the batch's run lock")
    with other_session.cursor() as cur:
        cur.execute("DELETE FROM runs_run WHERE id = %s", [run.pk])
    other_session.commit()
    thread.join(60)
    assert not thread.is_alive()
    response = outcome["response"]
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs_point WHERE run_id = %s", [run.pk])
        assert cur.fetchone()[0] == 0
    assert client.get(run_url(run.uid)).status_code == 404
