"""The runs query language: filters (AND / OR / NOT over fields and operators), ordering
and keyset cursors, compiled to SQL over runs_run.

Filters are JSON in the MongoDB style W&B's `Api().runs(filters=…)` uses:
    {"$and": [{"config.lr": {"$gte": 0.01}}, {"summary.loss": {"lt": 0.5}}],
     "state": "finished", "tags": {"$in": ["baseline"]}}
A dict of several fields means AND; a bare value means eq; operators may be written with or
without "$". Every value is a bound parameter: user input never becomes SQL text.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from apps.core.errors import DomainError

T = '"runs_run"'
OPS = frozenset(
    {"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "contains", "regex", "exists", "all"}
)
MAX_DEPTH = 8
MAX_CONDITIONS = 100

# name -> (column, kind). kind: text | time | int | tags | user
TOP_LEVEL: dict[str, tuple[str, str]] = {
    "id": ("uid", "text"),
    "uid": ("uid", "text"),
    "name": ("name", "text"),
    "display_name": ("name", "text"),
    "state": ("state", "text"),
    "group": ("group", "text"),
    "job_type": ("job_type", "text"),
    "host": ("host", "text"),
    "notes": ("notes", "text"),
    "created_at": ("created_at", "time"),
    "createdAt": ("created_at", "time"),
    "updated_at": ("updated_at", "time"),
    "heartbeat_at": ("heartbeat_at", "time"),
    "finished_at": ("finished_at", "time"),
    "exit_code": ("exit_code", "int"),
    "tags": ("tags", "tags"),
    "user": ("created_by_id", "user"),
    "username": ("created_by_id", "user"),
}
JSON_ROOTS = {"config": "config", "summary": "summary", "summary_metrics": "summary"}
ORDERABLE_COLUMNS = {"uid", "name", "state", "group", "job_type", "created_at", "updated_at"}
ORDERABLE_COLUMNS |= {"heartbeat_at"}


def bad(message: str, field_name: str = "filters") -> DomainError:
    return DomainError(message, code="invalid_query", detail={"field": field_name})


@dataclass
class Sql:
    text: str
    params: list = field(default_factory=list)


def json_expr(path: str) -> Sql:
    """config.a.b -> the value at config #> {a,b}, falling back to the flat key "a.b"."""
    root, _, rest = path.partition(".")
    column = JSON_ROOTS.get(root)
    if column is None or not rest:
        raise bad(f"Unknown field {path!r}.")
    parts = rest.split(".")
    if len(parts) == 1:
        return Sql(f"({T}.{column} -> %s)", [rest])
    return Sql(f"COALESCE({T}.{column} #> %s::text[], {T}.{column} -> %s)", [parts, rest])


def _jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def _nested(parts: list[str], value: Any) -> Any:
    for part in reversed(parts):
        value = {part: value}
    return value


class Compiler:
    def __init__(self) -> None:
        self.conditions = 0

    def compile(self, spec: Any, depth: int = 0) -> Sql:
        if depth > MAX_DEPTH:
            raise bad(f"Filters nest deeper than {MAX_DEPTH} levels.")
        if not isinstance(spec, dict):
            raise bad("A filter must be a JSON object.")
        parts = []
        for key, value in spec.items():
            logical = key.lstrip("$").lower()
            if logical in ("and", "or"):
                if not isinstance(value, list) or not value:
                    raise bad(f"${logical} takes a non-empty list of filters.")
                inner = [self.compile(item, depth + 1) for item in value]
                glue = " AND " if logical == "and" else " OR "
                parts.append(
                    Sql(
                        "(" + glue.join(s.text for s in inner) + ")",
                        [p for s in inner for p in s.params],
                    )
                )
            elif logical == "not":
                inner = self.compile(value, depth + 1)
                parts.append(Sql(f"(NOT COALESCE({inner.text}, false))", inner.params))
            else:
                parts.append(self.field(key, value))
        if not parts:
            return Sql("TRUE")
        return Sql(
            "(" + " AND ".join(s.text for s in parts) + ")", [p for s in parts for p in s.params]
        )

    def field(self, name: str, condition: Any) -> Sql:
        if (
            isinstance(condition, dict)
            and condition
            and all(isinstance(k, str) and k.lstrip("$") in OPS for k in condition)
        ):
            ops = [(k.lstrip("$"), v) for k, v in condition.items()]
        else:
            ops = [("eq", condition)]
        parts = []
        for op, value in ops:
            self.conditions += 1
            if self.conditions > MAX_CONDITIONS:
                raise bad(f"At most {MAX_CONDITIONS} conditions per query.")
            if name in TOP_LEVEL:
                column, kind = TOP_LEVEL[name]
                parts.append(self.column_op(name, f"{T}.{_quote(column)}", kind, op, value))
            else:
                parts.append(self.json_op(name, op, value))
        return Sql(
            "(" + " AND ".join(s.text for s in parts) + ")", [p for s in parts for p in s.params]
        )

    # JSON fields (config.*, summary.*) ------------------------------------------------
    def json_op(self, name: str, op: str, value: Any) -> Sql:
        e = json_expr(name)
        x, p = e.text, e.params
        if op == "eq":
            root, _, rest = name.partition(".")
            parts = rest.split(".")
            column = JSON_ROOTS[root]
            if not isinstance(value, dict | list):
                # Containment uses the GIN index on config (jsonb_path_ops).
                contained = f"{T}.{column} @> %s::jsonb"
                if len(parts) == 1:
                    return Sql(contained, [_jsonb(_nested(parts, value))])
                return Sql(
                    f"({contained} OR {T}.{column} -> %s = %s::jsonb)",
                    [_jsonb(_nested(parts, value)), rest, _jsonb(value)],
                )
            return Sql(f"({x} = %s::jsonb)", [*p, _jsonb(value)])
        if op == "ne":
            return Sql(f"({x} IS DISTINCT FROM %s::jsonb)", [*p, _jsonb(value)])
        if op in ("lt", "lte", "gt", "gte"):
            sym = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise bad(f"{name}: ${op} needs a number or a string.")
            if isinstance(value, str):
                return Sql(
                    f"(jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') {sym} %s)",
                    [*p, *p, value],
                )
            return Sql(
                f"(CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::float8 END {sym} %s)",
                [*p, *p, float(value)],
            )
        if op in ("in", "nin"):
            if not isinstance(value, list):
                raise bad(f"{name}: ${op} needs a list.")
            test = f"({x} = ANY(%s::text[]::jsonb[]))"
            sql = test if op == "in" else f"(NOT COALESCE({test}, false))"
            return Sql(sql, [*p, [_jsonb(v) for v in value]])
        if op == "contains":
            if isinstance(value, str):
                return Sql(
                    f"((jsonb_typeof({x}) = 'string' AND strpos({x} #>> '{{}}', %s) > 0) "
                    f"OR (jsonb_typeof({x}) = 'array' AND {x} @> %s::jsonb))",
                    [*p, *p, value, *p, *p, _jsonb([value])],
                )
            return Sql(
                f"(jsonb_typeof({x}) = 'array' AND {x} @> %s::jsonb)", [*p, *p, _jsonb([value])]
            )
        if op == "regex":
            _regex(name, value)
            return Sql(f"(jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') ~ %s)", [*p, *p, value])
        if op == "exists":
            return Sql(f"({x} IS {'NOT ' if value else ''}NULL)", p)
        if op == "all":
            if not isinstance(value, list):
                raise bad(f"{name}: $all needs a list.")
            return Sql(f"({x} @> %s::jsonb)", [*p, _jsonb(value)])
        raise bad(f"Unknown operator {op!r}.")

    # Columns ---------------------------------------------------------------------------
    def column_op(self, name: str, col: str, kind: str, op: str, value: Any) -> Sql:
        if kind == "tags":
            return _tags_op(name, col, op, value)
        if kind == "user":
            return _user_op(name, col, op, value)
        if op == "exists":
            return Sql(f"({col} IS {'NOT ' if value else ''}NULL)")
        if op in ("in", "nin"):
            if not isinstance(value, list):
                raise bad(f"{name}: ${op} needs a list.")
            values = [_scalar(name, kind, v) for v in value]
            cast = {"text": "text[]", "time": "timestamptz[]", "int": "int[]"}[kind]
            test = f"({col} = ANY(%s::{cast}))"
            return Sql(test if op == "in" else f"(NOT COALESCE({test}, false))", [values])
        if op == "contains":
            if kind != "text" or not isinstance(value, str):
                raise bad(f"{name}: $contains needs a string.")
            return Sql(f"(strpos(lower({col}), lower(%s)) > 0)", [value])
        if op == "regex":
            if kind != "text":
                raise bad(f"{name}: $regex applies to text fields.")
            _regex(name, value)
            return Sql(f"({col} ~ %s)", [value])
        sym = {"eq": "=", "ne": "IS DISTINCT FROM", "lt": "<", "lte": "<=", "gt": ">"}.get(op)
        sym = sym or {"gte": ">="}.get(op)
        if sym is None:
            raise bad(f"{name}: operator ${op} does not apply.")
        return Sql(f"({col} {sym} %s)", [_scalar(name, kind, value)])


def _quote(column: str) -> str:
    return f'"{column}"'


def _scalar(name: str, kind: str, value: Any) -> Any:
    if kind == "text":
        if not isinstance(value, str):
            raise bad(f"{name} compares with strings.")
        return value
    if kind == "int":
        if type(value) is not int:
            raise bad(f"{name} compares with integers.")
        return value
    return parse_time(name, value)


def parse_time(name: str, value: Any) -> datetime:
    parsed = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value).astimezone()
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value)
            if parsed is None and (day := parse_date(value)) is not None:
                parsed = datetime(day.year, day.month, day.day)
        except ValueError:
            parsed = None
    if parsed is None:
        raise bad(f"{name} needs an ISO 8601 date/time or Unix seconds.")
    return make_aware(parsed) if is_naive(parsed) else parsed


def _regex(name: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) > 512:
        raise bad(f"{name}: $regex needs a pattern of at most 512 characters.")
    from django.db import DataError, connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT '' ~ %s", [value])
    except DataError as exc:
        raise bad(f"{name}: invalid regular expression: {exc}") from exc


def _tags_op(name: str, col: str, op: str, value: Any) -> Sql:
    if op in ("eq", "contains", "ne"):
        if not isinstance(value, str):
            raise bad(f"{name}: ${op} needs a tag (string).")
        test = f"(%s = ANY({col}))"
        return Sql(test if op != "ne" else f"(NOT {test})", [value])
    if op in ("in", "nin", "all"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"{name}: ${op} needs a list of tags.")
        if op == "all":
            return Sql(f"({col} @> %s::varchar[])", [value])
        test = f"({col} && %s::varchar[])"
        return Sql(test if op == "in" else f"(NOT {test})", [value])
    if op == "exists":
        return Sql(f"(cardinality({col}) {'>' if value else '='} 0)")
    raise bad(f"{name}: operator ${op} does not apply to tags.")


def _user_op(name: str, col: str, op: str, value: Any) -> Sql:
    lookup = "(SELECT id FROM accounts_user WHERE lower(email) = ANY(%s::text[]))"

    def emails(values):
        if not all(isinstance(v, str) for v in values):
            raise bad(f"{name} compares with e-mail addresses.")
        return [v.lower() for v in values]

    if op == "eq":
        return Sql(f"({col} IN {lookup})", [emails([value])])
    if op == "ne":
        return Sql(f"({col} IS NULL OR {col} NOT IN {lookup})", [emails([value])])
    if op in ("in", "nin") and isinstance(value, list):
        test = f"({col} IN {lookup})"
        sql = test if op == "in" else f"({col} IS NULL OR NOT {test})"
        return Sql(sql, [emails(value)])
    raise bad(f"{name}: operator ${op} does not apply to users.")


# Ordering and cursors ------------------------------------------------------------------


@dataclass
class Order:
    spec: str  # as given, normalised ("-summary.loss")
    descending: bool
    column: str | None = None  # a runs_run column, or None for a JSON field
    json: Sql | None = None

    def rank_sql(self) -> Sql:
        """JSON values sort numbers first, then strings and others, then missing/null,
        in either direction (NaN summaries, stored as "NaN", land after the numbers)."""
        x = self.json
        return Sql(
            f"(CASE WHEN jsonb_typeof({x.text}) = 'number' THEN 0 "
            f"WHEN {x.text} IS NULL OR jsonb_typeof({x.text}) = 'null' THEN 2 ELSE 1 END)",
            x.params * 3,
        )

    def value_sql(self) -> Sql:
        if self.column:
            return Sql(f"{T}.{_quote(self.column)}")
        return Sql(f"COALESCE({self.json.text}, 'null'::jsonb)", self.json.params)


def parse_order(raw: str | None) -> Order:
    spec = (raw or "-created_at").strip()
    descending = spec.startswith("-")
    name = spec.lstrip("+-")
    if name in TOP_LEVEL and TOP_LEVEL[name][0] in ORDERABLE_COLUMNS:
        return Order(f"{'-' if descending else ''}{name}", descending, column=TOP_LEVEL[name][0])
    if name.partition(".")[0] in JSON_ROOTS:
        return Order(f"{'-' if descending else ''}{name}", descending, json=json_expr(name))
    raise bad(
        f"Cannot order by {name!r}: use a config.* or summary.* field, or one of "
        f"{sorted(k for k, v in TOP_LEVEL.items() if v[0] in ORDERABLE_COLUMNS)}.",
        "order",
    )


def encode_cursor(order: Order, rank: int | None, value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = orjson.dumps({"o": order.spec, "r": rank, "v": value, "id": pk})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_condition(order: Order, cursor: str) -> Sql:
    """Rows strictly after the cursor's row in the order (keyset pagination)."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        spec, rank, value, pk = data["o"], data["r"], data["v"], int(data["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise bad("Invalid cursor.", "cursor") from exc
    if spec != order.spec:
        raise bad("The cursor belongs to another ordering.", "cursor")
    cmp = "<" if order.descending else ">"
    val = order.value_sql()
    if order.column:
        cast = "::timestamptz" if order.column.endswith("_at") else "::text"
        if order.column.endswith("_at"):
            value = parse_time("cursor", value)
        return Sql(
            f"(({val.text} {cmp} %s{cast}) OR ({val.text} = %s{cast} AND {T}.id {cmp} %s))",
            [value, value, pk],
        )
    r = order.rank_sql()
    v = _jsonb(value)
    return Sql(
        f"(({r.text} > %s) OR ({r.text} = %s AND {val.text} {cmp} %s::jsonb) "
        f"OR ({r.text} = %s AND {val.text} = %s::jsonb AND {T}.id {cmp} %s))",
        [*r.params, rank, *r.params, rank, *val.params, v, *r.params, rank, *val.params, v, pk],
    )
