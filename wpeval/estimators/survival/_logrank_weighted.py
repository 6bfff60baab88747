"""The case-weighted log-rank test of :func:`~wpeval.estimators.survival.logrank.logrank`: the
robust score test of the Cox model at beta = 0 (R ``summary(coxph(..., weights = w,
robust = TRUE, ties = "breslow"))$robscore``), evaluated on the Cox engine.

With one indicator column per group (all ``k``; the engine never inverts anything here) the
Breslow score at ``beta = 0`` is the weighted ``O - E``: ``U_g = sum_i w_i delta_i x_ig -
sum_j wd_j Yw_gj / Yw_j`` (``wd_j`` the weighted deaths at event time ``j``, ``Yw`` the weighted
numbers at risk, within strata), and the engine's robust meat ``sum_i (w_i L_i)(w_i L_i)'`` (its
sandwich with the identity as bread, :meth:`CoxEngine.score_outer`) is the robust covariance
``B`` of ``O - E`` built from the score residuals ``L_i`` at ``beta = 0``, as R ``coxph``'s
``rscore``. The statistic is ``(O - E)' B^- (O - E)`` on all but the first group with
``E > 0``, which is R's quadratic form on the ``k - 1`` dummies of the other groups (the test
does not depend on which group is left out, as every ``L_i`` sums to zero over the groups).
"""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._common import _examples
from wpeval.estimators.survival._coxengine import CoxEngine
from wpeval.exceptions import DataContractError, DesignError


def check_positive(prep, w, weights: str, id_col, data) -> np.ndarray:
    """Weights must be > 0, as R ``coxph`` ("Invalid weights, must be >0"); missing, infinite
    and negative weights were refused by :func:`._weighting.prepare_weighted`."""
    zero = w == 0
    if zero.any():
        raise DataContractError(
            f"{int(zero.sum())} weights in {weights!r} are zero (rule weights_positive): the "
            "weighted log-rank test (a Cox score test, as R coxph) needs every weight > 0; "
            "drop those rows if they are meant to be left out",
            column=weights,
            rule="weights_positive",
            examples=_examples(prep.frame, zero, id_col, data),
        )
    return w


def weighted_observed_expected(prep, w, g, G, s):
    """Weighted ``O``, ``E`` per group and the robust covariance ``B`` of ``O - E``.

    ``O_g = sum_i w_i delta_i [g_i = g]``; ``E = O - U`` with ``U`` the Breslow score of the
    ``G`` group indicators at ``beta = 0``; ``B = sum_i (w_i L_i)(w_i L_i)'`` (one cluster per
    row), ``L_i`` the score residuals at ``beta = 0``.
    """
    if not np.any(prep.event):
        raise DesignError("logrank: no events, so no test is possible")
    n = len(g)
    X = np.zeros((n, G))
    X[np.arange(n), g] = 1.0
    engine = CoxEngine(X, prep.duration, prep.event, s, w, ties="breslow")
    with np.errstate(over="ignore", under="ignore"):
        _, U, _ = engine.evaluate(np.zeros(G))  # keeps the pieces score_outer reads
    B = engine.score_outer(np.eye(G))  # identity bread: the meat sum_i (w_i L_i)(w_i L_i)'
    obs = np.bincount(g, weights=w * prep.event, minlength=G)
    return obs, obs - U, B


def weighted_method(strata, n_strata, n_dropped, weights) -> dict:
    """The method record of the weighted log-rank test."""
    return {
        "estimator": (
            "weighted log-rank: robust score test of the Cox model at beta = 0, as R "
            "coxph(weights=, robust=TRUE) robscore"
        )
        + (
            " (Breslow ties; stratified: separate baseline hazards)"
            if strata
            else " (Breslow ties)"
        ),
        "se_type": (
            "robust (sandwich) covariance of the weighted O - E: sum_i (w_i L_i)(w_i L_i)' "
            "from the Cox score residuals L_i at beta = 0, one cluster per row"
        ),
        "ci_method": "none (test); chi-square reference distribution",
        "design": (
            f"stratified by {' x '.join(strata)} ({n_strata} strata)" if strata else "unstratified"
        )
        + f"; case weights {weights}",
        "notes": (
            "estimate = chi-square statistic; observed / expected are weighted sums; with all "
            "weights 1 this is not survdiff's log-rank test (same O - E, robust instead of "
            "hypergeometric variance)"
        ),
        "rho": 0.0,
        "ties": "breslow",
        "weights": weights,
        "rows_dropped": n_dropped,
    }
