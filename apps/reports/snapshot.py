"""The data of a report's panels as of now, read on the server: what the PDF prints.

The live page reads the same things through the API (runs query, history) with the
reader's rights; the PDF task has no browser session, so it reads them here with the
selectors those API views use, in the report's team and project, and embeds them in the
print page (static/js/report.js draws from them instead of calling the API)."""

from __future__ import annotations

from apps.reports import document
from apps.runs import serializers as run_serializers
from apps.runs.selectors import history
from apps.runs.selectors import runs as run_selectors

CHART_BUCKETS = 600


def panel_runs(team, project, run_set: dict) -> list:
    if run_set.get("ids"):
        return run_selectors.runs_get_many(team, project, run_set["ids"])
    page = run_selectors.runs_query(
        team,
        project,
        filters=run_set.get("filters"),
        order=run_set.get("order"),
        page_size=run_set.get("limit", 10),
    )
    return list(page.runs)


def build(team, project, body: str) -> dict:
    """{panel number (str): {"runs": [run JSON], "history": {"runs": [...]}}}."""
    out: dict[str, dict] = {}
    for block in document.blocks(body):
        if block.kind != "panel":
            continue
        spec = block.panel
        runs = panel_runs(team, project, spec["runs"])
        data: dict = {"runs": [run_serializers.run_out(r) for r in runs]}
        if spec["type"] == "chart" and runs:
            data["history"] = {
                "runs": history.charts(
                    team,
                    runs,
                    keys=spec["keys"],
                    x_axis=spec.get("x_axis", "_step"),
                    buckets=CHART_BUCKETS,
                )
            }
        out[str(block.index)] = data
    return out
