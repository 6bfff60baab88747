"""Horvitz-Thompson variances: Young's bounds for simple and complete random assignment and the
constant-effects variance."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.se._registry import register


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
    v = np.sum((1 - p) * p * a**2) + np.sum(p * (1 - p) * b**2) + 2 * np.sum(y1 * y0)
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
        v = (
            np.asarray(sumsq1, dtype=float)
            + sumsq0
            + np.where(k1 > 1, (np.square(sum1) - sumsq1) * (p11 - np.square(pr)) / p11, 0.0)
            + np.where(
                k0 > 1,
                (np.square(sum0) - sumsq0) * (p00 - np.square(1 - np.asarray(pr))) / p00,
                0.0,
            )
            - np.where(
                (k1 > 0) & (k0 > 0),
                2 * np.asarray(sum1) * sum0 * (p10 - np.asarray(pr) * (1 - np.asarray(pr))) / p10,
                0.0,
            )
        )
    return float(v) if v.ndim == 0 else v
