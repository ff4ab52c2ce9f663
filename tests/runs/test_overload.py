"""Overload: when the connection pool is exhausted, API calls answer 503 with
Retry-After after the pool's short wait instead of hanging."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from psycopg_pool import PoolTimeout

from tests.factories import make_key
from tests.runs.conftest import ingest, make_run


@pytest.mark.django_db(transaction=True)
def test_pool_exhausted_answers_503_with_retry_after(team, project, member_user, settings):
    from rest_framework.test import APIClient

    pool = connection.pool
    assert pool is not None, "DATABASES OPTIONS pool is expected (config/settings/base.py)"
    run = make_run(team, project, member_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(member_user)}")
    assert ingest(client, run.uid, {"heartbeat": True}).status_code == 200

    stats = pool.get_stats()
    in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    # Take every connection the pool can still give (it may have to open them first).
    held: list = []
    outcome: dict = {}

    def request():
        started = time.monotonic()
        try:
            outcome["response"] = ingest(client, run.uid, {"points": [["a", 0, 1.0, 1.7e9]]})
        finally:
            outcome["seconds"] = time.monotonic() - started
            connection.close()

    try:
        held += [pool.getconn(timeout=30) for _ in range(pool.max_size - in_use)]
        with pytest.raises(PoolTimeout):
            held.append(pool.getconn(timeout=0.1))
        thread = threading.Thread(target=request)
        thread.start()
        thread.join(timeout=60)  # a hang fails here
        assert not thread.is_alive()
    finally:
        for conn in held:
            pool.putconn(conn)
    response = outcome["response"]
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "overloaded"
    print(f"503 after {outcome['seconds']:.2f}s")  # the pool timeout, 0.5 s by default
    # Capacity back: the same request succeeds.
    assert ingest(client, run.uid, {"points": [["a", 0, 1.0, 1.7e9]]}).json()["accepted"] == 1


@pytest.mark.django_db(transaction=True)
def test_writer_stuck_behind_a_held_run_lock_gets_503(team, project, member_user, settings):
    from django.db import connections
    from rest_framework.test import APIClient

    settings.INGEST_LOCK_TIMEOUT_MS = 200
    run = make_run(team, project, member_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(member_user)}")
    blocker = connections.create_connection("default")
    try:
        blocker.set_autocommit(False)
        with blocker.cursor() as cur:  # another session holds the run's row lock
            cur.execute("SELECT 1 FROM runs_run WHERE id = %s FOR UPDATE", [run.pk])
        response = ingest(client, run.uid, {"points": [["a", 0, 1.0, 1.7e9]]})
        assert response.status_code == 503
        assert response["Retry-After"] == "1"
        assert response.json()["error"]["code"] == "overloaded"
    finally:
        blocker.rollback()
        blocker.close()
    assert ingest(client, run.uid, {"points": [["a", 0, 1.0, 1.7e9]]}).json()["accepted"] == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/teams", "/api/v1/viewer", "/api/v1/teams/team-a"])
def test_pool_exhausted_answers_503_on_every_api_route(team, member_user, path):
    """Not only run tracking: any API route that cannot get a connection answers 503 with
    Retry-After (here during authentication, its first query)."""
    from rest_framework.test import APIClient

    pool = connection.pool
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(member_user)}")
    assert client.get(path).status_code == 200
    connection.close()  # give this thread's connection back, so all can be taken
    stats = pool.get_stats()
    in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
    held: list = []
    outcome: dict = {}

    def request():
        try:
            outcome["response"] = client.get(path)
        finally:
            connection.close()

    try:
        held += [pool.getconn(timeout=30) for _ in range(pool.max_size - in_use)]
        thread = threading.Thread(target=request)
        thread.start()
        thread.join(timeout=60)  # a hang fails here
        assert not thread.is_alive()
    finally:
        for conn in held:
            pool.putconn(conn)
    response = outcome["response"]
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "overloaded"
    assert client.get(path).status_code == 200
