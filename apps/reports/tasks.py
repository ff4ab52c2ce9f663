"""Report tasks (Celery): the PDF export (apps/reports/pdf.py says why it is a task)."""

from __future__ import annotations

from django.conf import settings

from apps.core.tasks import team_task
from apps.reports import pdf


@team_task(
    name="reports.export_pdf",
    soft_time_limit=settings.REPORTS_PDF_TIMEOUT_S + 30,
    time_limit=settings.REPORTS_PDF_TIMEOUT_S + 60,
)
def report_export_pdf(team, export_id: int) -> str:
    return pdf.export_run(team, export_id)
