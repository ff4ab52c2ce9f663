"""Celery app. With REDIS_URL unset, tasks run eagerly in-process (still through Celery)."""

import os

# Every server, worker and management process imports this package (config/__init__.py)
# before numpy: one BLAS thread per process. Parallelism comes from processes; a GP refit
# (sweeps) that spread over every core in each of several processes made one suggestion
# take 30-40 s on a loaded 2-core box instead of < 1 s. The environment may say otherwise.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from celery import Celery  # noqa: E402 - after the thread limits

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("gradline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
