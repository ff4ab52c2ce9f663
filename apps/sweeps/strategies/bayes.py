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

import math
from dataclasses import dataclass

import numpy as np

from apps.sweeps.strategies import gp

NORMAL_Q = 3.090232306167813  # standard normal 99.9% quantile: unbounded priors are boxed there
MAX_ENUMERATE = 20_000  # discrete spaces up to this size are scored exhaustively
MAX_FIT_POINTS = 200  # hyperparameters are estimated on at most this many runs (see _fit_subset)


# --------------------------------------------------------------------------------------
# Parameter encoding: internal rows z (numeric: unit float, categorical: index)
# --------------------------------------------------------------------------------------


@dataclass
class _Param:
    name: tuple  # path into the nested params dict
    kind: str  # "num" | "cat" | "const"
    value: object = None  # constant value
    values: list | None = None  # categorical values
    ordinal: np.ndarray | None = None  # unit positions of numeric categorical values
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    integer: bool = False
    q: float | None = None
    q_int: bool = False

    @property
    def n_features(self) -> int:
        if self.kind == "cat" and self.ordinal is None:
            return len(self.values)
        return 1

    # numeric <-> unit
    def to_unit(self, v: float) -> float:
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        x = math.log(max(v, 1e-300)) if self.log else float(v)
        return min(max((x - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 0.5

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        x = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        x = np.exp(x) if self.log else x
        if self.q is not None:
            x = np.round(x / self.q) * self.q
        elif self.integer:
            x = np.round(x)
        return np.clip(x, self.low, self.high) if self.q is None else x

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Unit values moved onto the values this parameter can take."""
        if self.q is None and not self.integer:
            return np.clip(u, 0.0, 1.0)
        x = self.from_unit(u)
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        t = np.log(np.maximum(x, 1e-300)) if self.log else x
        return np.clip((t - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full_like(u, 0.5)

    def output(self, z: float):
        if self.kind == "const":
            return self.value
        if self.kind == "cat":
            return self.values[int(z)]
        x = float(self.from_unit(np.array([z]))[0])
        if self.integer or self.q_int:
            return int(round(x))
        return x

    def encode_value(self, v) -> float:
        if self.kind == "cat":
            for i, c in enumerate(self.values):
                if type(c) is type(v) and c == v:
                    return float(i)
            for i, c in enumerate(self.values):
                if c == v:
                    return float(i)
            raise ValueError(f"{'.'.join(self.name)}: {v!r} is not one of {self.values}")
        if v is None or isinstance(v, (bool, str)):
            raise ValueError(f"{'.'.join(self.name)}: {v!r} is not a number")
        return self.to_unit(float(v))


def _ordinal_positions(values: list) -> np.ndarray | None:
    """Unit positions for a categorical of distinct numbers (not bools), else None.

    Log scale when all values are positive and their log spacing is more even than the
    linear one (batch sizes 16..256, learning rates 1e-5..1e-2)."""
    if len(values) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    x = np.array(values, dtype=float)
    if not np.all(np.isfinite(x)) or len(set(x.tolist())) != len(x):
        return None
    if np.all(x > 0) and len(x) > 2:
        gaps_lin, gaps_log = np.diff(np.sort(x)), np.diff(np.sort(np.log(x)))
        cv = lambda g: float(np.std(g) / np.mean(g))  # noqa: E731
        if cv(gaps_log) < cv(gaps_lin):
            x = np.log(x)
    return (x - x.min()) / (x.max() - x.min())


def _parse(config: dict) -> list[_Param]:
    params: list[_Param] = []

    def rec(block: dict, prefix: tuple):
        for key in sorted(block):
            spec = block[key]
            if isinstance(spec, dict) and set(spec) == {"parameters"}:
                rec(spec["parameters"], prefix + (key,))
            else:
                params.append(_parse_one(prefix + (key,), spec))

    rec(config["parameters"], ())
    return params


def _parse_one(name: tuple, s: dict) -> _Param:
    dist = s.get("distribution")
    if dist is None:
        if "value" in s:
            dist = "constant"
        elif "values" in s:
            dist = "categorical"
        else:
            both_int = all(isinstance(s[k], int) and not isinstance(s[k], bool) for k in ("min", "max"))
            dist = "int_uniform" if both_int else "uniform"
    if dist == "constant":
        return _Param(name, "const", value=s["value"])
    if dist in ("categorical", "categorical_w_probabilities"):
        values = list(s["values"])
        if len(values) == 1:
            return _Param(name, "const", value=values[0])
        return _Param(name, "cat", values=values, ordinal=_ordinal_positions(values))
    p = _Param(name, "num")
    q = s.get("q", 1 if dist.startswith("q_") else None)
    if dist in ("int_uniform", "uniform", "q_uniform"):
        p.low, p.high = float(s["min"]), float(s["max"])
        p.integer = dist == "int_uniform"
    elif dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        p.low, p.high, p.log = float(s["min"]), float(s["max"]), True
    elif dist in ("log_uniform", "q_log_uniform"):
        p.low, p.high, p.log = math.exp(s["min"]), math.exp(s["max"]), True
    elif dist == "inv_log_uniform":
        p.low, p.high, p.log = math.exp(-s["max"]), math.exp(-s["min"]), True
    elif dist in ("normal", "q_normal"):
        mu, sd = s.get("mu", 0.0), s.get("sigma", 1.0)
        p.low, p.high = mu - NORMAL_Q * sd, mu + NORMAL_Q * sd
    elif dist in ("log_normal", "q_log_normal"):
        mu, sd = s.get("mu", 0.0), s.get("sigma", 1.0)
        p.low, p.high, p.log = math.exp(mu - NORMAL_Q * sd), math.exp(mu + NORMAL_Q * sd), True
    elif dist in ("beta", "q_beta"):
        p.low, p.high = 0.0, 1.0
    else:
        raise ValueError(f"{'.'.join(name)}: unsupported distribution {dist!r}")
    if q is not None:
        p.q = q
        p.q_int = isinstance(q, int) or (dist == "int_uniform")
    return p


def _get(params: dict, path: tuple):
    cur = params
    for part in path:
        cur = cur[part]
    return cur


class _Space:
    def __init__(self, config: dict):
        self.params = _parse(config)
        self.free = [p for p in self.params if p.kind != "const"]
        self.cat_mask = np.array([p.kind == "cat" for p in self.free], dtype=bool)
        self.n_cats = np.array([len(p.values) if p.kind == "cat" else 0 for p in self.free])
        self.discrete_size = self._discrete_size()
        # feature columns -> group (parameter) index
        self.groups = np.concatenate([np.full(p.n_features, i) for i, p in enumerate(self.free)]).astype(int)

    def _discrete_size(self) -> int | None:
        size = 1
        for p in self.free:
            if p.kind == "cat":
                size *= len(p.values)
            elif (p.integer or p.q is not None) and not p.log:
                size *= int(math.floor((p.high - p.low) / (p.q or 1))) + 1
            else:
                return None
            if size > MAX_ENUMERATE:
                return None
        return size

    def enumerate(self) -> np.ndarray:
        axes = []
        for p in self.free:
            if p.kind == "cat":
                axes.append(np.arange(len(p.values), dtype=float))
            else:
                step = p.q or 1
                vals = p.low + step * np.arange(int(math.floor((p.high - p.low) / step)) + 1)
                axes.append(np.array([p.to_unit(v) for v in vals]))
        grids = np.meshgrid(*axes, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)

    def encode_rows(self, runs: list[dict]) -> np.ndarray:
        Z = np.empty((len(runs), len(self.free)))
        for i, params in enumerate(runs):
            for j, p in enumerate(self.free):
                Z[i, j] = p.encode_value(_get(params, p.name))
        return Z

    def features(self, Z: np.ndarray) -> np.ndarray:
        cols = []
        for j, p in enumerate(self.free):
            if p.kind == "num":
                cols.append(Z[:, j : j + 1])
            elif p.ordinal is not None:
                cols.append(p.ordinal[Z[:, j].astype(int)][:, None])
            else:
                cols.append(np.eye(len(p.values))[Z[:, j].astype(int)])
        return np.concatenate(cols, axis=1)

    def random(self, rng: np.random.Generator, m: int) -> np.ndarray:
        Z = rng.random((m, len(self.free)))
        return self.snap(Z * np.where(self.cat_mask, self.n_cats, 1), floor_cats=True)

    def snap(self, Z: np.ndarray, floor_cats: bool = False) -> np.ndarray:
        for j, p in enumerate(self.free):
            if p.kind == "cat":
                Z[:, j] = np.clip(np.floor(Z[:, j]) if floor_cats else np.round(Z[:, j]), 0, len(p.values) - 1)
            else:
                Z[:, j] = p.snap(Z[:, j])
        return Z

    def output(self, z: np.ndarray) -> dict:
        out: dict = {}
        free_iter = iter(z.tolist())
        for p in self.params:
            v = p.output(next(free_iter)) if p.kind != "const" else p.value
            cur = out
            for part in p.name[:-1]:
                cur = cur.setdefault(part, {})
            cur[p.name[-1]] = v
        return out


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
    if space.discrete_size is not None:
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


def _warp(y: np.ndarray) -> np.ndarray:
    """Standardize; failed runs (NaN) become the worst observed value."""
    ok = np.isfinite(y)
    y = np.where(ok, y, np.max(y[ok]))
    sd = np.std(y)
    return (y - np.mean(y)) / (sd if sd > 0 else 1.0)


def _fit_subset(y: np.ndarray) -> np.ndarray:
    """Runs used to estimate hyperparameters when there are many: the best half and an
    even spread of the rest (deterministic). The posterior always uses every run."""
    n = len(y)
    if n <= MAX_FIT_POINTS:
        return np.arange(n)
    order = np.argsort(y, kind="stable")
    best = order[: MAX_FIT_POINTS // 2]
    rest = np.sort(order[MAX_FIT_POINTS // 2 :])
    spread = rest[np.linspace(0, len(rest) - 1, MAX_FIT_POINTS - len(best)).astype(int)]
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


def suggest(config: dict, finished: list, *, seed: int | None = None, pending=()):
    rng = np.random.default_rng(seed)
    space = _Space(config)
    if not space.free:
        return space.output(np.empty(0)), {"phase": "constant"}
    sign = -1.0 if (config.get("metric") or {}).get("goal") == "maximize" else 1.0
    runs = [p for p, _ in finished]
    y = np.array([sign * float(v) if v is not None else np.nan for _, v in finished], dtype=float)
    y[~np.isfinite(y)] = np.nan
    Z_obs = space.encode_rows(runs)
    Z_pend = space.encode_rows(list(pending))
    Z_seen = np.vstack([Z_obs, Z_pend])
    seen = _keys(Z_seen)

    n_init = max(5, len(space.free) + 1)
    n_ok = int(np.isfinite(y).sum())
    if len(Z_seen) < n_init or n_ok < 2 or np.nanstd(y) == 0:
        z = _space_filling(space, Z_seen, seen, rng)
        return space.output(z), {"phase": "initial design"}

    X = space.features(Z_obs)
    yw = _warp(y)
    sub = _fit_subset(yw)
    hyper = gp.fit_hyper(X[sub], yw[sub], space.groups, rng)
    model = gp.GP(X, yw, space.groups, hyper)
    if len(Z_pend):  # kriging believer: pending runs 'return' the model's prediction
        Xp = space.features(Z_pend)
        mp, _ = model.predict(Xp)
        model = gp.GP(np.vstack([X, Xp]), np.r_[yw, mp], space.groups, hyper)
    mu_obs, _ = model.predict(X)
    best = float(mu_obs.min())

    def score(C):
        m, s = model.predict(space.features(C))
        return gp.log_expected_improvement(m, s, best)

    n = len(Z_obs)
    budget = int(np.clip(2.0e9 / max(n, 50) ** 2, 1000, 4000))  # candidate count kept O(1e9 / n^2)
    if space.discrete_size is not None:
        C = _not_in(space.enumerate(), seen)
        if len(C) == 0:  # everything ran: the model's best guess, repeated
            C = space.enumerate()
        a = score(C)
        i = int(np.argmax(a))
        return space.output(C[i]), {"phase": "model", "acq": float(a[i]), "lengthscales": hyper.lengthscales.tolist()}

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
    a = score(C)
    for shrink in (0.1, 0.03, 0.01):  # local refinement around the best candidates
        order = np.argsort(-a)[:10]
        P = _not_in(_perturb(space, C[order], shrink * scales, rng, budget // 8), seen)
        if len(P):
            C, a = np.vstack([C[order], P]), np.r_[a[order], score(P)]
    i = int(np.argmax(a))
    return space.output(C[i]), {"phase": "model", "acq": float(a[i]), "lengthscales": ls.tolist(), "noise": hyper.noise}
