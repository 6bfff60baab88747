"""Prediction from an AFT fit for :func:`wpeval.estimators.survival.aft.predict_survival` and
:func:`wpeval.estimators.survival.aft.predict_quantile` (the formulas are in their docstrings):
the new rows' design matrix and the delta-method variances.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from wpeval.estimators.survival._aft_design import _build
from wpeval.estimators.survival._aft_likelihood import _log_cumhaz, _surv_w, _w_quantile
from wpeval.estimators.survival._common import check_alpha, zcrit
from wpeval.exceptions import DataContractError, ParameterError


def _pred_setup(result, data, alpha):
    """Design of ``data``, coefficients, covariance, distribution and alpha of a checked
    :class:`AFTResult`."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    alpha = result.method["alpha"] if alpha is None else check_alpha(alpha)
    ex = result.extra
    spec = [dict(s) for s in ex["coding"]]
    for s in spec:
        c = s["column"]
        if c not in data.columns:
            raise DataContractError(
                f"column {c!r} is not in the data", column=c, rule="column_present"
            )
        miss = data[c].isna().to_numpy()
        if miss.any():
            raise DataContractError(
                "covariate has missing values; predictions need every covariate",
                column=c,
                rule="not_missing",
                examples=data.index[miss][:5].tolist(),
            )
    X = _build(data, spec)
    theta = np.asarray(ex["coef"], dtype=float)
    V = np.asarray(ex["vcov"], dtype=float)
    return X, theta, V, ex["distribution"], alpha


def _quad(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Row-wise ``x_i' V x_i``."""
    return np.einsum("ij,ij->i", X @ V, X)


def _times_arg(times, what="times") -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ParameterError(f"{what} must be finite numbers >= 0, got {times!r}")
    return t


def _predict_survival(result, times, data, alpha) -> pd.DataFrame:
    """S(t | x) with log(-log S) delta-method intervals, long (rows x times)."""
    X, theta, V, dist, alpha = _pred_setup(result, data, alpha)
    t = _times_arg(times)
    p = X.shape[1]
    tau = 0.0 if dist == "exponential" else theta[p]
    sigma = math.exp(tau)
    eta = X @ theta[:p]
    n, m = len(eta), len(t)
    with np.errstate(divide="ignore"):
        logt = np.log(t)
    zz = (logt[None, :] - eta[:, None]) / sigma  # n x m
    pos = np.broadcast_to(t[None, :] > 0, zz.shape)
    zsafe = np.where(pos, zz, 0.0)
    logH, dz = _log_cumhaz(dist, zsafe)
    # gradient of log H in (beta, log sigma): (a x, b) with a = -dlogH/dz / sigma and
    # b = -z dlogH/dz; Var = a^2 x'V_bb x + 2 a b x'V_bs + b^2 V_ss (n x m, no n x m x p array)
    a = -dz / sigma
    var = a * a * _quad(X, V[:p, :p])[:, None]
    if dist != "exponential":
        b = -dz * zsafe
        var += 2 * a * b * (X @ V[:p, p])[:, None] + b * b * V[p, p]
    se = np.sqrt(np.maximum(var, 0.0))
    zc = zcrit(alpha)
    surv = np.where(pos, _surv_w(dist, zsafe), 1.0)
    lo = np.where(pos, np.exp(-np.exp(logH + zc * se)), 1.0)
    hi = np.where(pos, np.exp(-np.exp(logH - zc * se)), 1.0)
    out = pd.DataFrame(
        {
            "row": np.repeat(np.asarray(data.index), m),
            "time": np.tile(t, n),
            "surv": surv.ravel(),
            "conf_low": lo.ravel(),
            "conf_high": hi.ravel(),
            "log_cumhaz": np.where(pos, logH, -np.inf).ravel(),
            "se_log_cumhaz": np.where(pos, se, 0.0).ravel(),
            "linear_predictor": np.repeat(eta, m),
        }
    )
    return out


def _predict_quantile(result, p, data, alpha) -> pd.DataFrame:
    """Quantiles of T | x with delta-method intervals on log t_p, long (rows x p)."""
    X, theta, V, dist, alpha = _pred_setup(result, data, alpha)
    pp = np.atleast_1d(np.asarray(p, dtype=float))
    if pp.ndim != 1 or pp.size == 0 or np.any(~(pp > 0) | ~(pp < 1)):
        raise ParameterError(f"p must be probabilities in (0, 1), got {p!r}")
    k = X.shape[1]
    tau = 0.0 if dist == "exponential" else theta[k]
    sigma = math.exp(tau)
    wp = _w_quantile(dist, pp)
    eta = X @ theta[:k]
    uq = eta[:, None] + sigma * wp[None, :]
    n, m = uq.shape
    var = np.repeat(_quad(X, V[:k, :k])[:, None], m, axis=1)
    if dist != "exponential":
        b = sigma * wp  # d log t_p / d log sigma
        var += 2 * (X @ V[:k, k])[:, None] * b[None, :] + (b * b)[None, :] * V[k, k]
    se_u = np.sqrt(np.maximum(var, 0.0))
    q = np.exp(uq)
    zc = zcrit(alpha)
    return pd.DataFrame(
        {
            "row": np.repeat(np.asarray(data.index), m),
            "p": np.tile(pp, n),
            "quantile": q.ravel(),
            "std_error": (q * se_u).ravel(),
            "log_quantile": uq.ravel(),
            "se_log": se_u.ravel(),
            "conf_low": np.exp(uq - zc * se_u).ravel(),
            "conf_high": np.exp(uq + zc * se_u).ravel(),
        }
    )
