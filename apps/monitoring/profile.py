"""Reference profiles and the per-feature drift comparison (no Django).

A numeric profile keeps: count, missing rate, mean, std, 101 quantiles, counts on
NUM_BINS equal-width bins between the reference min and max (plus one below and one at
or above: a value outside the reference range still has a bin), and a sorted sample
(every value up to REFERENCE_SAMPLE, else that many evenly spaced quantiles) for KS and
Wasserstein. Categorical: counts of the MAX_CATEGORIES most frequent categories (the
rest summed under OTHER). Embedding: the centroid. Never the whole reference set.
"""

from __future__ import annotations

import numpy as np

from apps.monitoring import drift

NUM_BINS = 20
REFERENCE_SAMPLE = 10_000
MAX_CATEGORIES = 1000
OTHER = "__other__"
QUANTILES = np.linspace(0, 1, 101)


def _quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile's default (linear) on already sorted values, without re-sorting."""
    pos = q * (len(ordered) - 1)
    return np.interp(pos, np.arange(len(ordered)), ordered)


def _sample(ordered: np.ndarray) -> np.ndarray:
    if len(ordered) <= REFERENCE_SAMPLE:
        return ordered
    return _quantiles(ordered, (np.arange(REFERENCE_SAMPLE) + 0.5) / REFERENCE_SAMPLE)


def numeric_edges(finite: np.ndarray) -> list[float]:
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, NUM_BINS + 1)
    # The maximum belongs to the last inner bin, not to the "at or above" one.
    edges[-1] = np.nextafter(hi, np.inf)
    return edges.tolist()


def numeric_profile(values: np.ndarray) -> tuple[dict, bytes]:
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    finite = values[~missing & np.isfinite(values)]
    out: dict = {
        "count": len(values),
        "missing_rate": float(missing.mean()) if len(values) else 0.0,
    }
    if not len(finite):
        return out | {"empty": True}, b""
    ordered = np.sort(finite)  # one sort serves quantiles, sample and distinct values
    edges = numeric_edges(ordered)
    change = np.flatnonzero(np.diff(ordered)) + 1
    few = len(change) < drift.FEW_VALUES
    if few:
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(ordered)]])
        # A numeric feature with few distinct values is compared as categorical.
        values = {repr(float(ordered[a])): int(b - a) for a, b in zip(starts, ends, strict=True)}
    out |= {
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "quantiles": _quantiles(ordered, QUANTILES).tolist(),
        "edges": edges,
        "counts": drift.bin_counts(edges, ordered).tolist(),
        "values": values if few else None,
    }
    return out, _sample(ordered).astype("<f8").tobytes()


def categorical_profile(values) -> dict:
    counts: dict[str, int] = {}
    missing = 0
    for v in values:
        if v is None:
            missing += 1
        else:
            counts[v] = counts.get(v, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    freq = dict(top[:MAX_CATEGORIES])
    rest = sum(c for _, c in top[MAX_CATEGORIES:])
    if rest:
        freq[OTHER] = freq.get(OTHER, 0) + rest
    n = len(values)
    return {"count": n, "missing_rate": missing / n if n else 0.0, "frequencies": freq}


def embedding_profile(matrix: np.ndarray) -> dict:
    matrix = np.asarray(matrix, dtype=np.float64)
    ok = ~np.isnan(matrix).any(axis=1) if matrix.size else np.zeros(0, bool)
    n = len(matrix)
    good = matrix[ok]
    return {
        "count": n,
        "missing_rate": float(1 - ok.mean()) if n else 0.0,
        "centroid": good.mean(axis=0).tolist() if len(good) else None,
    }


def _numeric_as_categories(values: np.ndarray) -> list[str | None]:
    return [None if np.isnan(v) else repr(float(v)) for v in values]


def compare(kind: str, profile: dict, sample: np.ndarray | None, current, config: dict) -> dict:
    """Drift of one feature: the configured (or default) method's score and verdict, the
    other applicable scores, and both distributions on the same bins for the chart.

    `current`: float array (numeric: NaN missing), list of str|None (categorical) or an
    n x dim matrix (embedding). `config`: {"method", "threshold"} overrides."""
    method = config.get("method") or drift.default_method(kind, profile)
    scores: dict[str, float] = {}
    p_values: dict[str, float] = {}
    chart: dict = {}
    n_current = len(current)
    if kind == "embedding":
        cur = np.asarray(current, dtype=np.float64).reshape(n_current, -1)
        cur = cur[~np.isnan(cur).any(axis=1)] if cur.size else cur
        if profile.get("centroid") is not None and len(cur):
            scores["centroid"] = drift.centroid(profile["centroid"], cur)
    elif kind == "categorical" or (profile.get("values") is not None and method != "ks"):
        if kind == "categorical":
            ref_freq = profile.get("frequencies", {})
            known = set(ref_freq)
            values = [
                v if v is None or v in known or OTHER not in known else OTHER for v in current
            ]
        else:
            ref_freq = profile["values"]
            values = _numeric_as_categories(np.asarray(current, dtype=np.float64))
        names, ref, cur = drift.category_counts(ref_freq, values)
        if cur.sum() > 0 and ref.sum() > 0:
            scores["chisquare"], p_values["chisquare"] = drift.chisquare(ref, cur)
            scores["jensenshannon"] = drift.jensenshannon(ref, cur)
            scores["psi"] = drift.psi(ref, cur)
        chart = {
            "categories": names[:50],
            "reference": ref[:50].tolist(),
            "current": cur[:50].tolist(),
        }
    else:
        cur = np.asarray(current, dtype=np.float64)
        cur = cur[np.isfinite(cur)]
        if len(cur) and sample is not None and len(sample) and not profile.get("empty"):
            edges = profile["edges"]
            ref_counts = np.asarray(profile["counts"], dtype=np.float64)
            cur_counts = drift.bin_counts(edges, cur)
            if len(cur) > drift.LARGE:
                d, p, w = drift.ks_wasserstein_grid(sample, cur, profile.get("std") or 0.0)
                scores["ks"], p_values["ks"], scores["wasserstein"] = d, p, w
            else:
                scores["ks"], p_values["ks"] = drift.ks(sample, cur)
                scores["wasserstein"] = drift.wasserstein(sample, cur, profile.get("std"))
            scores["psi"] = drift.psi(ref_counts, cur_counts)
            scores["jensenshannon"] = drift.jensenshannon(ref_counts, cur_counts)
            chart = {
                "edges": edges,
                "reference": ref_counts.tolist(),
                "current": cur_counts.tolist(),
            }
    threshold = config.get("threshold")
    if threshold is None:
        threshold = drift.METHODS[method][0]
    score = p_values.get(method, scores.get(method))
    return {
        "kind": kind,
        "method": method,
        "threshold": threshold,
        "score": score,
        "statistic": scores.get(method),
        "drifted": score is not None and drift.verdict(method, score, threshold),
        "scores": scores,
        "p_values": p_values,
        "count": n_current,
        "chart": chart,
    }
