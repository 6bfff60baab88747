"""Pluggable standard errors for the design-based estimators (after linearmodels'
``iv/covariance.py``): one function per SE type, its formula in the docstring, and a
name -> implementation registry (:data:`SE_REGISTRY`, :func:`get_se`).

Every function works on sufficient statistics (counts, sums, cluster totals) or on a small
dense design, never on an N x N matrix, so that 2M referrals fit in memory. They are written
by hand because the libraries that have them (R estimatr, clubSandwich; linearmodels and
statsmodels for HC0-HC3) either are not Python, or build the full design matrix (statsmodels
with 1,000 strata x 2 arms of dummies at 2M rows would need ~30 GB), or lack the closed forms
(the Bell-McCaffrey degrees of freedom of a clustered difference in means, the
complete-randomisation Horvitz-Thompson variance) that make the block-level computation O(N).

Notation: arm 1 is ``condition2`` ("treated", estimatr's naming), arm 0 is ``condition1``;
``n1, n0`` arm sizes, ``s1^2, s0^2`` sample variances (denominator n - 1).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["SE_REGISTRY", "get_se", "register", "welch", "neyman_blocked", "matched_pair",
           "matched_pair_clustered", "cr2_difference", "hc_vcov", "hc_linear_functional",
           "ht_youngs_simple", "ht_constant_simple", "ht_youngs_complete", "joint_pr_complete",
           "hajek_mean_var"]

#: name -> implementation
SE_REGISTRY: dict[str, Callable] = {}


def register(name: str) -> Callable:
    """Decorator adding a function to :data:`SE_REGISTRY` under ``name``."""
    def deco(fn: Callable) -> Callable:
        SE_REGISTRY[name] = fn
        return fn
    return deco


def get_se(name: str) -> Callable:
    """Return the SE implementation registered as ``name`` (KeyError lists the names)."""
    try:
        return SE_REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown SE type {name!r}; known: {sorted(SE_REGISTRY)}") from None


# ------------------------------------------------------------------------ difference in means
@register("welch")
def welch(n1, n0, var1, var0):
    """Neyman / Welch standard error of an unblocked difference in means.

    ``se = sqrt(s1^2/n1 + s0^2/n0)``; Welch-Satterthwaite degrees of freedom
    ``df = se^4 / ((s1^2/n1)^2/(n1-1) + (s0^2/n0)^2/(n0-1))`` (estimatr's
    ``difference_in_means`` without blocks or clusters). Conservative for the sample average
    treatment effect under complete randomisation (Neyman 1923).

    Parameters
    ----------
    n1, n0 : int
        Arm sizes (each >= 2).
    var1, var0 : float
        Sample variances of the outcome in each arm.

    Returns
    -------
    (float, float)
        Standard error and degrees of freedom.
    """
    a, b = var1 / n1, var0 / n0
    se = np.sqrt(a + b)
    with np.errstate(invalid="ignore", divide="ignore"):  # constant outcome: df undefined
        df = se ** 4 / (a ** 2 / (n1 - 1) + b ** 2 / (n0 - 1))
    return float(se), float(df)


@register("neyman")
def neyman_blocked(weights, n1, n0, var1, var0):
    """Neyman standard error of a blocked difference in means.

    ``se = sqrt(sum_b w_b^2 (s1b^2/n1b + s0b^2/n0b))`` with ``w_b = n_b / N`` the block's
    share of the units (estimatr's ``difference_in_means(blocks=)``, design "Blocked").

    Parameters
    ----------
    weights : array
        Block weights ``w_b`` (summing to 1).
    n1, n0, var1, var0 : arrays
        Per-block arm sizes (>= 2) and sample variances.

    Returns
    -------
    float
    """
    v = var1 / n1 + var0 / n0
    return float(np.sqrt(np.sum(np.asarray(weights) ** 2 * v)))


@register("matched_pair")
def matched_pair(tau_b, tau):
    """Matched-pairs standard error (Imai 2008; estimatr design "Matched-pair").

    ``se = sqrt( sum_b (tau_b - tau)^2 / (J (J - 1)) )`` over the ``J`` blocks, where
    ``tau_b`` are the block differences and ``tau`` the size-weighted overall estimate;
    ``df = J - 1``. estimatr uses it for every block as soon as one block has two units.

    Parameters
    ----------
    tau_b : array
        Block-level differences in means.
    tau : float
        The overall (block-size weighted) estimate.

    Returns
    -------
    (float, int)
    """
    tau_b = np.asarray(tau_b, dtype=float)
    j = len(tau_b)
    return float(np.sqrt(np.sum((tau_b - tau) ** 2) / (j * (j - 1)))), j - 1


@register("matched_pair_clustered")
def matched_pair_clustered(tau_b, n_b, tau):
    """Matched-pairs clustered standard error (Imai, King & Nall 2009; estimatr design
    "Matched-pair clustered").

    ``se = sqrt( J / ((J - 1) N^2) * sum_b (n_b tau_b - N tau / J)^2 )`` with ``n_b`` the
    units in block b and ``N = sum_b n_b``; ``df = J - 1``.

    Parameters
    ----------
    tau_b : array
        Block-level (unit-level) differences in means.
    n_b : array
        Units per block.
    tau : float
        Overall estimate.

    Returns
    -------
    (float, int)
    """
    tau_b = np.asarray(tau_b, dtype=float)
    n_b = np.asarray(n_b, dtype=float)
    j, n = len(tau_b), n_b.sum()
    se = np.sqrt(j / ((j - 1) * n ** 2) * np.sum((n_b * tau_b - n * tau / j) ** 2))
    return float(se), j - 1


def _cr2_weights(n_g, n_arm):
    """``1 / (N_arm sqrt(1 - n_g/N_arm))``, 0 for a cluster that is its whole arm."""
    frac = 1.0 - n_g / n_arm
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(frac > 1e-12, 1.0 / (n_arm * np.sqrt(np.maximum(frac, 1e-300))), 0.0)
    return w


@register("CR2")
def cr2_difference(resid_sum, n_g, arm_g, n1, n0, dof: bool = True):
    """CR2 (Bell & McCaffrey 2002) cluster-robust SE of a difference in means, closed form.

    A difference in means with clusters is OLS of ``y`` on ``[1, t]``; the hat matrix
    restricted to cluster g (in arm a) is ``H_gg = J_{n_g} / N_a``, so the CR2 adjustment
    ``(I - H_gg)^{-1/2}`` multiplies the cluster's residual total by
    ``1/sqrt(1 - n_g/N_a)``. With ``e_g`` the sum of the residuals (``y - arm mean``) of
    cluster g::

        V = sum_{g in arm 1} e_g^2 / (N_1^2 (1 - n_g/N_1))
          + sum_{g in arm 0} e_g^2 / (N_0^2 (1 - n_g/N_0)).

    A cluster that is its whole arm gets weight 0 (its residual total is 0; estimatr and
    clubSandwich treat the zero eigenvalue the same way).

    Degrees of freedom (Bell-McCaffrey / Pustejovsky-Tipton 2018, working model
    ``Sigma = I``): with ``w_g = 1/(N_a sqrt(1 - n_g/N_a))`` the J x J matrix
    ``P = blockdiag_a( diag(w_g^2 n_g) - (w_g n_g)(w_h n_h) / N_a )`` and
    ``df = tr(P)^2 / sum(P_gh^2)``, i.e. per arm
    ``sum P^2 = sum a_g^2 - 2 sum a_g b_g^2 / N_a + (sum b_g^2)^2 / N_a^2`` with
    ``a_g = w_g^2 n_g``, ``b_g = w_g n_g`` (estimatr's ``lm_robust(se_type = "CR2")``).

    Parameters
    ----------
    resid_sum : array
        Per-cluster sums of residuals ``y_i - mean(y | arm)``.
    n_g : array
        Units per cluster.
    arm_g : array of {0, 1}
        Arm of each cluster (treatment is constant within a cluster).
    n1, n0 : int
        Units in arm 1 and arm 0.
    dof : bool, default True
        Compute the Bell-McCaffrey degrees of freedom.

    Returns
    -------
    (float, float or None)
    """
    resid_sum = np.asarray(resid_sum, dtype=float)
    n_g = np.asarray(n_g, dtype=float)
    arm_g = np.asarray(arm_g)
    n_arm = np.where(arm_g == 1, float(n1), float(n0))
    w = _cr2_weights(n_g, n_arm)
    var = float(np.sum((w * resid_sum) ** 2))
    df = None
    if dof:
        a = w ** 2 * n_g
        b = w * n_g
        tr = np.sum(a * (1.0 - n_g / n_arm))
        ssq = 0.0
        for arm, n_a in ((1, float(n1)), (0, float(n0))):
            m = arm_g == arm
            ssq += (np.sum(a[m] ** 2) - 2.0 * np.sum(a[m] * b[m] ** 2) / n_a
                    + np.sum(b[m] ** 2) ** 2 / n_a ** 2)
        df = float(tr ** 2 / ssq) if ssq > 0 else None
    return float(np.sqrt(var)), df


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


# ------------------------------------------------------------------------ Horvitz-Thompson
@register("youngs")
def ht_youngs_simple(Y1, Y0, n):
    """Young's-inequality conservative HT variance under simple (Bernoulli) assignment.

    With ``Y1_i = y_i / p_i`` for treated units and ``Y0_i = y_i / (1 - p_i)`` for controls,
    ``se = sqrt(sum Y1_i^2 + sum Y0_i^2) / n`` (Aronow & Middleton 2013; estimatr's
    ``horvitz_thompson(se_type = "youngs")`` with ``simple = TRUE``).

    Parameters
    ----------
    Y1, Y0 : arrays
        Inverse-probability weighted outcomes of each arm.
    n : int
        Units in the (block's) population.

    Returns
    -------
    float
    """
    return float(np.sqrt(np.sum(np.square(Y1)) + np.sum(np.square(Y0))) / n)


@register("constant")
def ht_constant_simple(y, z, p, tau):
    """HT variance under simple assignment assuming a constant effect (estimatr
    ``se_type = "constant"``).

    Impute ``y0_i = y_i - tau z_i`` and ``y1_i = y_i + tau (1 - z_i)``; with
    ``a_i = y1_i / p_i`` and ``b_i = y0_i / (1 - p_i)``::

        N^2 V = sum p(1-p) a^2 + sum p(1-p) b^2 + 2 sum y1_i y0_i.

    Parameters
    ----------
    y : array
        Outcomes.
    z : array of {0, 1}
        Treatment indicator.
    p : array
        Probability of treatment of each unit.
    tau : float
        HT estimate.

    Returns
    -------
    float
    """
    y = np.asarray(y, dtype=float)
    y1 = np.where(z == 1, y, y + tau)
    y0 = np.where(z == 1, y - tau, y)
    a, b = y1 / p, y0 / (1 - p)
    v = np.sum((1 - p) * p * a ** 2) + np.sum(p * (1 - p) * b ** 2) + 2 * np.sum(y1 * y0)
    return float(np.sqrt(v) / len(y))


def joint_pr_complete(pr: float, n: int):
    """Joint assignment probabilities under complete randomisation of ``pr * n`` units
    (estimatr's ``gen_joint_pr_complete``, which randomises the fractional unit).

    With ``m = floor(pr n)``, ``r = pr n - m`` and ``n0 = n - m``::

        p11 = r (m+1)/n * m/(n-1) + (1-r) m/n * (m-1)/(n-1)
        p10 = r (n0-1)/n * (m+1)/(n-1) + (1-r) n0/n * m/(n-1)
        p00 = r (n0-1)/n * (n0-2)/(n-1) + (1-r) n0/n * (n0-1)/(n-1)

    Returns
    -------
    (float, float, float)
        ``p11, p10, p00`` for two distinct units.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _joint_pr_complete(pr, n)


def _joint_pr_complete(pr, n):
    nt = pr * n
    r = nt % 1
    m = np.floor(nt)
    n0 = n - m
    p11 = r * ((m + 1) / n) * (m / (n - 1)) + (1 - r) * (m / n) * ((m - 1) / (n - 1))
    p10 = r * ((n0 - 1) / n) * ((m + 1) / (n - 1)) + (1 - r) * (n0 / n) * (m / (n - 1))
    p00 = r * ((n0 - 1) / n) * ((n0 - 2) / (n - 1)) + (1 - r) * (n0 / n) * ((n0 - 1) / (n - 1))
    return p11, p10, p00


@register("youngs_complete")
def ht_youngs_complete(sum1, sumsq1, k1, sum0, sumsq0, k0, pr, n):
    """HT variance under complete randomisation within a block, in closed form.

    estimatr's ``horvitz_thompson`` (``se_type = "youngs"``, blocks or ``simple = FALSE``)
    evaluates, with ``Y1 = y/pr`` (treated), ``Y0 = y/(1-pr)`` (controls)::

        N^2 V = sum Y1^2 + sum Y0^2
              + sum_{i != j in T} Y1_i Y1_j (p11 - pr^2) / p11
              + sum_{i != j in C} Y0_i Y0_j (p00 - (1-pr)^2) / p00
              - 2 sum_{i in T, j in C} Y1_i Y0_j (p10 - pr (1-pr)) / p10

    with an N x N joint-probability matrix. Under complete randomisation the joint
    probabilities are constants (:func:`joint_pr_complete`), and
    ``sum_{i != j} Y_i Y_j = (sum Y)^2 - sum Y^2``, so this is O(1) from the arm sums.

    Parameters
    ----------
    sum1, sumsq1, k1 : float
        Sum and sum of squares of ``Y1`` and number of treated units.
    sum0, sumsq0, k0 : float
        Same for ``Y0`` and the controls.
    pr : float
        Probability of treatment in the block.
    n : int
        Units in the block.

    Returns
    -------
    float or array
        ``N^2 V`` (may be negative for a badly imbalanced block: caller warns). Vectorised
        over blocks when the arguments are arrays.
    """
    p11, p10, p00 = joint_pr_complete(np.asarray(pr, dtype=float), np.asarray(n, dtype=float))
    k1, k0 = np.asarray(k1), np.asarray(k0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (np.asarray(sumsq1, dtype=float) + sumsq0
             + np.where(k1 > 1, (np.square(sum1) - sumsq1) * (p11 - np.square(pr)) / p11, 0.0)
             + np.where(k0 > 1, (np.square(sum0) - sumsq0) * (p00 - np.square(1 - np.asarray(pr)))
                        / p00, 0.0)
             - np.where((k1 > 0) & (k0 > 0),
                        2 * np.asarray(sum1) * sum0 * (p10 - np.asarray(pr) * (1 - np.asarray(pr)))
                        / p10, 0.0))
    return float(v) if v.ndim == 0 else v


# ------------------------------------------------------------------------ weighted means
@register("hajek")
def hajek_mean_var(n, sum_w, sum_w2_dev2):
    """Linearised variance of a Hajek (ratio) inverse-probability-weighted mean.

    ``mu = sum w_i y_i / sum w_i`` with ``w_i = 1/p_i``; ``V = n/(n-1) *
    sum w_i^2 (y_i - mu)^2 / (sum w_i)^2`` (Sarndal, Swensson & Wretman 1992, 5.7 with the
    with-replacement approximation). With equal weights it is ``s^2 / n``, so the blocked
    difference in means is the special case of constant allocation probabilities.

    Parameters
    ----------
    n : array
        Units per cell.
    sum_w : array
        ``sum w_i`` per cell.
    sum_w2_dev2 : array
        ``sum w_i^2 (y_i - mu)^2`` per cell.

    Returns
    -------
    array
        Variance of each cell's mean (NaN where ``n < 2``).
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= 2, n / (n - 1) * np.asarray(sum_w2_dev2) / np.square(sum_w),
                        np.nan)
