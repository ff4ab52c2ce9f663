"""Shared fixtures: two teams (A = `team`, B = `other_team`) and one user per role."""

from __future__ import annotations

import faulthandler
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apps.teams import services as team_services
from tests.factories import UserFactory, make_key, make_project, make_team

# The SDK tests' real server (sdk_db, server, ...): one instance per test process for every
# folder that uses it (tests/sdk/servers.py says why it must not be imported instead).
pytest_plugins = ["tests.sdk.servers"]


def pytest_sessionfinish(session, exitstatus):
    """Remove this process's media folder (config/settings/test.py: var/test-media-<pid>)
    and those of earlier test processes that are gone (a run killed before its end)."""
    if os.environ.get("MEDIA_ROOT"):
        return  # chosen by whoever started us: theirs to keep
    root = Path(django_settings.MEDIA_ROOT)
    if root.name != f"test-media-{os.getpid()}":
        return
    shutil.rmtree(root, ignore_errors=True)
    for stale in root.parent.glob("test-media-*"):
        match = re.fullmatch(r"test-media-(\d+)", stale.name)
        if match and not _process_exists(int(match.group(1))):
            shutil.rmtree(stale, ignore_errors=True)


# After the session, the interpreter joins every non-daemon thread; one that never ends
# (a server that did not stop) would hold CI until its own timeout, with no word of why.
EXIT_WATCHDOG_SECONDS = 180


def pytest_unconfigure(config):
    """If the process is still alive this long after the suite, print every thread's
    stack (naming what blocks the exit) and exit with status 1."""
    faulthandler.dump_traceback_later(EXIT_WATCHDOG_SECONDS, exit=True, file=sys.__stderr__)


# The longest modules, longest first (each took 12 s or more in a quiet three-worker
# pass, 2026-12-04; DEVELOPERS.md, "Suite time per pass"): xdist hands out a module at a
# time in this order, so the long ones start early and the many short ones fill the end;
# a long module that started last would hold the whole run's end.
LONGEST_FIRST = (
    "tests/core/test_route_matrix.py",
    "tests/core/test_no_server_errors.py",
    "tests/fuzz/test_fuzz.py",
    "tests/sdk/test_reliability.py",
    "tests/e2e/test_workspace_browser.py",
    "tests/sdk/test_scripts.py",
    "tests/sdk/test_sweeps_offline.py",
    "tests/deployments/test_sagemaker.py",
    "tests/deployments/test_local.py",
    "tests/notifications/test_delivery.py",
    "tests/e2e/test_media_browser.py",
    "tests/sdk/test_artifacts.py",
    "tests/web/test_bad_input.py",
    "tests/e2e/test_sweeps_browser.py",
    "tests/sdk/test_tracking.py",
    "tests/e2e/test_run_page_browser.py",
    "tests/runs/test_history.py",
    "tests/sdk/test_sweeps.py",
    "tests/e2e/test_reports_browser.py",
    "tests/sdk/test_components.py",
    "tests/sweeps/test_controller.py",
    "tests/registry/test_api.py",
    "tests/e2e/test_comments_browser.py",
    "tests/e2e/test_sklearn_plots_browser.py",
    "tests/e2e/test_deployments_browser.py",
    "tests/e2e/test_sso_browser.py",
    "tests/api/test_integer_ranges.py",
    "tests/reports/test_pdf.py",
    "tests/web/test_access.py",
    "tests/core/test_custom_roles.py",
    "tests/e2e/",
    "tests/sso/test_oidc.py",
    "tests/registry/test_web.py",
    "tests/sdk/test_sweep_restarts.py",
    "tests/monitoring/test_sdk.py",
    "tests/runs/test_history_grouped.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = Path(item.path).relative_to(config.rootpath).as_posix()
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)  # stable: each module keeps its own order


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped, an end to the sessions
    that threads of the suite's in-process servers left open on it (a drop that finds one
    fails, and the test database stays behind on a shared PostgreSQL)."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _celery_join_guard_off():
    """Celery's "never call get() within a task" guard is one process-wide flag that each
    eager task sets on entry and restores to what it read on exit: two threads running
    eager tasks at once (a live server, a test's own threads) can restore each other's
    values and leave it set after both ended, failing every later get() in the process
    (CI failed so twice, far from the test that left it). No test process is a Celery
    worker: each test starts with the guard off."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """A fresh cache namespace per test: rate-limit counters never leak between tests,
    nor between pytest processes sharing one Redis (never FLUSHDB: the Celery broker and
    other processes live in the same database)."""
    cache = {**django_settings.CACHES["default"], "KEY_PREFIX": f"t-{uuid.uuid4().hex}"}
    settings.CACHES = {**django_settings.CACHES, "default": cache}


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@a.example")


@pytest.fixture
def team(admin_user):
    return make_team("team-a", admin_user)


def _member(team, role, email):
    user = UserFactory(email=email)
    team_services.membership_add(team=team, user=user, role=role)
    return user


@pytest.fixture
def member_user(team):
    return _member(team, "member", "member@a.example")


@pytest.fixture
def viewer_user(team):
    return _member(team, "viewer", "viewer@a.example")


@pytest.fixture
def other_admin(db):
    return UserFactory(email="admin@b.example")


@pytest.fixture
def other_team(other_admin):
    return make_team("team-b", other_admin)


@pytest.fixture
def project(team, admin_user):
    return make_project(team, "resnet", actor=admin_user)


def client_for(user, team=None) -> APIClient:
    """An API client authenticated with a fresh personal key of `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(user, team)}")
    return client


@pytest.fixture
def api_for():
    return client_for


@pytest.fixture
def admin_api(admin_user, team):
    return client_for(admin_user)


@pytest.fixture
def anon_api():
    return APIClient()
