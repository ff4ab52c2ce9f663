"""Window aggregate layouts (no Django): what ingest adds per (window, version) and how
metrics are read back from the sums. Every array only ever adds element-wise, so
concurrent batches add up in one INSERT … ON CONFLICT DO UPDATE (storage.py).

- latency: counts over LATENCY_EDGES (milliseconds, 20 bins a decade from 0.01 ms to
  100 s, plus below and above): percentiles are exact to a bin (about ±6 %).
- predictions: binary: 20 score bins on [0, 1], then sum and sum of squares of the score;
  regression: [sum, sum of squares]; multiclass: a count per class.
- truth: binary: tp, fp, tn, fn, log-loss sum, its count, 10 calibration bins of
  (count, sum of scores, sum of outcomes), then AUC_BINS positive and AUC_BINS negative
  score counts (ROC AUC exact up to ties within a 1/AUC_BINS score bin, counted half); multiclass:
  correct, log-loss sum, its count, 10 calibration bins (top-class confidence), then the
  K x K confusion matrix (true row, predicted column), then, for monitors of at most
  MC_AUC_MAX_CLASSES classes and rows with scores, per class MC_AUC_BINS positive and
  MC_AUC_BINS negative counts of that class's score (one-vs-rest ROC AUC, macro-averaged
  over the classes with both; rows stored before this layout simply add nothing there);
  regression: count, sum |err|, sum err², sum |err|/|y| and its count (y != 0), sum err.
"""

from __future__ import annotations

import math

import numpy as np

LATENCY_EDGES = 10 ** np.linspace(-2, 5, 141)
SCORE_BINS = 20
CAL_BINS = 10
AUC_BINS = 200
MC_AUC_BINS = 100  # per class: K x 2 x 100 floats per window row
MC_AUC_MAX_CLASSES = 20  # beyond, no multiclass ROC AUC (the rows would grow K-fold)
LOG_EPS = 1e-15


def latency_hist(latency: np.ndarray) -> np.ndarray:
    ok = latency[np.isfinite(latency)]
    idx = np.searchsorted(LATENCY_EDGES, ok, side="right")
    return np.bincount(idx, minlength=len(LATENCY_EDGES) + 1).astype(np.float64)


def latency_percentile(hist, q: float) -> float | None:
    hist = np.asarray(hist, dtype=np.float64)
    total = hist.sum()
    if total <= 0:
        return None
    rank = q * total
    cum = np.cumsum(hist)
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(hist) - 1)
    lo = LATENCY_EDGES[i - 1] if i > 0 else 0.0
    hi = LATENCY_EDGES[i] if i < len(LATENCY_EDGES) else LATENCY_EDGES[-1]
    before = cum[i - 1] if i > 0 else 0.0
    inside = hist[i]
    frac = (rank - before) / inside if inside else 0.0
    return float(lo + (hi - lo) * min(max(frac, 0.0), 1.0))


def _bin(scores: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((scores * bins).astype(np.int64), 0, bins - 1)


def prediction_summary(kind: str, pred: np.ndarray, n_classes: int) -> np.ndarray:
    ok = pred[np.isfinite(pred)]
    if kind == "binary":
        hist = np.bincount(_bin(ok, SCORE_BINS), minlength=SCORE_BINS).astype(np.float64)
        return np.concatenate([hist, [ok.sum(), (ok**2).sum()]])
    if kind == "regression":
        return np.array([ok.sum(), (ok**2).sum()])
    return np.bincount(ok.astype(np.int64), minlength=n_classes).astype(np.float64)


def truth_summary(
    kind: str, pred: np.ndarray, target: np.ndarray, scores: np.ndarray | None, threshold: float
) -> np.ndarray:
    """Accumulators of labelled predictions (all rows have a prediction and a target)."""
    if kind == "binary":
        y = target > 0.5
        yhat = pred >= threshold
        p = np.clip(pred, LOG_EPS, 1 - LOG_EPS)
        ll = -(y * np.log(p) + (~y) * np.log(1 - p))
        cal = np.zeros((CAL_BINS, 3))
        b = _bin(pred, CAL_BINS)
        np.add.at(cal, (b, 0), 1)
        np.add.at(cal, (b, 1), pred)
        np.add.at(cal, (b, 2), y.astype(np.float64))
        ab = _bin(pred, AUC_BINS)
        pos = np.bincount(ab[y], minlength=AUC_BINS)
        neg = np.bincount(ab[~y], minlength=AUC_BINS)
        head = [
            (y & yhat).sum(),
            (~y & yhat).sum(),
            (~y & ~yhat).sum(),
            (y & ~yhat).sum(),
            ll.sum(),
            len(ll),
        ]
        return np.concatenate([np.asarray(head, float), cal.ravel(), pos, neg]).astype(float)
    if kind == "regression":
        err = pred - target
        nz = target != 0
        return np.array(
            [
                len(err),
                np.abs(err).sum(),
                (err**2).sum(),
                (np.abs(err[nz]) / np.abs(target[nz])).sum(),
                nz.sum(),
                err.sum(),
            ],
            dtype=float,
        )
    k = scores.shape[1] if scores is not None else int(max(pred.max(), target.max()) + 1)
    t = target.astype(np.int64)
    yhat = pred.astype(np.int64)
    conf = np.zeros((k, k))
    np.add.at(conf, (t, yhat), 1)
    ll_sum, ll_n = 0.0, 0
    cal = np.zeros((CAL_BINS, 3))
    auc = np.zeros((0,))
    if scores is not None:
        ok = np.isfinite(scores).all(axis=1)
        s = scores[ok]
        if len(s):
            p_true = np.clip(s[np.arange(len(s)), t[ok]], LOG_EPS, 1.0)
            ll_sum, ll_n = float(-np.log(p_true).sum()), len(s)
            top = s.max(axis=1)
            b = _bin(top, CAL_BINS)
            np.add.at(cal, (b, 0), 1)
            np.add.at(cal, (b, 1), top)
            np.add.at(cal, (b, 2), (s.argmax(axis=1) == t[ok]).astype(float))
            if k <= MC_AUC_MAX_CLASSES:
                auc = _one_vs_rest_counts(s, t[ok], k).ravel()
    head = [float((t == yhat).sum()), ll_sum, float(ll_n)]
    return np.concatenate([head, cal.ravel(), conf.ravel(), auc])


def _one_vs_rest_counts(scores: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """(k, 2, MC_AUC_BINS): per class, its score's bin counts over the rows of that class
    (positive) and over the others (negative)."""
    out = np.zeros((k, 2, MC_AUC_BINS))
    for c in range(k):
        b = _bin(scores[:, c], MC_AUC_BINS)
        mine = target == c
        out[c, 0] = np.bincount(b[mine], minlength=MC_AUC_BINS)
        out[c, 1] = np.bincount(b[~mine], minlength=MC_AUC_BINS)
    return out


def _macro_auc(counts: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest ROC AUC from (..., k, 2, bins) counts, over the classes that have
    positives and negatives (NaN where none has)."""
    pos, neg = counts[..., 0, :], counts[..., 1, :]
    neg_below = np.cumsum(neg, axis=-1) - neg
    pairs = pos.sum(axis=-1) * neg.sum(axis=-1)
    per_class = _safe_div((pos * neg_below).sum(axis=-1) + 0.5 * (pos * neg).sum(axis=-1), pairs)
    has = ~np.isnan(per_class)
    return _safe_div(np.where(has, per_class, 0.0).sum(axis=-1), has.sum(axis=-1))


def _div(a: float, b: float) -> float | None:
    return float(a / b) if b else None


def _calibration(cal: np.ndarray) -> dict:
    cal = cal.reshape(CAL_BINS, 3)
    n = cal[:, 0]
    total = n.sum()
    ece = float(np.sum(np.abs(cal[:, 1] - cal[:, 2])) / total) if total else None
    bins = [
        {"n": int(c), "mean_score": _div(s, c), "observed": _div(o, c)} for c, s, o in cal.tolist()
    ]
    return {"ece": ece, "bins": bins}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC AUC from score-bin counts: P(score_pos > score_neg) + 0.5 P(equal bin)."""
    npos, nneg = pos.sum(), neg.sum()
    if not npos or not nneg:
        return None
    neg_below = np.cumsum(neg) - neg
    return float((pos * neg_below).sum() + 0.5 * (pos * neg).sum()) / (npos * nneg)


def truth_metrics(kind: str, truth, n_classes: int) -> dict:
    t = np.asarray(truth, dtype=np.float64)
    if not t.size:
        return {}
    if kind == "binary":
        tp, fp, tn, fn, ll, lln = t[:6]
        n = tp + fp + tn + fn
        precision = _div(tp, tp + fp)
        recall = _div(tp, tp + fn)
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall
            else None
        )
        cal_end = 6 + CAL_BINS * 3
        pos = t[cal_end : cal_end + AUC_BINS]
        neg = t[cal_end + AUC_BINS : cal_end + 2 * AUC_BINS]
        return {
            "accuracy": _div(tp + tn, n),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "roc_auc": _auc(pos, neg),
            "log_loss": _div(ll, lln),
            "calibration": _calibration(t[6:cal_end]),
        }
    if kind == "regression":
        n, sabs, ssq, sape, nape, _ = t[:6]
        return {
            "mae": _div(sabs, n),
            "rmse": math.sqrt(ssq / n) if n else None,
            "mape": _div(sape, nape),
        }
    correct, ll, lln = t[:3]
    cal_end = 3 + CAL_BINS * 3
    k = n_classes
    conf_end = cal_end + k * k
    conf = t[cal_end:conf_end].reshape(k, k) if len(t) >= conf_end else np.zeros((0, 0))
    roc_auc = None
    if len(t) > conf_end and k <= MC_AUC_MAX_CLASSES:
        counts = np.zeros(k * 2 * MC_AUC_BINS)
        counts[: len(t) - conf_end] = t[conf_end : conf_end + counts.size]
        value = float(_macro_auc(counts.reshape(k, 2, MC_AUC_BINS)))
        roc_auc = None if math.isnan(value) else value
    n = conf.sum()
    tp = np.diag(conf)
    pred_tot = conf.sum(axis=0)
    true_tot = conf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(pred_tot > 0, tp / pred_tot, 0.0)
        rec = np.where(true_tot > 0, tp / true_tot, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    present = true_tot > 0
    return {
        "accuracy": _div(correct, n),
        "precision": float(prec[present].mean()) if present.any() else None,  # macro
        "recall": float(rec[present].mean()) if present.any() else None,
        "f1": float(f1[present].mean()) if present.any() else None,
        "roc_auc": roc_auc,
        "log_loss": _div(ll, lln),
        "calibration": _calibration(t[3:cal_end]),
        "confusion": conf.tolist(),
    }


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _pad(rows: list, width: int) -> np.ndarray:
    out = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = r[:width]
    return out


def latency_percentiles(hist: np.ndarray, q: float) -> np.ndarray:
    """latency_percentile over rows of a matrix of histograms (NaN where empty)."""
    total = hist.sum(axis=1)
    cum = np.cumsum(hist, axis=1)
    rank = q * total
    i = np.minimum((cum < rank[:, None]).sum(axis=1), hist.shape[1] - 1)
    edges = np.concatenate([[0.0], LATENCY_EDGES, [LATENCY_EDGES[-1]]])
    lo, hi = edges[i], edges[i + 1]
    before = np.where(i > 0, cum[np.arange(len(i)), np.maximum(i - 1, 0)], 0.0)
    inside = hist[np.arange(len(i)), i]
    frac = np.clip(_safe_div(rank - before, inside), 0, 1)
    frac = np.where(np.isnan(frac), 0.0, frac)
    return np.where(total > 0, lo + (hi - lo) * frac, np.nan)


def series_metrics(kind: str, n_classes: int, n_features: int, columns: dict) -> dict:
    """The dashboard's scalar metrics for many windows at once (one row per window):
    `columns` holds count, errors, labeled (vectors) and latency, missing, predictions,
    truth (lists of the stored arrays). Same definitions as window_metrics."""
    count = np.asarray(columns["count"], dtype=np.float64)
    errors = np.asarray(columns["errors"], dtype=np.float64)
    labeled = np.asarray(columns["labeled"], dtype=np.float64)
    latency = _pad(columns["latency"], len(LATENCY_EDGES) + 1)
    missing = _pad(columns["missing"], max(n_features, 1))
    valid = count - errors
    out = {
        "volume": count,
        "error_rate": _safe_div(errors, count),
        "latency_p50": latency_percentiles(latency, 0.5),
        "latency_p95": latency_percentiles(latency, 0.95),
        "latency_p99": latency_percentiles(latency, 0.99),
        "missing_rate": _safe_div(missing.max(axis=1), count),
        "labeled": labeled,
    }
    if kind == "binary":
        preds = _pad(columns["predictions"], SCORE_BINS + 2)
        out["prediction_mean"] = _safe_div(preds[:, SCORE_BINS], valid)
        t = _pad(columns["truth"], 6 + CAL_BINS * 3 + 2 * AUC_BINS)
        tp, fp, tn, fn, ll, lln = (t[:, i] for i in range(6))
        precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
        cal_end = 6 + CAL_BINS * 3
        pos, neg = t[:, cal_end : cal_end + AUC_BINS], t[:, cal_end + AUC_BINS :]
        neg_below = np.cumsum(neg, axis=1) - neg
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        auc = _safe_div((pos * neg_below).sum(axis=1) + 0.5 * (pos * neg).sum(axis=1), pairs)
        cal = t[:, 6:cal_end].reshape(-1, CAL_BINS, 3)
        out |= {
            "accuracy": _safe_div(tp + tn, tp + fp + tn + fn),
            "precision": precision,
            "recall": recall,
            "f1": _safe_div(2 * precision * recall, precision + recall),
            "roc_auc": auc,
            "log_loss": _safe_div(ll, lln),
            "ece": _safe_div(
                np.abs(cal[:, :, 1] - cal[:, :, 2]).sum(axis=1), cal[:, :, 0].sum(axis=1)
            ),
        }
    elif kind == "regression":
        preds = _pad(columns["predictions"], 2)
        out["prediction_mean"] = _safe_div(preds[:, 0], valid)
        t = _pad(columns["truth"], 6)
        out |= {
            "mae": _safe_div(t[:, 1], t[:, 0]),
            "rmse": np.sqrt(_safe_div(t[:, 2], t[:, 0])),
            "mape": _safe_div(t[:, 3], t[:, 4]),
        }
    else:
        k = n_classes
        cal_end = 3 + CAL_BINS * 3
        conf_end = cal_end + k * k
        auc_width = k * 2 * MC_AUC_BINS if k <= MC_AUC_MAX_CLASSES else 0
        t = _pad(columns["truth"], conf_end + auc_width)
        conf = t[:, cal_end:conf_end].reshape(-1, k, k)
        tp = np.diagonal(conf, axis1=1, axis2=2)
        pred_tot, true_tot = conf.sum(axis=1), conf.sum(axis=2)
        prec = np.nan_to_num(_safe_div(tp, pred_tot))
        rec = np.nan_to_num(_safe_div(tp, true_tot))
        f1 = np.nan_to_num(_safe_div(2 * prec * rec, prec + rec))
        present = true_tot > 0
        n_present = present.sum(axis=1)
        cal = t[:, 3:cal_end].reshape(-1, CAL_BINS, 3)
        out |= {
            "accuracy": _safe_div(t[:, 0], conf.sum(axis=(1, 2))),
            "precision": _safe_div((prec * present).sum(axis=1), n_present),
            "recall": _safe_div((rec * present).sum(axis=1), n_present),
            "f1": _safe_div((f1 * present).sum(axis=1), n_present),
            "roc_auc": (
                _macro_auc(t[:, conf_end:].reshape(-1, k, 2, MC_AUC_BINS))
                if auc_width
                else np.full(len(t), np.nan)
            ),
            "log_loss": _safe_div(t[:, 1], t[:, 2]),
            "ece": _safe_div(
                np.abs(cal[:, :, 1] - cal[:, :, 2]).sum(axis=1), cal[:, :, 0].sum(axis=1)
            ),
        }
    return out
