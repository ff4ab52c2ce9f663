"""Parameter importance over the API: correlations equal numpy/brute-force values, the
forest ranks the parameter that drives the metric first, results are cached until the
project's runs change, bad input is a 400, another team's project 404."""

from __future__ import annotations

import random
from urllib.parse import quote

import numpy as np
import orjson
import pytest

from tests.runs.conftest import P, make_run, post_json

URL = f"{P}/importance"


@pytest.fixture
def sweep_runs(team, project, member_user):
    """30 runs: loss falls with lr (strongly), depends on the optimizer a little, and
    ignores seed; two runs lack the metric."""
    rng = random.Random(3)
    rows = []
    for i in range(30):
        lr = rng.uniform(0.001, 0.1)
        optimizer = rng.choice(["adam", "sgd"])
        seed = rng.randint(0, 1000)
        loss = 1.0 - 8 * lr + (0.05 if optimizer == "sgd" else 0.0) + rng.uniform(0, 0.01)
        make_run(
            team, project, member_user, uid=f"s{i}",
            config={"lr": lr, "optimizer": optimizer, "seed": seed, "model": {"depth": 4}},
        )  # fmt: skip
        from apps.runs import services

        run = make_run(team, project, member_user, uid=f"s{i}", resume="allow")
        services.run_update(run=run, data={"summary": {"loss": loss}})
        rows.append((lr, optimizer, seed, loss))
    make_run(team, project, member_user, uid="nometric", config={"lr": 0.5})
    return rows


def test_importance_ranks_and_correlates(member_api, sweep_runs):
    response = member_api.get(f"{URL}?metric=loss")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["metric"] == "loss" and body["runs"] == 30 and body["cached"] is False
    by_name = {p["name"]: p for p in body["parameters"]}
    # depth never varies: not a feature; strings become one-hot features.
    assert set(by_name) == {"config.lr", "config.seed", "config.optimizer=adam",
                            "config.optimizer=sgd"}  # fmt: skip
    assert body["parameters"][0]["name"] == "config.lr"
    assert sum(p["importance"] for p in body["parameters"]) == pytest.approx(1.0)
    lr = np.array([r[0] for r in sweep_runs])
    loss = np.array([r[3] for r in sweep_runs])
    assert by_name["config.lr"]["pearson"] == pytest.approx(np.corrcoef(lr, loss)[0, 1])
    assert by_name["config.lr"]["spearman"] < -0.9
    sgd = np.array([1.0 if r[1] == "sgd" else 0.0 for r in sweep_runs])
    assert by_name["config.optimizer=sgd"]["pearson"] == pytest.approx(np.corrcoef(sgd, loss)[0, 1])
    # Deterministic (fixed seed), and cached until the runs change.
    again = member_api.get(f"{URL}?metric=loss").json()
    assert again["cached"] is True and again["parameters"] == body["parameters"]


def test_cache_is_invalidated_when_runs_change(member_api, sweep_runs):
    assert member_api.get(f"{URL}?metric=loss").json()["runs"] == 30
    created = post_json(
        member_api, f"{P}/runs", {"id": "late", "config": {"lr": 0.05, "optimizer": "adam"}}
    )
    assert created.status_code == 201, created.content
    fresh = member_api.get(f"{URL}?metric=loss").json()
    assert fresh["cached"] is False and fresh["runs"] == 30
    response = member_api.generic(
        "PATCH", f"{P}/runs/late", orjson.dumps({"summary": {"loss": 0.6}}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200
    assert member_api.get(f"{URL}?metric=loss").json()["runs"] == 31


def test_filters_and_too_few_runs(member_api, sweep_runs):
    filters = quote(orjson.dumps({"config.optimizer": "adam"}).decode())
    body = member_api.get(f"{URL}?metric=loss&filters={filters}").json()
    assert 0 < body["runs"] < 30
    assert all(not p["name"].startswith("config.optimizer") for p in body["parameters"])
    none = member_api.get(f"{URL}?metric=accuracy").json()
    assert none["runs"] == 0 and none["parameters"] == [] and "reason" in none


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "metric"), ("?metric=loss&filters={", "filters"),
     ("?metric=loss&filters=%7B%22config.lr%22%3A%7B%22%24lt%22%3A%5B%5D%7D%7D", "filters")],
)  # fmt: skip
def test_bad_input(member_api, project, query, field):
    response = member_api.get(f"{URL}{query}")
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["field"] == field


def test_other_team_is_404_and_viewer_reads(api_for, other_admin, viewer_api, sweep_runs):
    assert api_for(other_admin).get(f"{URL}?metric=loss").status_code == 404
    assert viewer_api.get(f"{URL}?metric=loss").status_code == 200
