"""Settings of a real Celery worker that a test starts (tests/celery_worker.py): the test
settings, but tasks really queued (on the test's own queue), mail written to files the
test reads, and the test's own channel-layer prefix (GRADLINE_TEST_CHANNEL_PREFIX, read by the
test settings)."""

import os

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = os.environ["GRADLINE_TEST_QUEUE"]
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["GRADLINE_TEST_MAIL_DIR"]
