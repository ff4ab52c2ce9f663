"""Drift: the reference profile (REST PUT …/reference) and the drift of a window (GET
…/drift) equal a direct scipy/numpy computation on the same data to 1e-9 — PSI, KS,
normalized Wasserstein, Jensen-Shannon, chi-square and the embedding centroid distance;
Evidently-like default methods by reference size; configurable per monitor."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import spatial, stats

from apps.monitoring import drift
from apps.monitoring import profile as profiles
from tests.monitoring.conftest import M, post_json, put_json

pytestmark = pytest.mark.django_db

URL = f"{M}/fraud-prod"
EPS = 1e-4


def _psi(ref_counts, cur_counts):
    r = np.asarray(ref_counts, float) / np.sum(ref_counts)
    c = np.asarray(cur_counts, float) / np.sum(cur_counts)
    r = np.where(r == 0, EPS, r)
    c = np.where(c == 0, EPS, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _counts(edges, values):
    # Bins: below edges[0], [e_i, e_i+1) ..., at or above edges[-1].
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    counts, _ = np.histogram(values, bins=full)
    # np.histogram closes the last bin; nothing lands exactly on +inf here.
    return counts


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n_ref, n_cur = 800, 600
    return {
        "amount_ref": rng.normal(100, 15, n_ref),
        "amount_cur": rng.normal(110, 18, n_cur),
        "country_ref": rng.choice(["de", "fr", "it", "es"], n_ref, p=[0.4, 0.3, 0.2, 0.1]),
        "country_cur": rng.choice(["de", "fr", "it", "pl"], n_cur, p=[0.25, 0.25, 0.25, 0.25]),
        "emb_ref": rng.normal(0, 1, (n_ref, 3)),
        "emb_cur": rng.normal(0.5, 1, (n_cur, 3)),
        "pred_ref": rng.uniform(0, 1, n_ref),
        "pred_cur": rng.beta(2, 1, n_cur),
    }


def _load(admin_api, data):
    ref = {
        "columns": {
            "amount": data["amount_ref"].tolist(),
            "country": data["country_ref"].tolist(),
            "emb": data["emb_ref"].tolist(),
        },
        "predictions": data["pred_ref"].tolist(),
    }
    put = put_json(admin_api, f"{URL}/reference", ref)
    assert put.status_code == 200, put.content
    t = time.time() - 10
    recs = [
        {
            "id": f"d{i}",
            "time": t,
            "features": {
                "amount": float(data["amount_cur"][i]),
                "country": str(data["country_cur"][i]),
                "emb": data["emb_cur"][i].tolist(),
            },
            "prediction": float(data["pred_cur"][i]),
        }
        for i in range(len(data["amount_cur"]))
    ]
    for start in range(0, len(recs), 250):
        got = post_json(admin_api, f"{URL}/predictions", recs[start : start + 250])
        assert got.json()["rejected"] == []


def test_drift_equals_scipy(admin_api, monitor, data):
    _load(admin_api, data)
    profile = admin_api.get(f"{URL}/reference").json()
    by_name = {f["feature"]: f for f in profile["features"]}
    amount = by_name["amount"]
    assert amount["count"] == 800 and amount["missing_rate"] == 0
    assert amount["mean"] == pytest.approx(np.mean(data["amount_ref"]), abs=1e-9)
    assert amount["quantiles"][50] == pytest.approx(np.median(data["amount_ref"]), abs=1e-9)
    assert sum(amount["counts"]) == 800
    assert by_name["country"]["frequencies"]["de"] == int((data["country_ref"] == "de").sum())

    got = admin_api.get(f"{URL}/drift")
    assert got.status_code == 200, got.content
    result = {f["feature"]: f for f in got.json()["features"]}
    ref, cur = data["amount_ref"], data["amount_cur"]

    num = result["amount"]
    ks = stats.ks_2samp(ref, cur)
    assert num["scores"]["ks"] == pytest.approx(ks.statistic, abs=1e-9)
    assert num["p_values"]["ks"] == pytest.approx(ks.pvalue, abs=1e-9)
    w = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert num["scores"]["wasserstein"] == pytest.approx(w, abs=1e-9)
    edges = np.asarray(amount["edges"])
    ref_counts, cur_counts = _counts(edges, ref), _counts(edges, cur)
    assert num["chart"]["reference"] == ref_counts.tolist()
    assert num["chart"]["current"] == cur_counts.tolist()
    assert num["scores"]["psi"] == pytest.approx(_psi(ref_counts, cur_counts), abs=1e-9)
    js = spatial.distance.jensenshannon(
        ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    )
    assert num["scores"]["jensenshannon"] == pytest.approx(js, abs=1e-9)
    # Evidently's default for a reference of at most 1,000 rows: KS, drift when p < 0.05.
    assert num["method"] == "ks" and num["threshold"] == 0.05
    assert num["score"] == pytest.approx(ks.pvalue, abs=1e-9)
    assert num["drifted"] is bool(ks.pvalue < 0.05)

    cat = result["country"]
    names = cat["chart"]["categories"]  # the reference's categories, then new ones
    assert sorted(names[:4]) == ["de", "es", "fr", "it"] and names[4] == "pl"
    r = np.array([(data["country_ref"] == k).sum() for k in names], float)
    c = np.array([(data["country_cur"] == k).sum() for k in names], float)
    expected = np.where(r / r.sum() == 0, EPS, r / r.sum())
    chi = stats.chisquare(c, expected / expected.sum() * c.sum())
    assert cat["scores"]["chisquare"] == pytest.approx(chi.statistic, abs=1e-9)
    assert cat["p_values"]["chisquare"] == pytest.approx(chi.pvalue, abs=1e-9)
    assert cat["scores"]["jensenshannon"] == pytest.approx(
        spatial.distance.jensenshannon(r / r.sum(), c / c.sum()), abs=1e-9
    )
    assert cat["scores"]["psi"] == pytest.approx(_psi(r, c), abs=1e-9)
    assert cat["method"] == "chisquare" and cat["drifted"] is True

    emb = result["emb"]
    centroid = np.linalg.norm(
        data["emb_ref"].mean(axis=0) - data["emb_cur"].astype(np.float32).mean(axis=0)
    )
    assert emb["method"] == "centroid"
    assert emb["score"] == pytest.approx(centroid, abs=1e-6)  # current stored as float32

    pred = result["__prediction__"]
    ks = stats.ks_2samp(data["pred_ref"], data["pred_cur"])
    assert pred["scores"]["ks"] == pytest.approx(ks.statistic, abs=1e-9)
    assert got.json()["drifted"] == sum(
        1 for f in got.json()["features"] if f["drifted"] and f["feature"] != "__prediction__"
    )


def test_configured_method_and_threshold(admin_api, monitor, data):
    patch = admin_api.generic(
        "PATCH",
        URL,
        data='{"drift": {"numeric": {"method": "psi", "threshold": 0.05}, '
        '"features": {"country": {"method": "jensenshannon", "threshold": 0.9}}}}',
        content_type="application/json",
    )
    assert patch.status_code == 200, patch.content
    _load(admin_api, data)
    result = {f["feature"]: f for f in admin_api.get(f"{URL}/drift").json()["features"]}
    assert (result["amount"]["method"], result["amount"]["threshold"]) == ("psi", 0.05)
    assert result["amount"]["score"] == result["amount"]["scores"]["psi"]
    assert result["amount"]["drifted"] is bool(result["amount"]["score"] >= 0.05)
    assert result["country"]["method"] == "jensenshannon"
    assert result["country"]["drifted"] is False  # 0.9 is beyond any JS here
    bad = admin_api.generic(
        "PATCH",
        URL,
        data='{"drift": {"numeric": {"method": "magic"}}}',
        content_type="application/json",
    )
    assert (
        bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "drift.numeric.method"
    )


def test_large_reference_defaults_and_compact_sample():
    """Above 1,000 reference rows the defaults are Wasserstein and Jensen-Shannon (as
    Evidently's); above REFERENCE_SAMPLE values the stored sample is that many quantiles."""
    rng = np.random.default_rng(5)
    ref = rng.normal(0, 1, 50_000)
    prof, sample = profiles.numeric_profile(ref)
    arr = np.frombuffer(sample, dtype="<f8")
    assert len(arr) == profiles.REFERENCE_SAMPLE and np.all(np.diff(arr) >= 0)
    assert drift.default_method("numeric", prof) == "wasserstein"
    assert drift.default_method("categorical", {"count": 5000}) == "jensenshannon"
    cur = rng.normal(0.3, 1, 20_000)
    out = profiles.compare("numeric", prof, arr, cur, {})
    exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert out["method"] == "wasserstein"
    assert out["score"] == pytest.approx(exact, abs=5e-3)  # quantile sample, not raw
    assert out["drifted"] is True
