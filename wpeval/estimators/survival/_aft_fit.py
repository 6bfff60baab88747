"""Fitting an AFT model for :func:`wpeval.estimators.survival.aft.aft`: starting values
(lifelines' AFT fitters or the intercept-only fit), the Newton-Raphson polish, and the
warning and notes when it does not converge.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval.estimators.survival._aft_likelihood import _newton, _Problem
from wpeval.exceptions import StatisticalWarning


# --------------------------------------------------------------------------------- lifelines
def _lifelines_start(X, t, event, w, dist, weighted):
    """Starting values from lifelines' AFT fitter (``None`` if it fails)."""
    from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter

    cls, anc, sign = {
        "weibull": (WeibullAFTFitter, "rho_", -1.0),
        "lognormal": (LogNormalAFTFitter, "sigma_", 1.0),
        "loglogistic": (LogLogisticAFTFitter, "beta_", -1.0),
    }[dist]
    p = X.shape[1]
    cols = [f"x{j}" for j in range(1, p)]
    df = pd.DataFrame(X[:, 1:], columns=cols)
    df["_t"], df["_e"] = t, event
    if weighted:
        df["_w"] = w
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = cls().fit(df, "_t", "_e", weights_col="_w" if weighted else None)
    except Exception:  # lifelines raises ConvergenceError and assorted numpy errors
        return None
    par = f.params_
    loc = [k for k in par.index if k[0] != anc][0][0]
    theta = [par[(loc, "Intercept")]] + [par[(loc, c)] for c in cols]
    theta.append(sign * par[(anc, "Intercept")])
    return np.asarray(theta, dtype=float)


@dataclass(frozen=True)
class _Fit:
    theta: np.ndarray
    loglik: float
    V: np.ndarray
    iterations: int
    converged: bool
    start: str
    start_gap: float | None


def _null_start(logt, event, w, dist):
    """Intercept-only starting values: the exponential MLE of the intercept, log sigma = 0."""
    return np.array([math.log(float(np.sum(w * np.exp(logt))) / float(np.sum(w * event)))])


def _fit(X, logt, event, w, dist, *, fitter, tol, max_iter, weighted, null_fit=None, auto_max_rows):
    """Maximum likelihood fit: Newton-Raphson from lifelines' estimates or the intercept-only
    fit (``auto_max_rows``: the row limit of ``fitter="auto"``, passed by the caller)."""
    prob = _Problem(X, logt, event, w, dist)
    start, gap, theta0 = "newton", None, None
    n = X.shape[0]
    use_ll = fitter == "lifelines" or (fitter == "auto" and n <= auto_max_rows)
    if use_ll and dist != "exponential":
        theta0 = _lifelines_start(X, np.exp(logt), event, w, dist, weighted)
        if theta0 is not None:
            start = "lifelines"
        elif fitter == "lifelines":
            warnings.warn(
                "aft: lifelines did not converge; Newton-Raphson started from the "
                "intercept-only fit instead",
                StatisticalWarning,
                stacklevel=4,
            )
    if theta0 is None:
        theta0 = np.zeros(prob.k)
        if null_fit is not None:
            theta0[0] = null_fit[0]
            if prob.k > prob.p:
                theta0[-1] = null_fit[-1]
        else:
            theta0[0] = _null_start(logt, event, w, dist)[0]
    theta, ll, info, it, conv = _newton(prob, theta0, tol=tol, max_iter=max_iter)
    if start == "lifelines":
        gap = float(np.max(np.abs(theta - theta0) / np.maximum(np.abs(theta), 1e-8)))
    try:
        V = np.linalg.inv(info)
    except np.linalg.LinAlgError:  # pragma: no cover - aliased columns are refused earlier
        V = np.full_like(info, np.nan)
    return _Fit(theta, ll, V, it, conv, start, gap)


def _convergence_notes(fit: _Fit, no_events: list[str]) -> list[str]:
    """Notes for the result; a :class:`StatisticalWarning` naming the levels without events
    when Newton-Raphson did not converge."""
    notes = []
    if not fit.converged:
        why = (
            f"the levels {no_events} have no events: their coefficients are infinite "
            "(monotone likelihood); drop or merge them"
            if no_events
            else "raise max_iter or check the covariates"
        )
        warnings.warn(
            f"aft: Newton-Raphson did not converge in {fit.iterations} iterations; {why}",
            StatisticalWarning,
            stacklevel=3,
        )
        notes.append(f"not converged in {fit.iterations} iterations")
        if no_events:
            notes.append(f"coefficient infinite (no events): {no_events}")
    return notes
