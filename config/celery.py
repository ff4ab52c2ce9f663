"""Celery app. With REDIS_URL unset, tasks run eagerly in-process (still through Celery)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("gradline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
