"""Bayesian-optimisation sweep strategy: ``suggest(config, finished, *, seed, pending)``.

Stateless: every call rebuilds the model from the sweep's finished runs, so a worker
that reads the runs from the database can produce the next suggestion. All randomness
comes from ``seed``; the same inputs and seed give the same suggestion.

Model: a Gaussian process (``gp.py``) on the parameters mapped to the unit cube, one
length scale per parameter (ARD), Matern-5/2 kernel, learned noise. Numeric
parameters use their own scale (log-uniform ones in log space); a categorical whose
values are all numbers is ordinal (placed by value, on a log scale when the values are
spread geometrically); any other categorical is one-hot, never its list position.
Outputs are standardized and power-warped; failed runs count as the worst result.

Acquisition: log expected improvement, maximised over random candidates, perturbations
of the best runs scaled by the fitted length scales, and a few rounds of local
refinement; on a small discrete space every unseen configuration is scored. A
configuration that already ran or is pending is never suggested again while unseen
ones remain. Pending runs enter the model as 'kriging believer' observations.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from . import gp
from .space import Dim, parse_space

MAX_ENUMERATE = 20_000  # discrete spaces up to this size are scored exhaustively
MAX_FIT_POINTS = 120  # hyperparameters are estimated on at most this many runs (see _subset)
# The posterior conditions on at most this many runs (the best half and an even spread of
# the rest): at 1,000 runs scoring thousands of candidates against every run cost most of
# a suggestion (a 1,000-column triangular solve per batch).
MAX_POSTERIOR_POINTS = 300


# --------------------------------------------------------------------------------------
# Parameter encoding: internal rows z (numeric: unit float, categorical: index)
# --------------------------------------------------------------------------------------


class _Param:
    """One free parameter of the space in the engine's internal row form: a numeric
    parameter is a unit float (space.py's encoding), a categorical is a value index."""

    def __init__(self, dim: Dim):
        self.dim = dim
        self.is_cat = dim.is_categorical
        self.n_values = len(dim.values) if self.is_cat else 0
        self.ordinal = _ordinal_positions(dim.values) if self.is_cat else None
        if not self.is_cat:
            lo, hi = dim.bounds
            self.int_uniform = dim.kind == "int_uniform"
            self.low, self.high = lo, hi
            lo, hi = (lo - 0.5, hi + 0.5) if self.int_uniform else (lo, hi)
            self.box = (math.log(lo), math.log(hi)) if dim.log else (lo, hi)

    @property
    def n_features(self) -> int:
        return self.n_values if self.is_cat and self.ordinal is None else 1

    def encode_value(self, v) -> float:
        if self.is_cat:
            i = self.dim.index_of(v)
            if i is None:
                raise ValueError(f"{self.dim.name}: {v!r} is not one of its values")
            return float(i)
        return self.dim.encode(v)[0]

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Unit values moved onto values the parameter can take (decode, then encode)."""
        u = np.clip(u, 0.0, 1.0)
        if not (self.int_uniform or self.dim.q is not None):
            return u
        lo, hi = self.box
        x = lo + u * (hi - lo)
        x = np.exp(x) if self.dim.log else x
        if self.int_uniform:
            x = np.clip(np.floor(x + 0.5), self.low, self.high)
        else:
            x = np.round(x / self.dim.q) * self.dim.q
        t = np.log(np.maximum(x, 1e-300)) if self.dim.log else x
        return np.clip((t - lo) / (hi - lo), 0.0, 1.0)

    def discrete_units(self) -> np.ndarray | None:
        """Every unit value of an int_uniform / q_uniform parameter, or None."""
        if self.int_uniform:
            values = np.arange(int(self.low), int(self.high) + 1, dtype=float)
        elif self.dim.kind == "q_uniform":
            q = self.dim.q
            values = q * np.arange(round(self.low / q), round(self.high / q) + 1)
        else:
            return None
        lo, hi = self.box
        return np.unique(np.clip((values - lo) / (hi - lo), 0.0, 1.0))

    def output(self, z: float):
        if self.is_cat:
            return copy.deepcopy(self.dim.values[int(z)])
        return self.dim.decode([z])


def _ordinal_positions(values: list) -> np.ndarray | None:
    """Unit positions for a categorical of distinct numbers (not bools), else None.

    Log scale when all values are positive and their log spacing is more even than the
    linear one (batch sizes 16..256, learning rates 1e-5..1e-2)."""
    if len(values) < 2 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return None
    x = np.array(values, dtype=float)
    if not np.all(np.isfinite(x)) or len(set(x.tolist())) != len(x):
        return None
    if np.all(x > 0) and len(x) > 2:
        gaps_lin, gaps_log = np.diff(np.sort(x)), np.diff(np.sort(np.log(x)))
        if np.std(gaps_log) / np.mean(gaps_log) < np.std(gaps_lin) / np.mean(gaps_lin):
            x = np.log(x)
    return (x - x.min()) / (x.max() - x.min())


class _Space:
    """The sweep's free parameters, with the row <-> feature <-> params mappings."""

    def __init__(self, config: dict):
        self.space = parse_space(config)
        self.free = [_Param(d) for d in self.space.free]
        self.cat_mask = np.array([p.is_cat for p in self.free], dtype=bool)
        self.n_cats = np.array([p.n_values for p in self.free])
        # feature column -> parameter index (one length scale per parameter)
        self.groups = np.concatenate(
            [np.full(p.n_features, i) for i, p in enumerate(self.free)]
        ).astype(int)
        self.axes = self._discrete_axes()

    def _discrete_axes(self) -> list[np.ndarray] | None:
        """Per-parameter row values when the whole space is small and discrete."""
        axes, size = [], 1
        for p in self.free:
            ax = np.arange(p.n_values, dtype=float) if p.is_cat else p.discrete_units()
            if ax is None:
                return None
            axes.append(ax)
            size *= len(ax)
            if size > MAX_ENUMERATE:
                return None
        return axes

    def enumerate(self) -> np.ndarray:
        grids = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)

    def encode_row(self, params: dict) -> np.ndarray:
        flat = self.space.flatten(params)
        return np.array([p.encode_value(flat[p.dim.name]) for p in self.free])

    def features(self, Z: np.ndarray) -> np.ndarray:
        cols = []
        for j, p in enumerate(self.free):
            if not p.is_cat:
                cols.append(Z[:, j : j + 1])
            elif p.ordinal is not None:
                cols.append(p.ordinal[Z[:, j].astype(int)][:, None])
            else:
                cols.append(np.eye(p.n_values)[Z[:, j].astype(int)])
        return np.concatenate(cols, axis=1)

    def random(self, rng: np.random.Generator, m: int) -> np.ndarray:
        Z = rng.random((m, len(self.free))) * np.where(self.cat_mask, self.n_cats, 1)
        return self.snap(np.where(self.cat_mask, np.floor(Z), Z))

    def snap(self, Z: np.ndarray) -> np.ndarray:
        for j, p in enumerate(self.free):
            Z[:, j] = np.clip(np.round(Z[:, j]), 0, p.n_values - 1) if p.is_cat else p.snap(Z[:, j])
        return Z

    def output(self, z: np.ndarray) -> dict:
        flat = {d.name: copy.deepcopy(d.spec["value"]) for d in self.space.dims if d.is_constant}
        flat.update({p.dim.name: p.output(v) for p, v in zip(self.free, z.tolist(), strict=True)})
        return self.space.unflatten({d.name: flat[d.name] for d in self.space.dims})


# --------------------------------------------------------------------------------------
# Suggest
# --------------------------------------------------------------------------------------


def _keys(Z: np.ndarray) -> set:
    return {row.tobytes() for row in np.round(Z, 10)}


def _not_in(Z: np.ndarray, seen: set) -> np.ndarray:
    keep, local = [], set()
    for i, row in enumerate(np.round(Z, 10)):
        k = row.tobytes()
        if k not in seen and k not in local:
            keep.append(i)
            local.add(k)
    return Z[keep]


def _space_filling(space: _Space, Z_seen: np.ndarray, seen: set, rng, m: int = 64) -> np.ndarray:
    """Best-candidate sampling: of m random candidates, the one farthest from all runs."""
    if space.axes is not None:
        C = _not_in(space.enumerate(), seen)
        if len(C) > m:
            C = C[rng.choice(len(C), m, replace=False)]
    else:
        C = _not_in(space.random(rng, m), seen)
    if len(C) == 0:
        return space.random(rng, 1)[0]
    if len(Z_seen) == 0:
        return C[0]
    F, Fs = space.features(C), space.features(Z_seen)
    d2 = ((F[:, None, :] - Fs[None, :, :]) ** 2).sum(-1).min(1)
    return C[int(np.argmax(d2))]


def _standardize(y: np.ndarray) -> np.ndarray:
    sd = np.std(y)
    return (y - np.mean(y)) / (sd if sd > 0 else 1.0)


def _yeo_johnson(y: np.ndarray, lam: float) -> np.ndarray:
    pos = y >= 0
    out = np.empty_like(y)
    out[pos] = np.log1p(y[pos]) if abs(lam) < 1e-9 else ((y[pos] + 1.0) ** lam - 1.0) / lam
    out[~pos] = (
        -np.log1p(-y[~pos])
        if abs(lam - 2) < 1e-9
        else -((1.0 - y[~pos]) ** (2 - lam) - 1.0) / (2 - lam)
    )
    return out


WARP_LAMBDAS = np.linspace(-1.0, 1.0, 17)


def _warp(y: np.ndarray) -> np.ndarray:
    """Failed runs (NaN) become the worst observed value; then standardize and apply the
    Yeo-Johnson power transform whose exponent makes the outputs most normal, limited to
    exponents <= 1 (those compress the bad tail and spread out the good end), then
    standardize again."""
    ok = np.isfinite(y)
    y = _standardize(np.where(ok, y, np.max(y[ok])))
    best_ll, best = -np.inf, y
    sy = np.sign(y) * np.log1p(np.abs(y))
    for lam in WARP_LAMBDAS:
        t = _yeo_johnson(y, lam)
        var = np.var(t)
        if var <= 0:
            continue
        ll = -0.5 * len(y) * math.log(var) + (lam - 1.0) * float(sy.sum())
        if ll > best_ll:
            best_ll, best = ll, t
    return _standardize(best)


def _subset(y: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` runs when there are many: the best half and an even spread of the
    rest (deterministic)."""
    n = len(y)
    if n <= limit:
        return np.arange(n)
    order = np.argsort(y, kind="stable")
    best = order[: limit // 2]
    rest = np.sort(order[limit // 2 :])
    spread = rest[np.linspace(0, len(rest) - 1, limit - len(best)).astype(int)]
    return np.sort(np.r_[best, spread])


def _perturb(space: _Space, Z0: np.ndarray, scales: np.ndarray, rng, m: int) -> np.ndarray:
    """m perturbations of the rows of Z0: Gaussian steps on numeric parameters
    (per-parameter scales), random new values for a few categoricals."""
    idx = rng.integers(len(Z0), size=m)
    Z = Z0[idx].copy()
    P = Z.shape[1]
    num = ~space.cat_mask
    # perturb a random subset of parameters (all of them for half of the candidates)
    prob = np.where(rng.random((m, 1)) < 0.5, 1.0, min(1.0, 2.0 / P))
    move = rng.random((m, P)) < prob
    if num.any():
        step = rng.normal(size=(m, P)) * scales[None, :]
        Z[:, num] = np.where(move[:, num], Z[:, num] + step[:, num], Z[:, num])
        Z[:, num] = np.abs(Z[:, num])  # reflect at the bounds
        Z[:, num] = 1.0 - np.abs(1.0 - Z[:, num])
    if space.cat_mask.any():
        flip = move & space.cat_mask[None, :] & (rng.random((m, P)) < 0.5)
        new = np.floor(rng.random((m, P)) * np.maximum(space.n_cats, 1)[None, :])
        Z = np.where(flip, new, Z)
    return space.snap(Z)


def _metric_value(value, sign: float) -> float:
    """The run's metric, sign-flipped so that lower is better; NaN for a failed run."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return sign * v if math.isfinite(v) else math.nan


def suggest(config: dict, finished: list, *, seed: int | None = None, pending=()):
    rng = np.random.default_rng(seed)
    space = _Space(config)
    if not space.free:
        return space.output(np.empty(0)), {"phase": "constant"}
    sign = -1.0 if (config.get("metric") or {}).get("goal") == "maximize" else 1.0
    rows, y, skipped = [], [], 0
    for params, value in finished:
        try:
            rows.append(space.encode_row(params))
        except (ValueError, KeyError, TypeError):  # a run from outside this space
            skipped += 1
            continue
        y.append(_metric_value(value, sign))
    y = np.array(y, dtype=float)
    Z_obs = np.array(rows).reshape(len(rows), len(space.free))
    pend = []
    for params in pending:
        try:
            pend.append(space.encode_row(params))
        except (ValueError, KeyError, TypeError):
            skipped += 1
    Z_pend = np.array(pend).reshape(len(pend), len(space.free))
    Z_seen = np.vstack([Z_obs, Z_pend])
    seen = _keys(Z_seen)

    n_init = max(5, len(space.free) + 1)
    n_ok = int(np.isfinite(y).sum())
    if len(Z_seen) < n_init or n_ok < 2 or np.nanstd(y) == 0:
        z = _space_filling(space, Z_seen, seen, rng)
        return space.output(z), {"phase": "initial design", "skipped_runs": skipped}

    X = space.features(Z_obs)
    yw = _warp(y)
    sub = _subset(yw, MAX_FIT_POINTS)
    hyper = gp.fit_hyper(X[sub], yw[sub], space.groups, rng)
    keep = _subset(yw, MAX_POSTERIOR_POINTS)
    X, yw = X[keep], yw[keep]
    model = gp.GP(X, yw, space.groups, hyper)
    if len(Z_pend):  # kriging believer: pending runs 'return' the model's prediction
        Xp = space.features(Z_pend)
        mp, _ = model.predict(Xp)
        model = gp.GP(np.vstack([X, Xp]), np.r_[yw, mp], space.groups, hyper)
    mu_obs, _ = model.predict(X)
    best = float(mu_obs.min())

    def info(acq):
        names = [p.dim.name for p in space.free]
        return {
            "phase": "model",
            "log_ei": float(acq),
            "lengthscales": dict(zip(names, np.round(hyper.lengthscales, 4).tolist(), strict=True)),
            "noise": hyper.noise,
            "skipped_runs": skipped,
        }

    def score(C):
        m, s = model.predict(space.features(C))
        return gp.log_expected_improvement(m, s, best)

    n = len(Z_obs)
    budget = int(np.clip(2.0e9 / max(n, 50) ** 2, 1000, 4000))  # candidate count kept O(1e9 / n^2)
    if space.axes is not None:
        C = _not_in(space.enumerate(), seen)
        if len(C) == 0:  # everything ran: the model's best guess, repeated
            C = space.enumerate()
        a = score(C)
        i = int(np.argmax(a))
        return space.output(C[i]), info(a[i])

    # numeric step scale per parameter: a fraction of its length scale
    ls = hyper.lengthscales
    scales = np.minimum(ls, 1.0)
    top = Z_obs[np.argsort(mu_obs)[: min(5, n)]]
    C = np.vstack(
        [
            space.random(rng, budget // 2),
            _perturb(space, top, 0.3 * scales, rng, budget // 4),
            _perturb(space, top, 0.05 * scales, rng, budget // 4),
        ]
    )
    C = _not_in(C, seen)
    if len(C) == 0:  # every candidate already ran (a tiny quantized space): allow repeats
        C = space.random(rng, budget)
    a = score(C)
    for shrink in (0.1, 0.03, 0.01):  # local refinement around the best candidates
        order = np.argsort(-a)[:10]
        P = _not_in(_perturb(space, C[order], shrink * scales, rng, budget // 8), seen)
        if len(P):
            C, a = np.vstack([C[order], P]), np.r_[a[order], score(P)]
    i = int(np.argmax(a))
    return space.output(C[i]), info(a[i])
