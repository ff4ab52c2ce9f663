"""Drift statistics (docs/monitoring.md "Drift"): numpy + scipy, no Django.

Each function takes the reference side as the profile stores it (sorted sample, bin
counts, category counts) and the current side as raw values or counts on the same bins,
so the dashboard and the benchmark run the same code. Defaults follow Evidently's
DataDriftPreset: numeric features with a reference of at most 1,000 rows use KS
(drift when p < 0.05), larger ones the normalized Wasserstein distance (drift when
>= 0.1); categorical ones chi-square (p < 0.05) or Jensen-Shannon (>= 0.1); a numeric
feature with at most 5 distinct reference values counts as categorical; embeddings the
Euclidean distance between centroids (>= 0.2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import spatial, stats

EPS = 1e-4  # an empty bin's share for PSI and chi-square (Evidently's choice)
SMALL_REFERENCE = 1000
FEW_VALUES = 5

# method -> (default threshold, "p" when the threshold is on a p-value (drift below it),
# "d" when on a distance (drift at or above it))
METHODS: dict[str, tuple[float, str]] = {
    "ks": (0.05, "p"),
    "wasserstein": (0.1, "d"),
    "psi": (0.1, "d"),
    "jensenshannon": (0.1, "d"),
    "chisquare": (0.05, "p"),
    "centroid": (0.2, "d"),
}
NUMERIC_METHODS = ("ks", "wasserstein", "psi", "jensenshannon")
CATEGORICAL_METHODS = ("chisquare", "jensenshannon", "psi")


def shares(counts, eps: float = 0.0) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    p = counts / total if total > 0 else np.zeros_like(counts)
    if eps:
        p = np.where(p == 0, eps, p)
    return p


def psi(ref_counts, cur_counts, eps: float = EPS) -> float:
    """Population stability index over the same bins: sum((c - r) * ln(c / r)), an empty
    bin counting as `eps` of its side."""
    r, c = shares(ref_counts, eps), shares(cur_counts, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(ref_counts, cur_counts) -> float:
    """Jensen-Shannon distance (natural log, scipy's definition) of the two shares."""
    value = spatial.distance.jensenshannon(shares(ref_counts), shares(cur_counts))
    return float(value) if math.isfinite(value) else 0.0


def chisquare(ref_counts, cur_counts, eps: float = EPS) -> tuple[float, float]:
    """Chi-square goodness of fit of the current counts to the reference shares (an
    unseen category expects `eps` of the rows): (statistic, p-value)."""
    cur = np.asarray(cur_counts, dtype=np.float64)
    expected = shares(shares(ref_counts, eps)) * cur.sum()
    result = stats.chisquare(cur, expected)
    return float(result.statistic), float(result.pvalue)


def ks(ref_sorted, cur) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (statistic, p-value), as scipy.stats.ks_2samp."""
    result = stats.ks_2samp(ref_sorted, cur)
    return float(result.statistic), float(result.pvalue)


def wasserstein(ref_sorted, cur, ref_std: float | None = None) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation (at least
    0.001, as Evidently does)."""
    ref = np.asarray(ref_sorted, dtype=np.float64)
    std = float(np.std(ref)) if ref_std is None else ref_std
    return float(stats.wasserstein_distance(ref, cur)) / max(std, 0.001)


GRID = 4096
LARGE = 20_000  # above this many current values, KS and Wasserstein use the grid


def ks_wasserstein_grid(ref_sorted, cur, ref_std: float) -> tuple[float, float, float]:
    """KS (statistic, asymptotic p-value) and normalized Wasserstein for a large current
    side without sorting it: both CDFs evaluated at GRID equal-width edges over the joint
    range (the current side by one counting pass). The KS statistic is the maximum over
    the edges (at most one bin's mass below the exact one); Wasserstein integrates
    |F_ref - F_cur| over the edges (error below the bin width). scipy's exact versions
    run when the current side is smaller (ks, wasserstein above)."""
    ref = np.asarray(ref_sorted, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    lo, hi = min(ref[0], float(cur.min())), max(ref[-1], float(cur.max()))
    if hi <= lo:
        return 0.0, 1.0, 0.0
    width = (hi - lo) / GRID
    idx = np.minimum(((cur - lo) / width).astype(np.int64), GRID - 1)
    cur_cdf = np.cumsum(np.bincount(idx, minlength=GRID)) / len(cur)
    edges = lo + width * np.arange(1, GRID + 1)
    ref_cdf = np.searchsorted(ref, edges, side="left") / len(ref)
    ref_cdf[-1] = 1.0
    gaps = np.abs(ref_cdf - cur_cdf)
    statistic = float(gaps.max())
    en = len(ref) * len(cur) / (len(ref) + len(cur))
    p_value = float(stats.kstwo.sf(statistic, np.round(en)))
    w = float(gaps.sum() * width) / max(ref_std, 0.001)
    return statistic, p_value, w


def centroid(ref_mean, cur_matrix) -> float:
    cur = np.asarray(cur_matrix, dtype=np.float64)
    if cur.size == 0:
        return 0.0
    return float(np.linalg.norm(np.asarray(ref_mean, dtype=np.float64) - cur.mean(axis=0)))


def bin_counts(edges, values) -> np.ndarray:
    """Counts of `values` in the profile's bins: below edges[0], each [e_i, e_i+1), and at
    or above edges[-1] (len(edges) + 1 counts)."""
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)


def category_counts(ref_freq: dict, values) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(categories, reference counts, current counts) over the union of categories."""
    cur: dict[str, int] = {}
    for v in values:
        if v is not None:
            cur[v] = cur.get(v, 0) + 1
    names = list(ref_freq) + sorted(k for k in cur if k not in ref_freq)
    ref = np.array([ref_freq.get(k, 0) for k in names], dtype=np.float64)
    now = np.array([cur.get(k, 0) for k in names], dtype=np.float64)
    return names, ref, now


def default_method(kind: str, profile: dict) -> str:
    if kind == "embedding":
        return "centroid"
    categorical = kind == "categorical" or profile.get("values") is not None
    small = profile.get("count", 0) <= SMALL_REFERENCE
    if categorical:
        return "chisquare" if small else "jensenshannon"
    return "ks" if small else "wasserstein"


def verdict(method: str, score: float, threshold: float) -> bool:
    if not math.isfinite(score):
        return False
    return score < threshold if METHODS[method][1] == "p" else score >= threshold
