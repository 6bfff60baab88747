"""Variance of Hajek (inverse-probability weighted) means."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.se._registry import register


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
        return np.where(n >= 2, n / (n - 1) * np.asarray(sum_w2_dev2) / np.square(sum_w), np.nan)
