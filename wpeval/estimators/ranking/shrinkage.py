"""Normal-normal empirical-Bayes shrinkage (tau^2 by REML or DerSimonian-Laird), posterior
means and SDs as ``metafor::blup``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from wpeval.estimators._newton import NewtonControl, maximise
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning


@dataclass(frozen=True)
class Shrinkage:
    """Result of :func:`eb_shrink` (arrays in input order)."""

    tau2: float
    tau2_method: str
    mu: float
    mu_se: float
    Q: float
    posterior_mean: np.ndarray
    posterior_sd: np.ndarray
    weight: np.ndarray


def _tau2_dl(y, v):
    w = 1 / v
    ybar = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - ybar) ** 2))
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return max(0.0, (q - (len(y) - 1)) / c), q


def _tau2_reml(y, v, start, eps=1e-12, maxiter=100):
    """REML estimate of tau^2 by Fisher scoring (as metafor), in the kit's shared Newton loop.

    Restricted log-likelihood ``l = -(sum log(v + t) + log sum w + sum w (y - mu)^2) / 2`` with
    ``w = 1 / (v + t)``; score ``(sum w^2 (y - mu)^2 - tr P) / 2`` and expected information
    ``tr(P P) / 2``, ``P = W - w w' / sum w``. The loop (:func:`wpeval.estimators._newton.maximise`)
    stops when the relative change in ``l`` is below ``eps`` or the step is below ``eps``
    on the scale of the sampling variances (``mean(v)``), halves steps that lower ``l`` and
    keeps ``t >= 0``. Scoring converges linearly, hence the tighter ``eps`` than Cox's 1e-9.
    """
    k = len(y)
    off = 1.0 - np.eye(k)

    def evaluate(theta):
        tau2 = float(theta[0])
        w = 1 / (v + tau2)
        sw = w.sum()
        mu = np.sum(w * y) / sw
        # P = W - w w'/sum(w); its traces from the sums over the *other* weights, which
        # avoids the cancellation of sum w^2 - 2 sum w^3/sw + (sum w^2/sw)^2 when one weight
        # dominates (it gave 0 and a division by zero)
        others = off @ w
        P = -np.outer(w, w) / sw
        P[np.diag_indices(k)] = w * others / sw
        tr_p = float(np.sum(w * others) / sw)
        tr_pp = float(np.sum(P * P))
        if not tr_pp > 0:
            raise DesignError(
                "REML for tau^2 is degenerate (one standard error dominates "
                "all others); use tau2_method='dl'"
            )
        r2 = float(np.sum(w * (y - mu) ** 2))
        ll = -0.5 * (float(np.sum(np.log(v + tau2))) + float(np.log(sw)) + r2)
        score = 0.5 * (float(np.sum(w**2 * (y - mu) ** 2)) - tr_p)
        return ll, np.array([score]), np.array([[0.5 * tr_pp]])

    fit = maximise(
        evaluate,
        [start],
        NewtonControl(eps=eps, iter_max=maxiter),
        scale=[float(np.mean(v))],
        lower=[0.0],
    )
    if not fit.converged:
        raise DesignError("REML estimate of tau^2 did not converge; use tau2_method='dl'")
    return float(fit.beta[0])


def eb_shrink(
    estimate,
    std_error,
    *,
    tau2_method: str = "reml",
    tau2: float | None = None,
    mu: float | None = None,
) -> Shrinkage:
    """Empirical-Bayes shrinkage under the normal-normal model.

    Model: ``estimate_j ~ N(theta_j, se_j^2)``, ``theta_j ~ N(mu, tau^2)``, independent.

    Parameters
    ----------
    estimate, std_error : array-like
        Estimates and their standard errors (all finite, SEs > 0).
    tau2_method : {"reml", "dl"}
        REML (Fisher scoring, as ``metafor::rma(method="REML")``) or the DerSimonian-Laird
        method-of-moments estimator ``max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w))``,
        ``w = 1/se^2``. Ignored when ``tau2`` is given.
    tau2 : float, optional
        Known between-contract variance (skips estimation).
    mu : float, optional
        Known prior mean (e.g. 0 for contrasts that average to zero); by default
        ``mu_hat = sum w_j y_j / sum w_j`` with ``w_j = 1/(se_j^2 + tau^2)``, ``Var = 1/sum w``.

    Returns
    -------
    Shrinkage
        ``posterior_mean = B_j y_j + (1 - B_j) mu`` with ``B_j = tau^2/(tau^2 + se_j^2)``;
        ``posterior_sd = sqrt(B_j se_j^2 + (1 - B_j)^2 Var(mu_hat))`` -- the posterior SD plus
        the uncertainty of the estimated mean, as ``metafor::blup``. The uncertainty of
        ``tau^2`` itself is ignored (intervals from it can undercover when k is small).
    """
    y = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    if y.ndim != 1 or y.shape != se.shape or len(y) < 2:
        raise ParameterError("estimate and std_error must be 1-d arrays of equal length >= 2")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ParameterError("estimates and standard errors must be finite, SEs positive")
    v = se**2
    if not (np.all(v > 0) and np.all(np.isfinite(1 / v)) and np.all(np.isfinite(v))):
        raise ParameterError(
            "standard errors are too small or too large to square in float64 "
            f"(range {se.min():.3g} to {se.max():.3g}); rescale them"
        )
    dl, q = _tau2_dl(y, v)
    if tau2 is not None:
        if not np.isfinite(tau2) or tau2 < 0:
            raise ParameterError("tau2 must be a finite number >= 0")
        t2, how = float(tau2), "given"
    elif tau2_method == "dl":
        t2, how = dl, "DerSimonian-Laird"
    elif tau2_method == "reml":
        t2, how = _tau2_reml(y, v, dl), "REML"
    else:
        raise ParameterError("tau2_method must be 'reml' or 'dl'")
    w = 1 / (v + t2)
    if mu is None:
        m, m_var = float(np.sum(w * y) / np.sum(w)), float(1 / np.sum(w))
    else:
        m, m_var = float(mu), 0.0
    b = t2 / (t2 + v)
    post = b * y + (1 - b) * m
    psd = np.sqrt(b * v + (1 - b) ** 2 * m_var)
    if t2 == 0 and tau2 is None:
        warnings.warn(
            "tau^2 estimated as 0: every estimate is shrunk to the common mean; the "
            "data show no between-contract variation beyond sampling error",
            StatisticalWarning,
            stacklevel=2,
        )
    return Shrinkage(
        tau2=t2,
        tau2_method=how,
        mu=m,
        mu_se=float(np.sqrt(m_var)),
        Q=q,
        posterior_mean=post,
        posterior_sd=psd,
        weight=b,
    )


# -------------------------------------------------------------------------- rank sets
