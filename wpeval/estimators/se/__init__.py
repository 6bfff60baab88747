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

The package: ``dim`` (differences in means), ``linear`` (HC), ``ht`` (Horvitz-Thompson),
``weighted`` (Hajek means); the registry is in ``_registry``.
"""

from __future__ import annotations

from wpeval.estimators.se._registry import SE_REGISTRY, get_se, register
from wpeval.estimators.se.dim import (
    cr2_difference,
    matched_pair,
    matched_pair_clustered,
    neyman_blocked,
    welch,
)
from wpeval.estimators.se.ht import (
    ht_constant_simple,
    ht_youngs_complete,
    ht_youngs_simple,
    joint_pr_complete,
)
from wpeval.estimators.se.linear import hc_linear_functional, hc_vcov
from wpeval.estimators.se.weighted import hajek_mean_var

__all__ = [
    "SE_REGISTRY",
    "get_se",
    "register",
    "welch",
    "neyman_blocked",
    "matched_pair",
    "matched_pair_clustered",
    "cr2_difference",
    "hc_vcov",
    "hc_linear_functional",
    "ht_youngs_simple",
    "ht_constant_simple",
    "ht_youngs_complete",
    "joint_pr_complete",
    "hajek_mean_var",
]
