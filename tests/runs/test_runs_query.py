"""The runs query: every field family x operator, AND / OR / NOT, ordering by config and
summary fields with cursor pages, column selection — checked against a plain-Python
evaluation of the same filter over the same runs."""

from __future__ import annotations

import math
import random
import re
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from apps.runs import services
from apps.runs.models import Run
from tests.factories import UserFactory
from tests.runs.conftest import P, make_run

OPTIMIZERS = ["adam", "sgd", "adamw", None]
STATES = ["running", "finished", "failed", "crashed"]


@pytest.fixture
def corpus(team, project, member_user, admin_user):
    """40 runs with config, summary (numbers, NaN, missing), tags, states, groups, users
    and creation times, plus the Python view of each."""
    rng = random.Random(7)
    now = timezone.now()
    runs = []
    for i in range(40):
        actor = member_user if i % 3 else admin_user
        config = {"lr": round(rng.choice([0.1, 0.01, 0.001, 0.0003]), 4), "seed": i}
        optimizer = OPTIMIZERS[i % 4]
        if optimizer:
            config["optimizer"] = optimizer
        config["model"] = {"depth": [18, 34, 50][i % 3]}
        config["layers"] = [64, 128] if i % 2 else [32]
        run = make_run(
            team,
            project,
            actor,
            uid=f"r{i:02d}",
            config=config,
            tags=[t for t, on in (("base", i % 2 == 0), ("big", i % 5 == 0)) if on],
            group=f"g{i % 3}",
            job_type="train" if i % 4 else "eval",
        )
        summary = {}
        if i % 7 != 3:
            loss = rng.uniform(0.1, 2.0)
            points = [["loss", 0, loss + 1.0, 1.7e9], ["loss", 1, loss, 1.7e9 + 1]]
            if i % 11 == 5:
                points[-1][2] = "NaN"
            services.run_ingest(run=run, body={"points": points})
        if i % 6 == 1:
            summary["note"] = f"text-{i}"
        if summary:
            services.run_ingest(run=run, body={"summary": summary})
        Run.objects.for_team(team).filter(pk=run.pk).update(
            state=STATES[i % 4],
            created_at=now - timedelta(hours=40 - i),
            updated_at=now - timedelta(minutes=i),
        )
        runs.append(run.pk)
    qs = Run.objects.for_team(team).filter(pk__in=runs).select_related("created_by")
    return {r.uid: r for r in qs}


MISSING = object()


def _get(run: Run, field: str):
    root, _, rest = field.partition(".")
    root = "summary" if root == "summary_metrics" else root
    if root in ("config", "summary"):
        doc = getattr(run, root)
        if rest in doc:
            return doc[rest]
        node = doc
        for part in rest.split("."):
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
        return node
    if field == "user":
        return run.created_by.email if run.created_by else None
    return getattr(run, field)


def _num(v):
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _op(run: Run, field: str, op: str, arg) -> bool:
    v = _get(run, field)
    jsonish = field.partition(".")[0] in ("config", "summary", "summary_metrics")
    if field == "tags":
        return {
            "eq": lambda: arg in v,
            "contains": lambda: arg in v,
            "ne": lambda: arg not in v,
            "in": lambda: bool(set(arg) & set(v)),
            "nin": lambda: not set(arg) & set(v),
            "all": lambda: set(arg) <= set(v),
        }[op]()
    if field in ("created_at", "updated_at"):
        arg = arg if not isinstance(arg, str) else timezone.datetime.fromisoformat(arg)
    if op == "eq":
        return v is not MISSING and v == arg and type(v) is not bool
    if op == "ne":
        return v is MISSING or v != arg
    if op in ("lt", "lte", "gt", "gte"):
        if isinstance(arg, str) and jsonish:
            if not isinstance(v, str):
                return False
        elif jsonish:
            v = _num(v)
            if v is None:
                return False
        elif v is None:
            return False
        return {"lt": v < arg, "lte": v <= arg, "gt": v > arg, "gte": v >= arg}[op]
    if op == "in":
        return v is not MISSING and v in arg
    if op == "nin":
        return v is MISSING or v not in arg
    if op == "contains":
        if isinstance(v, list):
            return arg in v
        if jsonish:
            return isinstance(v, str) and arg in v
        return isinstance(v, str) and arg.lower() in v.lower()
    if op == "regex":
        return isinstance(v, str) and re.search(arg, v) is not None
    if op == "exists":
        return (v is not MISSING) == arg
    raise AssertionError(op)


def matches(run: Run, spec: dict) -> bool:
    for key, value in spec.items():
        if key == "$and":
            ok = all(matches(run, s) for s in value)
        elif key == "$or":
            ok = any(matches(run, s) for s in value)
        elif key == "$not":
            ok = not matches(run, value)
        elif isinstance(value, dict) and all(k.lstrip("$") in OPS for k in value):
            ok = all(_op(run, key, k.lstrip("$"), v) for k, v in value.items())
        else:
            ok = _op(run, key, "eq", value)
        if not ok:
            return False
    return True


OPS = {"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "contains", "regex", "exists", "all"}
HOUR_AGO_20 = (timezone.now() - timedelta(hours=20)).isoformat()

FILTERS = [
    {"config.lr": 0.01},
    {"config.lr": {"$ne": 0.01}},
    {"config.lr": {"$gt": 0.001}},
    {"config.lr": {"$gte": 0.001, "$lt": 0.1}},
    {"config.lr": {"lte": 0.001}},
    {"config.optimizer": {"$in": ["adam", "sgd"]}},
    {"config.optimizer": {"$nin": ["adam"]}},
    {"config.optimizer": {"contains": "adam"}},
    {"config.optimizer": {"$regex": "^ad.*w$"}},
    {"config.optimizer": {"$exists": False}},
    {"config.optimizer": {"$gt": "b"}},
    {"config.model.depth": 50},
    {"config.model.depth": {"$gte": 34}},
    {"config.layers": {"$contains": 128}},
    {"config.layers": [32]},
    {"summary.loss": {"$lt": 1.0}},
    {"summary.loss": {"$gte": 0.5}},
    {"summary.loss": {"$exists": True}},
    {"summary.loss": "NaN"},
    {"summary_metrics.loss": {"$lt": 1.0}},
    {"summary.note": {"$regex": "-1[0-9]$"}},
    {"tags": "base"},
    {"tags": {"$in": ["big", "nope"]}},
    {"tags": {"$nin": ["base"]}},
    {"tags": {"$all": ["base", "big"]}},
    {"tags": {"$ne": "base"}},
    {"state": "finished"},
    {"state": {"$in": ["running", "crashed"]}},
    {"state": {"$ne": "failed"}},
    {"user": "admin@a.example"},
    {"user": {"$ne": "admin@a.example"}},
    {"group": "g1"},
    {"group": {"$regex": "^g[02]$"}},
    {"job_type": "eval"},
    {"created_at": {"$gt": HOUR_AGO_20}},
    {"updated_at": {"$lt": HOUR_AGO_20}},
    {"name": {"$contains": "-"}},
    {"$or": [{"config.lr": 0.1}, {"tags": "big"}]},
    {"$and": [{"config.lr": {"$lt": 0.1}}, {"summary.loss": {"$lt": 1.5}}]},
    {"$not": {"state": "finished"}},
    {"$or": [{"$and": [{"group": "g0"}, {"job_type": "eval"}]}, {"summary.loss": {"$gt": 1.5}}]},
    {"config.lr": 0.01, "state": {"$in": ["finished", "failed"]}},
]


def test_filters_match_reference(member_api, corpus):
    failures = []
    for spec in FILTERS:
        expected = {uid for uid, run in corpus.items() if matches(run, spec)}
        r = member_api.get(f"{P}/runs?page_size=1000&columns=name&filters=" + _q(spec))
        if r.status_code != 200:
            failures.append(f"{spec}: {r.status_code} {r.content[:200]!r}")
            continue
        got = {row["id"] for row in r.json()["results"]}
        if got != expected:
            failures.append(
                f"{spec}: extra {sorted(got - expected)} missing {sorted(expected - got)}"
            )
    assert not failures, "\n".join(failures)
    # The corpus exercises both outcomes for most filters.
    assert sum(1 for spec in FILTERS if any(matches(r, spec) for r in corpus.values())) > 35


def _q(spec) -> str:
    from urllib.parse import quote

    return quote(orjson.dumps(spec).decode())


def _sort_key(run: Run, field: str, descending: bool):
    v = _get(run, field)
    if v is MISSING or v is None:
        rank, v = 2, None
    elif isinstance(v, int | float) and not isinstance(v, bool):
        rank = 0
    else:
        rank = 1
    return rank, v


def _expected_order(corpus, field: str, descending: bool, spec=None) -> list[str]:
    runs = [r for r in corpus.values() if spec is None or matches(r, spec)]
    if field in ("created_at", "updated_at", "name"):
        runs.sort(key=lambda r: (getattr(r, field), r.pk), reverse=descending)
        return [r.uid for r in runs]

    # rank ascending; within a rank the value (then id) in the requested direction.
    def key(r):
        rank, v = _sort_key(r, field, descending)
        return rank, v if rank == 0 else (orjson.dumps(v) if rank == 1 else b"")

    groups: dict[int, list] = {}
    for r in runs:
        groups.setdefault(key(r)[0], []).append(r)
    out = []
    for rank in sorted(groups):
        members = groups[rank]
        if rank == 1:
            # Only strings occur at rank 1 in this corpus (NaN is "NaN").
            members.sort(key=lambda r: (_get(r, field), r.pk), reverse=descending)
        elif rank == 0:
            members.sort(key=lambda r: (_get(r, field), r.pk), reverse=descending)
        else:
            members.sort(key=lambda r: r.pk, reverse=descending)
        out += [r.uid for r in members]
    return out


ORDERS = [
    ("summary.loss", None),
    ("-summary.loss", None),
    ("config.lr", None),
    ("-config.optimizer", None),
    ("config.model.depth", {"state": {"$ne": "crashed"}}),
    ("-summary.loss", {"config.lr": {"$lt": 0.1}}),
    ("-created_at", None),
    ("updated_at", {"tags": "base"}),
    ("name", None),
]


def test_order_and_cursor_pages(member_api, corpus):
    failures = []
    for order, spec in ORDERS:
        descending = order.startswith("-")
        expected = _expected_order(corpus, order.lstrip("-"), descending, spec)
        got, cursor, pages = [], None, 0
        while True:
            url = f"{P}/runs?page_size=7&columns=name&order={order}"
            if spec:
                url += "&filters=" + _q(spec)
            if cursor:
                url += f"&cursor={cursor}"
            body = member_api.get(url).json()
            got += [row["id"] for row in body["results"]]
            pages += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        if got != expected or pages != max(1, math.ceil(len(expected) / 7)):
            failures.append(f"{order} {spec}: got {got} expected {expected} ({pages} pages)")
    assert not failures, "\n".join(failures)


def test_nan_and_missing_summaries_sort_after_numbers(member_api, corpus):
    for order in ("summary.loss", "-summary.loss"):
        rows = member_api.get(f"{P}/runs?page_size=100&order={order}").json()["results"]
        kinds = [
            0 if isinstance(r["summary"].get("loss"), float) else 1 if "loss" in r["summary"] else 2
            for r in rows
        ]
        assert kinds == sorted(kinds)


def test_column_selection_and_total(member_api, corpus):
    url = f"{P}/runs?columns=name,state,config.lr,config.model.depth,summary.loss&with_total=1"
    body = member_api.get(url + "&page_size=5&order=config.lr").json()
    assert body["total"] == 40
    row = body["results"][0]
    assert set(row) == {"id", "name", "state", "config", "summary"}
    assert set(row["config"]) == {"lr", "model.depth"}
    assert set(row["summary"]) <= {"loss"}


def test_shortcut_parameters(member_api, corpus):
    body = member_api.get(f"{P}/runs?state=finished&tags=big,nope&page_size=100").json()
    expected = {u for u, r in corpus.items() if r.state == "finished" and "big" in r.tags}
    assert {row["id"] for row in body["results"]} == expected


BAD_QUERIES = [
    ("filters=not-json", "filters"),
    ("filters=" + "%5B1%5D", "filters"),
    ("filters=" + "%7B%22config.lr%22%3A%7B%22%24regex%22%3A%22(%22%7D%7D", "filters"),
    ("filters=" + "%7B%22nope%22%3A1%7D", "filters"),
    ("filters=" + "%7B%22config.lr%22%3A%7B%22%24in%22%3A1%7D%7D", "filters"),
    ("filters=" + "%7B%22created_at%22%3A%7B%22%24gt%22%3A%22yesterday%22%7D%7D", "filters"),
    ("order=-bogus", "order"),
    ("cursor=abc", "cursor"),
    ("columns=password", "columns"),
    ("page_size=0", "page_size"),
]


def test_bad_queries_are_400_naming_the_field(member_api, project):
    failures = []
    for query, field in BAD_QUERIES:
        r = member_api.get(f"{P}/runs?{query}")
        if r.status_code != 400 or r.json()["error"]["detail"]["field"] != field:
            failures.append(f"{query}: {r.status_code} {r.content[:200]!r}")
    assert not failures, "\n".join(failures)


def test_cursor_of_another_order_is_rejected(member_api, corpus):
    cursor = member_api.get(f"{P}/runs?page_size=2&order=config.lr").json()["next_cursor"]
    r = member_api.get(f"{P}/runs?order=-config.lr&cursor={cursor}")
    assert r.status_code == 400


def test_metric_keys_of_project(member_api, team, project, member_user):
    run = make_run(team, project, member_user, uid="k1")
    services.run_ingest(
        run=run,
        body={
            "points": [["train/loss", 0, 1.0, 1.7e9], ["val/acc", 0, 1.0, 1.7e9]],
            "system": [["system/cpu", 0, 5.0, 1.7e9]],
        },
    )
    other = make_run(team, project, member_user, uid="k2")
    services.run_ingest(run=other, body={"points": [["train/loss", 0, 2.0, 1.7e9]]})
    assert member_api.get(f"{P}/metric-keys").json() == {"keys": ["train/loss", "val/acc"]}
    assert member_api.get(f"{P}/metric-keys?prefix=val/").json() == {"keys": ["val/acc"]}
    body = member_api.get(f"{P}/metric-keys?include_system=1").json()
    assert body == {"keys": ["system/cpu", "train/loss", "val/acc"]}


def test_user_filter_by_email_is_case_insensitive(member_api, corpus):
    UserFactory(email="stranger@a.example")
    body = member_api.get(f"{P}/runs?user=ADMIN@a.example&page_size=100").json()
    assert {row["id"] for row in body["results"]} == {
        u for u, r in corpus.items() if r.created_by.email == "admin@a.example"
    }


@pytest.mark.parametrize("value", ["null", "maybe", "2", "none"])
def test_boolean_query_parameters_refuse_other_values(member_api, run, value):
    services.run_ingest(run=run, body={"system": [["system/cpu", 0, 5.0, 1.7e9]]})
    for url in (
        f"{P}/metric-keys?include_system={value}",
        f"{P}/runs?with_total={value}",
        f"{P}/runs/{run.uid}/scan?require_all={value}",
    ):
        response = member_api.get(url)
        assert response.status_code == 400, (url, response.content)
        name = url.rsplit("?", 1)[1].split("=")[0]
        assert response.json()["error"]["detail"] == {"field": name}
    for value_ok, with_system in (("true", True), ("0", False), ("", False), ("FALSE", False)):
        keys = member_api.get(f"{P}/metric-keys?include_system={value_ok}").json()["keys"]
        assert any(k.startswith("system/") for k in keys) is with_system
