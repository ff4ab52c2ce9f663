"""A report's Markdown and the live panels embedded in it.

A panel is a fenced code block whose info string is `panel`, holding one JSON object
(the editor's *Insert panel* writes them):

    ```panel
    {"type": "chart", "keys": ["loss"], "title": "Loss",
     "runs": {"filters": {"config.lr": {"$gt": 0.01}}, "order": "-created_at", "limit": 10}}
    ```

types: `chart` (line chart of 1-8 metric keys over a run set), `runs` (a runs table of
the run set with optional `columns`), `media` (the run set's media panels, optionally one
`key`). A run set is `{"ids": [...]}` (those runs) or `{"filters", "order", "limit"}`
(the runs API's query; a saved view is copied into one when inserted, its name kept as
`view` for the caption).

Guarantees: the Markdown between panels is rendered by the comment renderer
(apps/comments/markdown.py: markdown-it with raw HTML off, then nh3 with an allow-list),
so no script, handler, style or `javascript:` URL survives; a panel is never HTML — it is
validated JSON that the page's script draws with the workspace's panel modules, reading
the data through the API with the reader's own rights. A bad panel is a DomainError (400)
naming the panel's number and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from markdown_it import MarkdownIt

from apps.comments.markdown import render as render_markdown
from apps.core.errors import DomainError

MAX_BODY = 200_000
MAX_PANELS = 30
MAX_KEYS = 8
MAX_RUNS = 20
MAX_COLUMNS = 12
PANEL_TYPES = ("chart", "runs", "media")

# Only to find fenced blocks (with their line ranges); rendering is the comment renderer's.
_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


@dataclass(frozen=True)
class Block:
    kind: str  # "markdown" | "panel"
    html: str = ""
    panel: dict | None = None
    index: int = 0  # panel number, from 1


def _bad(number: int, message: str, field: str = "body") -> DomainError:
    return DomainError(
        f"Panel {number}: {message}", code="invalid_panel", detail={"field": field, "panel": number}
    )


def _strings(number: int, value: Any, name: str, limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(number, f"{name} must be a list of non-empty strings.", name)
    if len(value) > limit:
        raise _bad(number, f"at most {limit} {name}.", name)
    if any(len(v) > 256 or "\x00" in v for v in value):
        raise _bad(number, f"{name} entries must be at most 256 characters.", name)
    return list(dict.fromkeys(value))


def _run_set(number: int, value: Any) -> dict:
    from apps.runs.selectors import runquery

    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _bad(number, "runs must be an object.", "runs")
    out: dict[str, Any] = {}
    if value.get("ids") is not None:
        out["ids"] = _strings(number, value["ids"], "ids", MAX_RUNS)
    else:
        filters = value.get("filters")
        if filters is not None:
            if not isinstance(filters, dict):
                raise _bad(number, "runs.filters must be an object.", "filters")
            try:
                runquery.Compiler().compile(filters)
            except DomainError as exc:
                raise _bad(number, exc.message, "filters") from None
            out["filters"] = filters
        order = value.get("order")
        if order is not None:
            if not isinstance(order, str) or len(order) > 256:
                raise _bad(number, "runs.order must be a field name.", "order")
            try:
                runquery.parse_order(order)
            except DomainError as exc:
                raise _bad(number, exc.message, "order") from None
            out["order"] = order
        limit = value.get("limit", 10)
        if type(limit) is not int or not 1 <= limit <= MAX_RUNS:
            raise _bad(number, f"runs.limit must be 1-{MAX_RUNS}.", "limit")
        out["limit"] = limit
    view = value.get("view")
    if view is not None:
        if not isinstance(view, str) or len(view) > 128:
            raise _bad(number, "runs.view must be a view name.", "view")
        out["view"] = view
    return out


def validate_panel(number: int, raw: str) -> dict:
    try:
        spec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad(number, "must be one JSON object.") from None
    if not isinstance(spec, dict):
        raise _bad(number, "must be one JSON object.")
    kind = spec.get("type")
    if kind not in PANEL_TYPES:
        raise _bad(number, f"type must be one of {list(PANEL_TYPES)}.", "type")
    out: dict[str, Any] = {"type": kind, "runs": _run_set(number, spec.get("runs"))}
    title = spec.get("title")
    if title is not None:
        if not isinstance(title, str) or len(title) > 200 or "\x00" in title:
            raise _bad(number, "title must be text of at most 200 characters.", "title")
        out["title"] = title
    if kind == "chart":
        keys = _strings(number, spec.get("keys"), "keys", MAX_KEYS)
        if not keys:
            raise _bad(number, "a chart needs at least one metric key.", "keys")
        out["keys"] = keys
        x_axis = spec.get("x_axis", "_step")
        if not isinstance(x_axis, str) or not x_axis or len(x_axis) > 256:
            raise _bad(number, "x_axis must be a key name.", "x_axis")
        out["x_axis"] = x_axis
    elif kind == "runs":
        out["columns"] = _strings(number, spec.get("columns", []), "columns", MAX_COLUMNS)
    elif spec.get("key") is not None:
        out["key"] = _strings(number, [spec["key"]], "key", 1)[0]
    return out


def _fences(source: str) -> list[tuple[int, int, str]]:
    """(first line, end line, content) of each top-level ```panel fence."""
    found = []
    for token in _parser.parse(source):
        if token.type == "fence" and token.info.strip() == "panel" and token.map:
            found.append((token.map[0], token.map[1], token.content))
    return found


def check(source: str) -> list[dict]:
    """The panels of `source`, validated (DomainError naming the first bad one)."""
    if len(source) > MAX_BODY:
        raise DomainError(
            f"A report is at most {MAX_BODY} characters.", code="too_long", detail={"field": "body"}
        )
    fences = _fences(source)
    if len(fences) > MAX_PANELS:
        raise DomainError(f"A report holds at most {MAX_PANELS} panels.", detail={"field": "body"})
    return [validate_panel(n, content) for n, (_, _, content) in enumerate(fences, 1)]


def blocks(source: str) -> list[Block]:
    """The document as rendered Markdown and panels, in order. A stored body is valid;
    a panel that no longer validates (limits changed) shows as its source text."""
    lines = source.splitlines(keepends=True)
    out: list[Block] = []
    at = 0
    for number, (start, end, content) in enumerate(_fences(source), 1):
        text = "".join(lines[at:start])
        if text.strip():
            out.append(Block("markdown", html=render_markdown(text)))
        try:
            out.append(Block("panel", panel=validate_panel(number, content), index=number))
        except DomainError:
            out.append(Block("markdown", html=render_markdown("".join(lines[start:end]))))
        at = end
    rest = "".join(lines[at:])
    if rest.strip():
        out.append(Block("markdown", html=render_markdown(rest)))
    return out
