"""A real Celery worker on Redis for tests whose behaviour depends on it.

`celery_worker` starts `celery -A config worker` in a subprocess on the machine's Redis,
consuming a queue of this test's own (parallel pytest processes never take each other's
tasks), against this test's database (so tests using it need committed data:
`django_db(transaction=True)`). The test process sends tasks there instead of running
them eagerly; the worker writes email to files (`worker.mails()`) and publishes live
events on a channel-layer prefix that this test's process uses too.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.child_process import child_env

READY_TIMEOUT_S = 120


@dataclass
class Worker:
    queue: str
    mail_dir: Path
    log: Path
    process: subprocess.Popen | None = None  # a test may kill it (SIGKILL mid-task)

    def mails(self) -> list[email.message.Message]:
        found = []
        for path in sorted(self.mail_dir.glob("*.log")):
            # The file backend separates messages with a line of 79 dashes.
            for chunk in path.read_bytes().split(b"-" * 79):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk.strip()))
        return found

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_until(predicate, timeout: float = 60, what: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def result_of(answer, timeout: float = 120):
    """The worker's return value for a task this test sent. Celery refuses `get()` while
    any thread of this process runs a task eagerly (its guard against waiting on a subtask
    is one process-wide flag, see tests/conftest.py); this process is no task, so waiting
    here cannot deadlock."""
    return answer.get(timeout=timeout, disable_sync_subtasks=False)


@pytest.fixture
def celery_worker(transactional_db, settings, tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("a real Celery worker needs REDIS_URL")
    from config.celery import app

    tag = uuid.uuid4().hex[:10]
    queue = f"gl-test-{os.getpid()}-{tag}"
    prefix = f"gltest{tag}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    log = tmp_path / "worker.log"
    layer = dict(django_settings.CHANNEL_LAYERS["default"])
    layer["CONFIG"] = {**layer.get("CONFIG", {}), "prefix": prefix}
    settings.CHANNEL_LAYERS = {"default": layer}
    settings.WEBHOOK_ALLOW_PRIVATE = True
    env = child_env(
        DJANGO_SETTINGS_MODULE="tests.celery_worker_settings",
        GRADLINE_TEST_QUEUE=queue,
        GRADLINE_TEST_MAIL_DIR=str(mail_dir),
        GRADLINE_TEST_CHANNEL_PREFIX=prefix,
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_RETRY_BASE_S="0.2",
        WEBHOOK_TIMEOUT_S="2",
        WEBHOOK_MAX_ATTEMPTS="3",
    )
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker"),
                *("-Q", queue, "-P", "threads", "-c", "4", "-l", "INFO"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                f"--hostname=test-{tag}@%h",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    worker = Worker(queue=queue, mail_dir=mail_dir, log=log, process=process)
    try:
        wait_until(
            lambda: process.poll() is not None or " ready." in worker.log_text(),
            READY_TIMEOUT_S,
            "the Celery worker to start",
        )
        assert process.poll() is None, f"worker exited:\n{worker.log_text()[-3000:]}"
        yield worker
    except BaseException:
        print(f"--- Celery worker log ({log}) ---\n{worker.log_text()[-6000:]}")
        raise
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
