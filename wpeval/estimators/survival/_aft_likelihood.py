"""The AFT error laws, log-likelihood and Newton-Raphson behind
:func:`wpeval.estimators.survival.aft.aft`.

``log T = x'beta + sigma W``: the standard law of ``W`` (extreme value for the Weibull and
exponential, normal for the log-normal, logistic for the log-logistic), the likelihood of one
model with its analytic score and observed information, and the Newton maximiser.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from wpeval.exceptions import DesignError, ParameterError

_W_NAME = {
    "weibull": "extreme value (minimum)",
    "exponential": "extreme value (minimum), sigma = 1",
    "lognormal": "standard normal",
    "loglogistic": "standard logistic",
}

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# ---------------------------------------------------------------------------------- the error law
def _logf_logs(dist: str, z: np.ndarray, event: np.ndarray):
    """Per-row ``g`` = log f_W(z) (events) or log S_W(z) (censored), and ``g'``, ``g''``."""
    ev = event.astype(bool)
    if dist in ("weibull", "exponential"):
        ez = np.exp(z)
        g = np.where(ev, z - ez, -ez)
        g1 = np.where(ev, 1.0 - ez, -ez)
        g2 = -ez
    elif dist == "lognormal":
        logs = special.log_ndtr(-z)
        mills = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - logs)  # phi(z) / S(z)
        g = np.where(ev, -0.5 * z * z - _LOG_SQRT_2PI, logs)
        g1 = np.where(ev, -z, -mills)
        g2 = np.where(ev, -1.0, -mills * (mills - z))
    elif dist == "loglogistic":
        F = special.expit(z)
        S = special.expit(-z)
        g = np.where(ev, special.log_expit(z) + special.log_expit(-z), special.log_expit(-z))
        g1 = np.where(ev, 1.0 - 2.0 * F, -F)
        g2 = np.where(ev, -2.0 * F * S, -F * S)
    else:  # pragma: no cover - checked by the caller
        raise ParameterError(f"unknown distribution {dist!r}")
    return g, g1, g2


def _log_cumhaz(dist: str, z: np.ndarray):
    """``log H_W(z)`` (H = -log S) and ``d log H / dz`` for the standard error law."""
    if dist in ("weibull", "exponential"):
        return z.copy(), np.ones_like(z)
    if dist == "lognormal":
        logs = special.log_ndtr(-z)
        H = -logs
        with np.errstate(divide="ignore"):
            logH = np.where(H > 1e-300, np.log(np.maximum(H, 1e-300)), special.log_ndtr(z))
        hz = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - logs)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(H > 1e-300, hz / np.maximum(H, 1e-300), 1.0)
        return logH, d
    # loglogistic: H = log(1 + e^z)
    H = np.logaddexp(0.0, z)
    with np.errstate(divide="ignore"):
        logH = np.where(H > 1e-300, np.log(np.maximum(H, 1e-300)), z)
        d = np.where(H > 1e-300, special.expit(z) / np.maximum(H, 1e-300), 1.0)
    return logH, d


def _w_quantile(dist: str, p: np.ndarray) -> np.ndarray:
    """Quantile of W: ``F_W^{-1}(p)`` (p = probability of the event by then)."""
    if dist in ("weibull", "exponential"):
        return np.log(-np.log1p(-p))
    if dist == "lognormal":
        return stats.norm.ppf(p)
    return np.log(p) - np.log1p(-p)


def _surv_w(dist: str, z: np.ndarray) -> np.ndarray:
    if dist in ("weibull", "exponential"):
        return np.exp(-np.exp(z))
    if dist == "lognormal":
        return special.ndtr(-z)
    return special.expit(-z)


# --------------------------------------------------------------------- likelihood and Newton
class _Problem:
    """Log-likelihood, score and observed information of one AFT model.

    Parameters ``theta = (beta, log sigma)`` (``beta`` only for the exponential). Contribution
    of row i (weight w_i, z_i = (log t_i - x_i'beta) / sigma):
    events ``w_i [log f_W(z_i) - log sigma - log t_i]``, censored ``w_i log S_W(z_i)``.
    """

    def __init__(self, X, logt, event, w, dist):
        self.X, self.logt, self.event, self.w, self.dist = X, logt, event, w, dist
        self.p = X.shape[1]
        self.fixed_scale = dist == "exponential"
        self.k = self.p + (0 if self.fixed_scale else 1)
        self.jac = float(np.sum(w * event * logt))  # sum of log t over events (time scale)
        self.wd = float(np.sum(w * event))

    def _unpack(self, theta):
        beta = theta[: self.p]
        tau = 0.0 if self.fixed_scale else float(theta[self.p])
        return beta, tau

    def loglik(self, theta) -> float:
        beta, tau = self._unpack(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            z = (self.logt - self.X @ beta) * math.exp(-tau)
            g, _, _ = _logf_logs(self.dist, z, self.event)
            ll = float(self.w @ g) - tau * self.wd - self.jac
        return ll if np.isfinite(ll) else -np.inf

    def derivatives(self, theta):
        """``(loglik, score, information)`` at ``theta``."""
        beta, tau = self._unpack(theta)
        sigma = math.exp(tau)
        X, w = self.X, self.w
        with np.errstate(over="ignore", invalid="ignore"):
            z = (self.logt - X @ beta) / sigma
            g, g1, g2 = _logf_logs(self.dist, z, self.event)
        ll = float(w @ g) - tau * self.wd - self.jac
        U = np.empty(self.k)
        U[: self.p] = X.T @ (w * (-g1 / sigma))
        Hbb = (X * (w * g2 / sigma**2)[:, None]).T @ X
        if self.fixed_scale:
            return ll, U, -Hbb
        U[self.p] = float(w @ (-z * g1)) - self.wd
        H = np.empty((self.k, self.k))
        H[: self.p, : self.p] = Hbb
        hbt = X.T @ (w * (g2 * z + g1) / sigma)
        H[: self.p, self.p] = hbt
        H[self.p, : self.p] = hbt
        H[self.p, self.p] = float(w @ (z * g1 + z * z * g2))
        return ll, U, -H


def _solve_step(info, U):
    """Newton step ``info^-1 U``; an eigenvalue floor when ``info`` is not positive definite."""
    try:
        c = np.linalg.cholesky(info)
        return np.linalg.solve(c.T, np.linalg.solve(c, U)), True
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(info)
        floor = max(1e-8 * float(np.max(np.abs(vals), initial=1.0)), 1e-12)
        vals = np.maximum(np.abs(vals), floor)
        return vecs @ ((vecs.T @ U) / vals), False


def _newton(prob: _Problem, theta0, *, tol: float, max_iter: int):
    """Maximise the log-likelihood by Newton-Raphson with step halving.

    Converged when the relative change in the log-likelihood is at most ``tol`` (R survreg's
    ``rel.tolerance`` rule) and the scaled step is below 1e-6, after a full Newton step on a
    positive-definite information; or when the scaled step is below 1e-12.
    """
    theta = np.asarray(theta0, dtype=float).copy()
    ll, U, info = prob.derivatives(theta)
    if not np.isfinite(ll):
        raise DesignError("the log-likelihood is not finite at the starting values")
    it, converged = 0, False
    while it < max_iter:
        it += 1
        step, pd_ok = _solve_step(info, U)
        new = theta + step
        ll_new = prob.loglik(new)
        halvings = 0
        while not (ll_new >= ll - 1e-12 * abs(ll)) and halvings < 40:
            step = step / 2
            new = theta + step
            ll_new = prob.loglik(new)
            halvings += 1
        if not np.isfinite(ll_new):  # pragma: no cover - halving always recovers
            break
        size = float(np.max(np.abs(step) / (1 + np.abs(theta)), initial=0.0))
        # a relative log-likelihood change below tol is taken as convergence only once the
        # step is small enough (1e-6) for the quadratic convergence to have done its work
        rel = abs(ll_new - ll) <= tol * abs(ll_new) and size < 1e-6
        small = size < 1e-12
        theta = new
        ll, U, info = prob.derivatives(theta)
        if pd_ok and halvings == 0 and (rel or small):
            converged = True
            break
    return theta, ll, info, it, converged
