"""Prediction ingest: exactly once per prediction id under retries, bad records rejected
by name while the rest of the batch is stored, delayed ground truth joined by id into
the window metrics, and an alias move switching the version each prediction is
attributed to (both versions' figures separate)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn import metrics as skm

from apps.registry import services as registry_services
from apps.registry.models import RegisteredModel
from tests.monitoring.conftest import M, post_json, raw_count

pytestmark = pytest.mark.django_db

URL = f"{M}/fraud-prod"


def record(i, t=None, **extra):
    body = {
        "id": f"p{i}",
        "features": {
            "amount": float(i),
            "age": 30 + i % 7,
            "country": "de" if i % 2 else "fr",
            "note": "x" * (i % 5),
            "emb": [0.1 * i, 0.0, 1.0],
        },
        "prediction": (i % 10) / 10,
        "latency_ms": 5.0 + i % 3,
    }
    if t is not None:
        body["time"] = t
    return body | extra


def windows(client, **params):
    got = client.get(f"{URL}/metrics", {"view": "windows", **params})
    assert got.status_code == 200, got.content
    return got.json()


def test_exactly_once_under_retries(admin_api, monitor):
    now = time.time()
    batch = [record(i, now - 60) for i in range(50)]
    first = post_json(admin_api, f"{URL}/predictions", {"records": batch})
    assert first.status_code == 200, first.content
    assert first.json() == {"accepted": 50, "duplicates": 0, "rejected": []}
    # The SDK retrying the same batch (its response was lost), then an overlapping one
    # carrying a duplicate inside the batch as well.
    again = post_json(admin_api, f"{URL}/predictions", {"records": batch})
    assert again.json() == {"accepted": 0, "duplicates": 50, "rejected": []}
    overlap = [record(i, now - 60) for i in range(40, 60)] + [record(55, now - 60)]
    third = post_json(admin_api, f"{URL}/predictions", {"records": overlap})
    assert third.json() == {"accepted": 10, "duplicates": 11, "rejected": []}
    assert raw_count(monitor["id"]) == 60
    data = windows(admin_api)
    assert sum(w["all"]["volume"] for w in data["windows"]) == 60
    assert data["versions"] == ["v0"]


def test_bad_records_rejected_by_name(admin_api, monitor):
    now = time.time()
    good = [record(i, now) for i in range(3)]
    bad = [
        record(10, now, features={"amount": 1.0, "colour": "red"}),  # unknown feature
        record(11, now, features={"amount": "lots"}),  # wrong type
        record(12, now, features={"amount": "NaN"}),  # NaN where not allowed
        {k: v for k, v in record(13, now).items() if k != "id"},  # missing id
        record(14, now, prediction=1.5),  # not a probability
        record(15, now, features={"emb": [1.0, 2.0]}),  # wrong embedding size
    ]
    nan_ok = record(16, now, features={"age": "NaN"})  # age allows NaN: stored, missing
    got = post_json(admin_api, f"{URL}/predictions", {"records": good + bad + [nan_ok]})
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["accepted"] == 4
    fields = [(r["index"], r["id"], r["field"]) for r in body["rejected"]]
    assert fields == [
        (3, "p10", "features.colour"),
        (4, "p11", "features.amount"),
        (5, "p12", "features.amount"),
        (6, None, "id"),
        (7, "p14", "prediction"),
        (8, "p15", "features.emb"),
    ]
    assert "NaN" in body["rejected"][2]["message"]
    assert raw_count(monitor["id"]) == 4
    w = windows(admin_api)["windows"][-1]["all"]
    assert w["volume"] == 4
    assert w["missing_rate:age"] == 0.25
    # A batch that is not a list, and one too large, are refused whole.
    assert post_json(admin_api, f"{URL}/predictions", {"records": "x"}).status_code == 400
    huge = post_json(admin_api, f"{URL}/predictions", {"records": [{}] * 10_001})
    assert huge.status_code == 413


def test_ground_truth_joins_later_and_updates_metrics(admin_api, monitor):
    rng = np.random.default_rng(7)
    n = 400
    scores = rng.uniform(0, 1, n)
    truth = (rng.uniform(0, 1, n) < scores).astype(int)
    t = time.time() - 30
    batch = [
        {"id": f"g{i}", "time": t, "features": {"amount": 1.0}, "prediction": float(scores[i])}
        for i in range(n)
    ]
    assert post_json(admin_api, f"{URL}/predictions", {"records": batch}).json()["accepted"] == n
    before = windows(admin_api)["windows"][-1]["all"]
    assert before["labeled"] == 0 and before["accuracy"] is None
    # Ground truth arrives later, in two parts, one of them retried; plus an unknown id
    # and a conflicting second target.
    labels = [{"id": f"g{i}", "target": int(truth[i])} for i in range(n)]
    first = post_json(admin_api, f"{URL}/ground-truth", {"records": labels[:150]})
    assert first.json() == {"accepted": 150, "duplicates": 0, "rejected": []}
    rest = [*labels[100:], {"id": "nope", "target": 1}, {"id": "g0", "target": int(1 - truth[0])}]
    second = post_json(admin_api, f"{URL}/ground-truth", {"records": rest}).json()
    assert (second["accepted"], second["duplicates"]) == (n - 150, 50)
    assert [(r["id"], r["field"]) for r in second["rejected"]] == [
        ("nope", "id"),
        ("g0", "target"),
    ]
    after = windows(admin_api)["windows"][-1]["all"]
    assert after["labeled"] == n
    predicted = (scores >= 0.5).astype(int)
    assert after["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-12)
    assert after["precision"] == pytest.approx(skm.precision_score(truth, predicted), abs=1e-12)
    assert after["recall"] == pytest.approx(skm.recall_score(truth, predicted), abs=1e-12)
    assert after["f1"] == pytest.approx(skm.f1_score(truth, predicted), abs=1e-12)
    assert after["log_loss"] == pytest.approx(skm.log_loss(truth, scores), rel=1e-9)
    # ROC AUC from 200 score bins: exact up to ties inside a bin (counted half).
    assert after["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, scores), abs=2e-3)
    assert len(after["calibration"]) == 10
    # The dashboard's columnar series (all windows at once) say the same.
    series = admin_api.get(f"{URL}/metrics").json()["series"]
    for name in ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc", "ece", "volume"):
        assert series["all"][name][-1] == pytest.approx(after[name], abs=1e-9), name
        assert series["v0"][name][-1] == pytest.approx(after[name], abs=1e-9), name
    narrowed = admin_api.get(f"{URL}/metrics", {"metrics": "accuracy"}).json()["series"]["all"]
    assert list(narrowed) == ["accuracy"]


def test_regression_metrics(admin_api, fraud):
    body = {
        "name": "price",
        "registered_model": "fraud",
        "version": 1,
        "features": [{"name": "x", "type": "numeric"}],
        "prediction_type": "regression",
    }
    assert post_json(admin_api, M, body).status_code == 201
    y = np.array([1.0, 2.0, 4.0, 8.0])
    yhat = np.array([1.5, 1.0, 4.0, 10.0])
    recs = [{"id": str(i), "features": {"x": 1}, "prediction": float(yhat[i])} for i in range(4)]
    assert post_json(admin_api, f"{M}/price/predictions", recs).json()["accepted"] == 4
    post_json(
        admin_api,
        f"{M}/price/ground-truth",
        [{"id": str(i), "target": float(y[i])} for i in range(4)],
    )
    w = admin_api.get(f"{M}/price/metrics", {"view": "windows"}).json()
    assert w["versions"] == ["v1"]  # a fixed version
    got = w["windows"][-1]["all"]
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat), abs=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, yhat)), abs=1e-12)
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, yhat), abs=1e-12)


def test_alias_move_switches_version(admin_api, monitor, team, admin_user):
    now = time.time()
    before = [record(i, now - 120) for i in range(30)]
    assert post_json(admin_api, f"{URL}/predictions", before).json()["accepted"] == 30
    model = RegisteredModel.objects.for_team(team).get(name="fraud")
    registry_services.registered_model_alias_set(
        model=model, alias="production", ref="v1", actor=admin_user
    )
    moved_at = time.time()
    after = [record(i, moved_at + 5) for i in range(100, 120)]
    # An explicit version wins over the alias (the service knows what it served).
    explicit = [record(200, now - 100, version=1)]
    assert post_json(admin_api, f"{URL}/predictions", after + explicit).json()["accepted"] == 21
    data = windows(admin_api)
    assert data["versions"] == ["v0", "v1"]
    per_version = {}
    for w in data["windows"]:
        for v, m in w["versions"].items():
            per_version[v] = per_version.get(v, 0) + m["volume"]
    assert per_version == {"v0": 30, "v1": 21}
    assert [(m["from"], m["to"]) for m in data["alias_moves"]][-1] == ("v0", "v1")
    # Each version's figures are its own: v1's mean prediction is from its records only.
    v1 = [w["versions"]["v1"] for w in data["windows"] if "v1" in w["versions"]]
    v1_mean = sum(m["prediction_mean"] * m["volume"] for m in v1) / 21
    expected = np.mean([r["prediction"] for r in after + explicit])
    assert v1_mean == pytest.approx(expected, abs=1e-12)


def test_multiclass_metrics_match_scikit_learn(admin_api, fraud):
    body = {
        "name": "species",
        "registered_model": "fraud",
        "version": 1,
        "features": [{"name": "x", "type": "numeric"}],
        "prediction_type": "multiclass",
        "classes": ["a", "b", "c"],
    }
    assert post_json(admin_api, M, body).status_code == 201, body
    rng = np.random.default_rng(3)
    n = 600
    truth = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3)) + 1.5 * np.eye(3)[truth]  # informative, not perfect
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = ["a", "b", "c"]
    t = time.time() - 30
    records = [
        {
            "id": f"m{i}",
            "time": t,
            "features": {"x": 1.0},
            "prediction": labels[int(scores[i].argmax())],
            "scores": scores[i].tolist(),
        }
        for i in range(n)
    ]
    url = f"{M}/species"
    assert post_json(admin_api, f"{url}/predictions", records).json()["accepted"] == n
    targets = [{"id": f"m{i}", "target": labels[truth[i]]} for i in range(n)]
    assert post_json(admin_api, f"{url}/ground-truth", targets).json()["accepted"] == n

    got = admin_api.get(f"{url}/metrics", {"view": "windows"}).json()["windows"][-1]["all"]
    predicted = scores.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-12)
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score)):
        assert got[name] == pytest.approx(fn(truth, predicted, average="macro"), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(truth, scores), rel=1e-9)
    # One-vs-rest, macro, from 100 score bins per class: exact up to ties inside a bin.
    expected_auc = skm.roc_auc_score(truth, scores, multi_class="ovr", average="macro")
    assert got["roc_auc"] == pytest.approx(expected_auc, abs=5e-3)
    series = admin_api.get(f"{url}/metrics").json()["series"]["all"]
    assert series["roc_auc"][-1] == pytest.approx(got["roc_auc"], abs=1e-9)
