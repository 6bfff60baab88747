"""Standard errors of differences in means: Welch, blocked Neyman, matched pairs and CR2."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.se._registry import register


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
        df = se**4 / (a**2 / (n1 - 1) + b**2 / (n0 - 1))
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
    se = np.sqrt(j / ((j - 1) * n**2) * np.sum((n_b * tau_b - n * tau / j) ** 2))
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
        a = w**2 * n_g
        b = w * n_g
        tr = np.sum(a * (1.0 - n_g / n_arm))
        ssq = 0.0
        for arm, n_a in ((1, float(n1)), (0, float(n0))):
            m = arm_g == arm
            ssq += (
                np.sum(a[m] ** 2)
                - 2.0 * np.sum(a[m] * b[m] ** 2) / n_a
                + np.sum(b[m] ** 2) ** 2 / n_a**2
            )
        df = float(tr**2 / ssq) if ssq > 0 else None
    return float(np.sqrt(var)), df
