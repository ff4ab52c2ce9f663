"""Gaussian-process model for the bayes sweep strategy (numpy only).

Inputs are feature rows in the unit cube; each column belongs to a *group* (one sweep
parameter: a numeric parameter is one column, a nominal categorical is its one-hot
columns) and every group has its own length scale (ARD), so parameters that do not
matter get long length scales and stop influencing the model.

Hyperparameters (length scales, signal variance, noise variance) are a MAP estimate:
log marginal likelihood plus priors, maximised with a small bounded L-BFGS from a
few starting points. The length-scale prior is the dimension-scaled log-normal of
Hvarfner et al. (2024, "Vanilla Bayesian optimization performs great in high
dimensions"; narrowed, see _ls_prior), which lets a 12-parameter space be modelled
without collapsing to either very short or very long length scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SQRT5 = math.sqrt(5.0)
LOG_2PI = math.log(2.0 * math.pi)

# Hard bounds (log space) keep the optimiser away from numerically useless regions.
LOG_LS_BOUNDS = (math.log(1e-2), math.log(1e2))
LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(2.0))


@dataclass
class Hyper:
    lengthscales: np.ndarray  # one per group
    signal: float  # signal variance
    noise: float  # noise variance (of standardized outputs)


def _sq_dists_by_group(X1: np.ndarray, X2: np.ndarray, groups: np.ndarray, n_groups: int):
    """Squared differences summed per group: shape (n_groups, n1, n2)."""
    out = np.zeros((n_groups, X1.shape[0], X2.shape[0]))
    for j in range(X1.shape[1]):
        diff = X1[:, j, None] - X2[None, :, j]
        out[groups[j]] += diff * diff
    return out


def scaled_sq_dist(X1: np.ndarray, X2: np.ndarray, col_ls: np.ndarray) -> np.ndarray:
    """Squared distance after dividing each column by its length scale."""
    A = X1 / col_ls
    B = X2 / col_ls
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d2, 0.0)


def matern52(d2: np.ndarray, signal: float) -> np.ndarray:
    r = np.sqrt(d2)
    return signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * d2) * np.exp(-SQRT5 * r)


class GP:
    """Zero-mean GP on standardized outputs, Matern-5/2 ARD kernel, Gaussian noise."""

    def __init__(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, hyper: Hyper):
        self.X, self.y, self.groups, self.hyper = X, y, groups, hyper
        self.col_ls = hyper.lengthscales[groups]
        K = matern52(scaled_sq_dist(X, X, self.col_ls), hyper.signal)
        K[np.diag_indices_from(K)] += hyper.noise
        self.L = _cholesky(K)
        self.alpha = _chol_solve(self.L, y)

    def predict(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at Xs."""
        Ks = matern52(scaled_sq_dist(self.X, Xs, self.col_ls), self.hyper.signal)
        mean = Ks.T @ self.alpha
        v = _solve_lower(self.L, Ks)
        var = self.hyper.signal - (v * v).sum(0)
        return mean, np.sqrt(np.maximum(var, 1e-12))


def _cholesky(K: np.ndarray) -> np.ndarray:
    jitter = 0.0
    scale = float(np.mean(np.diag(K)))
    for _ in range(6):
        try:
            return np.linalg.cholesky(K + jitter * np.eye(len(K)))
        except np.linalg.LinAlgError:
            jitter = scale * 1e-8 if jitter == 0.0 else jitter * 10.0
    return np.linalg.cholesky(K + jitter * np.eye(len(K)))


def _solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    # numpy has no triangular solver; np.linalg.solve on a triangular matrix is still
    # exact, and at our sizes (n <= ~1000) LAPACK's LU costs about as much as trsm.
    return np.linalg.solve(L, B)


def _chol_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(L.T, np.linalg.solve(L, b))


# --------------------------------------------------------------------------------------
# Hyperparameter fit (MAP)
# --------------------------------------------------------------------------------------


def _ls_prior(n_groups: int) -> tuple[float, float]:
    """Log-normal (mu, sigma) of a length scale, scaled with the number of parameters.

    Its mode is that of Hvarfner et al.'s LogNormal(sqrt2 + log(d)/2, sqrt3); the spread
    is narrower (sigma 1), which on the benchmark kept a handful of noisy runs from being
    explained by one tiny length scale (an 'every run is independent' fit)."""
    mode = math.sqrt(2.0) + 0.5 * math.log(max(n_groups, 1)) - 3.0
    return mode + 1.0, 1.0


NOISE_PRIOR = (-4.0, 1.0)  # log-normal on the noise variance of standardized outputs
SIGNAL_PRIOR = (0.0, 1.0)  # log-normal on the signal variance


def _neg_log_posterior(theta, D2g, y, group_sizes_mask):
    """Negative log posterior and its gradient in theta = (log ls..., log signal, log noise)."""
    G = D2g.shape[0]
    log_ls, log_sig, log_noise = theta[:G], theta[G], theta[G + 1]
    inv_ls2 = np.exp(-2.0 * log_ls)
    d2 = np.tensordot(inv_ls2, D2g, axes=1)
    r = np.sqrt(d2)
    e = np.exp(-SQRT5 * r)
    signal, noise = math.exp(log_sig), math.exp(log_noise)
    Kf = signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * d2) * e
    K = Kf.copy()
    n = len(y)
    K[np.diag_indices(n)] += noise
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return np.inf, np.zeros_like(theta)
    Linv = np.linalg.solve(L, np.eye(n))
    Kinv = Linv.T @ Linv
    alpha = Kinv @ y
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(L)).sum()) + 0.5 * n * LOG_2PI
    W = np.outer(alpha, alpha) - Kinv  # dL/dK * 2
    grad = np.empty_like(theta)
    # dK/dlog l_g = signal * 5/3 (1 + sqrt5 r) e^{-sqrt5 r} * D2g[g] / l_g^2
    F = W * (signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e)
    grad[:G] = -0.5 * inv_ls2 * np.tensordot(D2g, F, axes=([1, 2], [0, 1]))
    grad[G] = -0.5 * float((W * Kf).sum())
    grad[G + 1] = -0.5 * noise * float(np.trace(W))
    # priors (log-normal densities on the positive parameters, minimised as -log p)
    mu, sd = group_sizes_mask
    nlp = 0.0
    for sl, (m, s) in (
        (slice(0, G), (mu, sd)),
        (slice(G, G + 1), SIGNAL_PRIOR),
        (slice(G + 1, G + 2), NOISE_PRIOR),
    ):
        t = theta[sl]
        nlp += float((t + (t - m) ** 2 / (2 * s * s)).sum())
        grad[sl] += 1.0 + (t - m) / (s * s)
    return nll + nlp, grad


def _lbfgs_box(fun, x0, lo, hi, max_iter=60, m=8, tol=1e-6):
    """Projected L-BFGS with backtracking (Armijo) for a small smooth objective."""
    x = np.clip(x0, lo, hi)
    f, g = fun(x)
    if not np.isfinite(f):
        return x, f
    S, Y = [], []
    for _ in range(max_iter):
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        gf = np.where(free, g, 0.0)
        if np.max(np.abs(gf)) < tol:
            break
        q = gf.copy()
        coeffs = []
        for s, yv in reversed(list(zip(S, Y, strict=True))):
            rho = 1.0 / float(yv @ s)
            a = rho * float(s @ q)
            q -= a * yv
            coeffs.append((rho, a, s, yv))
        if S:
            q *= float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
        for rho, a, s, yv in reversed(coeffs):
            b = rho * float(yv @ q)
            q += (a - b) * s
        d = np.where(free, -q, 0.0)
        if float(d @ gf) >= 0:  # not a descent direction: restart with steepest descent
            d, S, Y = -gf, [], []
        step = 1.0 if S else min(1.0, 1.0 / max(np.max(np.abs(d)), 1e-12))
        improved = False
        for _ in range(20):
            xn = np.clip(x + step * d, lo, hi)
            fn, gn = fun(xn)
            if np.isfinite(fn) and fn <= f + 1e-4 * float(gf @ (xn - x)):
                improved = True
                break
            step *= 0.5
        if not improved:
            break
        s, yv = xn - x, gn - g
        if float(s @ yv) > 1e-10:
            S.append(s)
            Y.append(yv)
            if len(S) > m:
                S.pop(0)
                Y.pop(0)
        converged = abs(f - fn) < 1e-9 * max(1.0, abs(f))
        x, f, g = xn, fn, gn
        if converged:
            break
    return x, f


def fit_hyper(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, rng: np.random.Generator, restarts: int = 3
) -> Hyper:
    """MAP hyperparameters for standardized outputs y."""
    G = int(groups.max()) + 1
    D2g = _sq_dists_by_group(X, X, groups, G)
    prior = _ls_prior(G)
    lo = np.r_[np.full(G, LOG_LS_BOUNDS[0]), LOG_SIGNAL_BOUNDS[0], LOG_NOISE_BOUNDS[0]]
    hi = np.r_[np.full(G, LOG_LS_BOUNDS[1]), LOG_SIGNAL_BOUNDS[1], LOG_NOISE_BOUNDS[1]]
    mode = prior[0] - prior[1] ** 2  # mode of the log-normal length-scale density
    starts = [np.r_[np.full(G, mode), 0.0, -5.0], np.r_[np.full(G, math.log(0.5)), 0.0, -3.0]]
    for _ in range(max(restarts - len(starts), 0)):
        starts.append(np.r_[rng.normal(mode, 1.0, G), rng.normal(0.0, 0.5), rng.normal(-5.0, 1.5)])

    def fun(theta):
        return _neg_log_posterior(theta, D2g, y, prior)

    best_x, best_f = starts[0], np.inf
    for x0 in starts:
        x, f = _lbfgs_box(fun, x0, lo, hi)
        if f < best_f:
            best_x, best_f = x, f
    return Hyper(np.exp(best_x[:G]), float(np.exp(best_x[G])), float(np.exp(best_x[G + 1])))


# --------------------------------------------------------------------------------------
# Outputs and acquisition
# --------------------------------------------------------------------------------------


_erfc = np.frompyfunc(math.erfc, 1, 1)


def _erfc_arr(x: np.ndarray) -> np.ndarray:
    return _erfc(x).astype(float)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log EI for minimisation, accurate far into the tail (where plain EI underflows)."""
    z = (best - mean) / std
    out = np.empty_like(z)
    mid = z > -25.0
    zm = z[mid]
    cdf = 0.5 * _erfc_arr(-zm / math.sqrt(2.0))
    pdf = np.exp(-0.5 * zm * zm) / math.sqrt(2.0 * math.pi)
    out[mid] = np.log(np.maximum(zm * cdf + pdf, 1e-300))
    zt = z[~mid]  # h(z) ~ phi(z) / z^2 (1 - 3/z^2) for z -> -inf
    out[~mid] = -0.5 * zt * zt - 0.5 * LOG_2PI - 2.0 * np.log(-zt) + np.log1p(-3.0 / (zt * zt))
    return out + np.log(std)
