"""Window aggregate layouts (no Django): what ingest adds per (window, version) and how
metrics are read back from the sums. Every array only ever adds element-wise, so
concurrent batches add up in one INSERT … ON CONFLICT DO UPDATE (storage.py).

- latency: counts over LATENCY_EDGES (milliseconds, 20 bins a decade from 0.01 ms to
  100 s, plus below and above): percentiles are exact to a bin (about ±6 %).
- predictions: binary: 20 score bins on [0, 1], then sum and sum of squares of the score;
  regression: [sum, sum of squares]; multiclass: a count per class.
- truth: binary: tp, fp, tn, fn, log-loss sum, its count, 10 calibration bins of
  (count, sum of scores, sum of outcomes), then AUC_BINS positive and AUC_BINS negative
  score counts (ROC AUC exact up to ties within a 1/AUC_BINS score bin); multiclass:
  correct, log-loss sum, its count, 10 calibration bins (top-class confidence), then the
  K x K confusion matrix (true row, predicted column); regression: count, sum |err|,
  sum err², sum |err|/|y| and its count (y != 0), sum err.
"""

from __future__ import annotations

import math

import numpy as np

LATENCY_EDGES = 10 ** np.linspace(-2, 5, 141)
SCORE_BINS = 20
CAL_BINS = 10
AUC_BINS = 1000
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
    head = [float((t == yhat).sum()), ll_sum, float(ll_n)]
    return np.concatenate([head, cal.ravel(), conf.ravel()])


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
    conf = t[cal_end:].reshape(n_classes, n_classes) if len(t) > cal_end else np.zeros((0, 0))
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
        "roc_auc": None,
        "log_loss": _div(ll, lln),
        "calibration": _calibration(t[3:cal_end]),
        "confusion": conf.tolist(),
    }
