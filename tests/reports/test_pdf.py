"""PDF export: headless Chromium prints a report whose chart has data; the PDF holds the
chart (an image: uPlot draws on a canvas, which Chromium prints as a raster image) and the
text. Runs the task eagerly (tests' CELERY_TASK_ALWAYS_EAGER); the Celery worker path is
the same function (apps/reports/tasks.py)."""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

import pytest

from apps.reports.models import ReportExport
from tests.celery_worker import celery_worker, wait_until  # noqa: F401 - fixture
from tests.conftest import client_for
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db

CHROMIUM = Path("/usr/bin/chromium")


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream of the PDF, inflated where Flate-compressed."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        raw = match.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def image_count(pdf: bytes) -> int:
    """Image XObjects, in plain objects or inside compressed object streams."""
    found = len(re.findall(rb"/Subtype\s*/Image", pdf))
    return found + sum(len(re.findall(rb"/Subtype\s*/Image", s)) for s in pdf_streams(pdf))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="PDF export needs /usr/bin/chromium")
def test_pdf_export_prints_the_chart(
    team, project, admin_user, other_admin, django_capture_on_commit_callbacks
):
    from apps.runs import services as run_services

    run = make_run(team, project, admin_user, uid="pdf-run", name="pdf-run")
    points = [["loss", s, 1 / (s + 1), 1.7e9 + s] for s in range(200)]
    run_services.run_ingest(run=run, body={"points": points})
    api = client_for(admin_user)
    base = f"/api/v1/teams/{team.slug}/projects/{project.name}/reports"
    body = (
        "# Loss study\n\nThe loss falls like 1/step.\n\n"
        '```panel\n{"type": "chart", "keys": ["loss"], "title": "Training loss", '
        '"runs": {"ids": ["pdf-run"]}}\n```\n\n'
        '```panel\n{"type": "runs", "columns": ["summary.loss"], "runs": {"limit": 5}}\n```\n'
    )
    report = api.post(base, {"title": "Loss study", "body": body}).json()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"{base}/{report['id']}/exports")
    assert answer.status_code == 202, answer.content
    export = api.get(f"{base}/{report['id']}/exports/{answer.json()['id']}").json()
    assert export["state"] == "done", export
    assert export["file_url"].endswith(f"/exports/{export['id']}/file")

    response = api.get(export["file_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content) if response.streaming else response.content
    assert pdf.startswith(b"%PDF-")
    if os.environ.get("GRADLINE_SCREENSHOTS"):  # to look at it
        Path(os.environ["GRADLINE_SCREENSHOTS"], "report-export.pdf").write_bytes(pdf)
    assert image_count(pdf) >= 1, "the chart (a canvas) should print as an image"
    # The text is there too (Chromium embeds fonts; the title shows in the metadata).
    assert b"Loss study" in pdf or any(b"Loss study" in s for s in pdf_streams(pdf))
    assert len(pdf) > 10_000
    # Another team cannot read the export or its file.
    outsider = client_for(other_admin)
    assert outsider.get(f"{base}/{report['id']}/exports/{export['id']}").status_code == 404
    assert outsider.get(export["file_url"]).status_code == 404
    assert ReportExport.objects.for_team(team).get(pk=export["id"]).size == len(pdf)


def test_a_failed_export_says_why(
    team, project, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.REPORTS_CHROMIUM = "/nonexistent/chromium"
    api = client_for(admin_user)
    base = f"/api/v1/teams/{team.slug}/projects/{project.name}/reports"
    report = api.post(base, {"title": "t", "body": "text"}).json()
    with django_capture_on_commit_callbacks(execute=True):
        export = api.post(f"{base}/{report['id']}/exports").json()
    export = api.get(f"{base}/{report['id']}/exports/{export['id']}").json()
    assert export["state"] == "failed" and export["error"], export
    assert export["file_url"] is None
    detail = f"{base}/{report['id']}/exports/{export['id']}/file"
    assert api.get(detail).status_code == 404


@pytest.fixture
def shared_media(settings, monkeypatch):
    """The worker (a subprocess) stores the PDF where this process reads it."""
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="PDF export needs /usr/bin/chromium")
def test_a_real_worker_renders_the_export(
    team,
    project,
    admin_user,
    shared_media,
    celery_worker,  # noqa: F811
):
    """The request only queues the export (202, pending); a Celery worker on Redis prints
    it; the page's poll then finds it done and the file is a PDF with the chart."""
    from apps.runs import services as run_services

    run = make_run(team, project, admin_user, uid="worker-run")
    run_services.run_ingest(
        run=run, body={"points": [["loss", s, 1 / (s + 1), 1.7e9] for s in range(50)]}
    )
    api = client_for(admin_user)
    base = f"/api/v1/teams/{team.slug}/projects/{project.name}/reports"
    panel = '{"type": "chart", "keys": ["loss"], "runs": {"ids": ["worker-run"]}}'
    body = f"# Worker\n\n```panel\n{panel}\n```\n"
    report = api.post(base, {"title": "Worker", "body": body}).json()
    answer = api.post(f"{base}/{report['id']}/exports")
    assert answer.status_code == 202 and answer.json()["state"] == "pending"
    url = f"{base}/{report['id']}/exports/{answer.json()['id']}"
    export = wait_until(
        lambda: (e := api.get(url).json())["state"] != "pending" and e,
        timeout=180,
        what="the worker to render the PDF",
    )
    assert export["state"] == "done", (export, celery_worker.log_text()[-3000:])
    response = api.get(export["file_url"])
    pdf = b"".join(response.streaming_content) if response.streaming else response.content
    assert pdf.startswith(b"%PDF-") and image_count(pdf) >= 1
