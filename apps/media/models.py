"""The media index of runs: images, audio, video, HTML, 3D, plotly, histograms, tables and
custom charts logged at (key, step), and the rows of logged tables.

Storage choice for tables (why rows live in PostgreSQL, not in Parquet files): the table
viewer pages, sorts and filters a table of up to a million rows on the server. One
`TableRow` per row (primary key (table, row_index), cells as a JSONB array) lets
PostgreSQL do exactly that without the application ever holding the table: a page in
file order is a primary-key range scan; a sort is a top-N heapsort over the table's
rows (`ORDER BY cells -> i LIMIT n`, memory bounded by n); a filter is a WHERE on the
same rows. JSONB keeps a cell's type (numbers sort as numbers, strings as text, media
cells stay objects), which a Parquet file of mixed-type columns would not, and sorting
Parquet would mean reading every row group into the web process. Rows are written with
COPY at ingest, streamed from the uploaded JSON-lines file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.tenancy import TeamOwnedModel
from apps.runs.models import Run, RunFile


class MediaType(models.TextChoices):
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    HTML = "html", "HTML"
    OBJECT3D = "object3d", "3D object"
    PLOTLY = "plotly", "Plotly figure"
    HISTOGRAM = "histogram", "Histogram"
    TABLE = "table", "Table"
    CHART = "chart", "Custom chart"


class MediaItem(TeamOwnedModel):
    """One logged media value: (run, key, step, index) — index orders a list logged under
    one key. The bytes are a run file (`file`, validated by content when registered; the
    item keeps the sha256 it validated, so a file replaced later is not served as this
    item). Histograms have no file: their bins and counts are in `metadata`. Media inside
    table cells are items too, with `parent` set to their table."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    step = models.BigIntegerField()
    index = models.IntegerField(default=0)
    type = models.CharField(max_length=16, choices=MediaType.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    file = models.ForeignKey(
        RunFile, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=16, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict)
    wall_time = models.FloatField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "key", "step", "index"], name="mediaitem_unique_position"
            )
        ]
        indexes = [models.Index(fields=["run", "key", "step"], name="mediaitem_run_key_step")]


class TableRow(TeamOwnedModel):
    """One row of a logged table (or a custom chart's table): cells as a JSONB array in
    the table's column order."""

    pk = models.CompositePrimaryKey("table", "row_index")
    table = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="+")
    row_index = models.IntegerField()
    cells = models.JSONField()


class ChartPreset(TeamOwnedModel):
    """A named custom chart of a team: a Vega-Lite spec over data named "table" (the
    same shape as a logged chart's spec), saved from the custom-chart editor and offered
    for every table of the team's projects. Names are unique within the team."""

    name = models.CharField(max_length=128)
    spec = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="chartpreset_unique_name")
        ]
