"""PDF export: headless Chromium prints the report's print page (Playwright driving the
system's chromium, settings.REPORTS_CHROMIUM).

Why a Celery task (apps/reports/tasks.py) and not the request: starting a browser and
drawing the charts takes seconds and a few hundred MB; in a request it would hold a web
worker (under ASGI, Django's one thread for synchronous views) for that long. The task
has a hard bound, REPORTS_PDF_TIMEOUT_S for the browser work (Playwright timeouts) plus
the task's own time limit, and records `failed` with the reason when it is exceeded.

The page is not fetched from this server: it is rendered here (templates/reports/
print.html with the panels' data from apps/reports/snapshot.py) and handed to the
browser under a private origin whose only other answers are our static files (the
same ES modules and uPlot the live page uses). Every other request is aborted, so the
browser reaches no network, no credentials are involved, and the PDF shows exactly what
the snapshot read in the report's team.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone

from apps.reports import document, snapshot
from apps.reports.models import ExportState, ReportExport, ReportVersion

ORIGIN = "http://gradline-print.invalid"
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


def _static_file(path: str) -> bytes | None:
    if ".." in Path(path).parts:
        return None
    found = finders.find(path)
    if found:
        return Path(found).read_bytes()
    try:
        with staticfiles_storage.open(path) as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def print_html(report, version: ReportVersion) -> str:
    team, project = report.team, report.project
    blocks = document.blocks(version.body)
    data = {
        "panels": {str(b.index): b.panel for b in blocks if b.kind == "panel"},
        "snapshot": snapshot.build(team, project, version.body),
    }
    return render_to_string(
        "reports/print.html",
        {
            "report": report,
            "version": version,
            "blocks": blocks,
            "team": team,
            "project": project,
            "page_data": data,
            "printed_at": timezone.now(),
        },
    )


def render_pdf(html: str, *, timeout_s: float) -> bytes:
    from playwright.sync_api import sync_playwright

    timeout_ms = timeout_s * 1000
    static_prefix = f"{ORIGIN}{settings.STATIC_URL}"

    def answer(route):
        url = route.request.url.split("?", 1)[0].split("#", 1)[0]
        if url == f"{ORIGIN}/report":
            return route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")
        if url.startswith(static_prefix):
            path = url[len(static_prefix) :]
            body = _static_file(path)
            if body is not None:
                kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
                return route.fulfill(status=200, body=body, content_type=kind)
        return route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=settings.REPORTS_CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            timeout=timeout_ms,
        )
        try:
            # A4 less the margins below at 96 dpi, so charts are drawn at the printed width.
            page = browser.new_page(viewport={"width": 680, "height": 1400})
            page.set_default_timeout(timeout_ms)
            page.route("**/*", answer)
            page.emulate_media(media="print")
            page.goto(f"{ORIGIN}/report", wait_until="load")
            page.wait_for_function("document.documentElement.dataset.reportReady === 'true'")
            return page.pdf(
                format="A4",
                print_background=True,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
            )
        finally:
            browser.close()


def export_run(team, export_id: int) -> str:
    """Render one export (idempotent: a finished export is left alone). The state."""
    export = (
        ReportExport.objects.for_team(team)
        .filter(pk=export_id)
        .select_related("report", "report__project")
        .first()
    )
    if export is None or export.state != ExportState.PENDING:
        return export.state if export else "missing"
    report = export.report
    version = ReportVersion.objects.for_team(team).filter(report=report, number=export.version)
    version = version.first()
    try:
        if version is None:
            raise RuntimeError(f"version {export.version} no longer exists")
        pdf = render_pdf(print_html(report, version), timeout_s=settings.REPORTS_PDF_TIMEOUT_S)
    except Exception as exc:  # any failure becomes the export's state, with the reason
        _finish(export, error=f"{type(exc).__name__}: {exc}")
        return ExportState.FAILED
    name = default_storage.save(
        f"reports/{team.pk}/{report.pk}/report-{report.pk}-v{export.version}-{export.pk}.pdf",
        ContentFile(pdf),
    )
    _finish(export, path=name, size=len(pdf))
    return ExportState.DONE


def _finish(export: ReportExport, *, path: str = "", size: int = 0, error: str = "") -> None:
    ReportExport.objects.for_team(export.team).filter(pk=export.pk).update(
        state=ExportState.FAILED if error else ExportState.DONE,
        path=path,
        size=size or None,
        error=error[:2000],
        finished_at=timezone.now(),
    )
