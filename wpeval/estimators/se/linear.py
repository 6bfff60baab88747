"""Heteroskedasticity-consistent (HC0-HC3) variances of linear models and linear functionals."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.se._registry import register


# ------------------------------------------------------------------------ linear models
def _hc_omega(resid, leverage, kind: str, n: int, rank: int):
    e2 = np.asarray(resid, dtype=float) ** 2
    if kind in ("HC0", "HC1"):
        om = e2
    elif kind == "HC2":
        om = e2 / (1.0 - leverage)
    elif kind == "HC3":
        om = e2 / (1.0 - leverage) ** 2
    else:
        raise KeyError(f"unknown heteroskedasticity-consistent type {kind!r}")
    scale = n / (n - rank) if kind == "HC1" else 1.0
    return om, scale


@register("HC")
def hc_vcov(X, resid, xtx_inv, kind: str = "HC2", leverage=None, rank: int | None = None):
    """Heteroskedasticity-consistent covariance ``(X'X)^-1 X' Omega X (X'X)^-1``.

    ``Omega = diag(omega_i)``: HC0 ``e_i^2``; HC1 ``e_i^2 * n/(n-k)``; HC2
    ``e_i^2 / (1 - h_ii)``; HC3 ``e_i^2 / (1 - h_ii)^2`` with leverage
    ``h_ii = x_i'(X'X)^-1 x_i`` (MacKinnon & White 1985). For two-stage least squares pass the
    first-stage fitted regressors as ``X`` and the structural residuals (estimatr's
    ``iv_robust``). O(n k^2); the design is n x k with k small.

    Parameters
    ----------
    X : (n, k) array
    resid : (n,) array
    xtx_inv : (k, k) array
    kind : {"HC0", "HC1", "HC2", "HC3"}
    leverage : (n,) array, optional
        Precomputed ``h_ii``.
    rank : int, optional
        Rank of ``X`` (default ``k``), for the HC1 factor.

    Returns
    -------
    (k, k) array
    """
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    if leverage is None and kind in ("HC2", "HC3"):
        leverage = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    om, scale = _hc_omega(resid, leverage, kind, n, k if rank is None else rank)
    meat = (X * om[:, None]).T @ X
    return scale * xtx_inv @ meat @ xtx_inv


@register("HC_functional")
def hc_linear_functional(ell, resid, leverage, kind: str = "HC2", rank: int | None = None):
    """HC variance of a linear function ``tau = sum_i ell_i y_i`` of OLS fitted values.

    ``V = scale * sum_i ell_i^2 omega_i`` with ``omega_i`` as in :func:`hc_vcov`; identical
    to ``c'(X'X)^-1 X' Omega X (X'X)^-1 c`` when ``ell = X (X'X)^-1 c``, but computed from the
    influence weights so a model with thousands of stratum dummies needs no dense design.

    Parameters
    ----------
    ell : (n,) array
        Influence weights of the estimate.
    resid, leverage : (n,) arrays
    kind : {"HC0", "HC1", "HC2", "HC3"}
    rank : int, optional
        Model rank (for HC1).

    Returns
    -------
    float
        The standard error.
    """
    n = len(resid)
    om, scale = _hc_omega(resid, leverage, kind, n, rank if rank is not None else 0)
    return float(np.sqrt(scale * np.sum(np.asarray(ell) ** 2 * om)))
