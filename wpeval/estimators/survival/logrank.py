"""The k-group, optionally stratified, log-rank test, the Fleming-Harrington G-rho family and the
case-weighted log-rank test (robust Cox score test, in ``_logrank_weighted.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._blocks import _group_cumprod, blocks
from wpeval.estimators.survival._common import as_list, codes, label_strings, prepare
from wpeval.estimators.survival._logrank_weighted import (
    check_positive,
    weighted_method,
    weighted_observed_expected,
)
from wpeval.estimators.survival._weighting import prepare_weighted
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable


def logrank(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group,
    *,
    strata=None,
    rho: float = 0,
    weights: str | None = None,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> EffectTable:
    """k-group log-rank / G-rho test, optionally stratified, as R ``survdiff(..., rho = )``.

    Null hypothesis: the hazard functions of the k groups are equal (within each stratum;
    the strata may have different baseline hazards). At every distinct event time ``t`` in
    stratum ``s`` with ``Y`` at risk (``Y_g`` in group ``g``) and ``d`` events, the expected
    events ``E_g = sum d Y_g / Y`` and the hypergeometric covariance
    ``V_gh = sum d (Y - d) / (Y - 1) (Y_g / Y) (1[g=h] - Y_h / Y)`` are summed over times and
    strata. Statistic ``(O - E)' V^- (O - E)`` on ``df = (#groups with E > 0) - 1``, computed
    as R on all but the first such group; p-value from chi-square(df).

    Fleming-Harrington G-rho family (R ``survdiff(rho = )``): every event time's
    contribution to ``O``, ``E`` is multiplied by ``W(t) = S(t-)^rho`` and to ``V`` by
    ``W(t)^2``, with ``S(t-)`` the left-continuous Kaplan-Meier curve of all groups pooled
    within the stratum. ``rho = 0`` is the log-rank test (equal weight to every event),
    ``rho = 1`` the Peto-Peto (Prentice) modification of the Gehan-Wilcoxon test (more
    weight to early differences). With ``rho != 0`` the ``observed`` and ``expected`` columns
    of ``extra["groups"]`` are the weighted sums, as R reports them.

    statsmodels' ``survdiff(..., strata=)`` computes the same statistic; this is vectorised
    over (stratum, time) blocks with ``bincount`` and ~4x faster (200k rows, 1,000 strata).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration : str
        Time to event or censoring.
    event : str
        1 = event, 0 = censored.
    group : str or list of str
        Columns defining the groups compared (k >= 2 levels).
    strata : str or list of str, optional
        Stratification columns (e.g. the randomisation strata ``["district", "period"]``).
    rho : float
        Fleming-Harrington exponent (0 = log-rank, 1 = Peto-Peto).
    weights : str, optional
        Column of case weights (finite, > 0, e.g. ``1 / allocation_prob``); only with
        ``rho = 0``. The test is then the robust score test of the Cox model at ``beta = 0``,
        R ``summary(coxph(Surv(time, status) ~ group + strata(...), weights = w,
        robust = TRUE, ties = "breslow"))$robscore``. *Null hypothesis*: equal hazards of the
        groups (within strata) in the population the weights represent (with inverse
        allocation-probability weights, the population in which every unit had the same chance
        of each group). *Numerator*: the weighted ``O - E``, ``O_g = sum_i w_i delta_i
        [g_i = g]`` and ``E_g = sum_j wd_j Yw_gj / Yw_j`` over event times ``j`` of each
        stratum (``wd_j`` the weighted events, ``Yw`` the weighted numbers at risk), which is
        the Breslow Cox score of the group indicators at ``beta = 0``. *Variance*: the robust
        (sandwich) covariance ``B = sum_i (w_i L_i)(w_i L_i)'`` of ``O - E`` with ``L_i`` the
        Cox score residuals at ``beta = 0`` (one cluster per row); statistic
        ``(O - E)' B^- (O - E)`` on all but the first group with ``E > 0``, ``df = k - 1``.
        *Assumptions*: rows independent (one cluster per row: several rows per person or
        clustered assignment are not accounted for), non-informative censoring within groups,
        weights treated as fixed (known) numbers, not as frequency weights; the chi-square
        distribution is a large-sample approximation. Ties: survdiff equals the Cox model
        score test only under R's ``ties = "exact"``, which has no robust variance; Breslow's
        score at ``beta = 0`` is exactly survdiff's ``O - E``, so it is used. With all weights
        1 the statistic is *not* survdiff's (same ``O - E``, robust instead of hypergeometric
        variance; e.g. 31.50 against 25.40 on ``veteran ~ celltype``). Missing, zero,
        negative or infinite weights raise :class:`~wpeval.exceptions.DataContractError`
        naming the column and example rows; ``weights`` with ``rho != 0`` raises
        :class:`~wpeval.exceptions.ParameterError` (no reference weighted G-rho variance).
    id_col : str, optional
        Column used to show example rows in error messages.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied, as R
        (``timefix = TRUE``, ``aeqSurv``); ``extra["n_timefix"]`` counts the rows changed.

    Returns
    -------
    EffectTable
        One row: ``estimate`` = ``statistic`` = the chi-square statistic, ``df``,
        ``p_value``, ``n``. ``extra["groups"]`` lists observed, expected, O - E and
        var(O - E) per group (weighted sums and the robust variance with ``weights``, plus
        ``sum_weights``), ``extra["variance"]`` the covariance matrix of O - E.
    """
    rho = _check_options(weights, rho)
    group = as_list(group)
    strata = as_list(strata)
    if not group:
        raise ParameterError("logrank needs a group column")
    opts = dict(used=group + strata, id_col=id_col, what="logrank", timefix=timefix)
    if weights is None:
        prep, w = prepare(data, duration, event, **opts), None
    else:
        prep, w = prepare_weighted(data, duration, event, weights=weights, entry=None, **opts)
        w = check_positive(prep, w, weights, id_col, data)
    g, glabels = codes(prep.frame, group)
    G = len(glabels)
    if G < 2:
        raise DesignError(f"logrank needs at least two groups in {group}; found {G}")
    s, slabels = codes(prep.frame, strata)
    if w is None:
        obs, E, V = _observed_expected(prep, g, G, s, rho)
    else:
        obs, E, V = weighted_observed_expected(prep, w, g, G, s)
    pos = np.flatnonzero(E > 0)
    df = len(pos) - 1
    if df < 1:
        raise DesignError("fewer than two groups have expected events: no test possible")
    chisq, df = _chisq(obs - E, V, pos)
    pval = float(stats.chi2.sf(chisq, df))
    test = "log-rank" if rho == 0 else f"G-rho (rho={rho:g})"
    if w is not None:
        test = f"weighted log-rank (robust Cox score test, weights {weights})"
    term = f"{test}: {' x '.join(group)}" + (
        f" (stratified by {' x '.join(strata)})" if strata else ""
    )
    tab = pd.DataFrame(
        {
            "term": [term],
            "estimate": [chisq],
            "statistic": [chisq],
            "df": [df],
            "p_value": [pval],
            "n": [len(prep.frame)],
        }
    )
    groups = pd.DataFrame({"group": label_strings(glabels), "n": np.bincount(g, minlength=G)})
    if w is not None:
        groups["sum_weights"] = np.bincount(g, weights=w, minlength=G)
    groups["observed"], groups["expected"], groups["o_minus_e"] = obs, E, obs - E
    groups["var_o_minus_e"] = np.diag(V)
    if w is None:
        method = _logrank_method(rho, strata, len(slabels), prep.n_dropped)
        title = f"{'Log-rank' if rho == 0 else 'G-rho'} test: {duration} by {' x '.join(group)}"
    else:
        method = weighted_method(strata, len(slabels), prep.n_dropped, weights)
        title = f"Weighted log-rank test: {duration} by {' x '.join(group)}"
    return EffectTable(
        tab,
        method,
        title=title,
        extra={
            "groups": groups.to_dict(orient="records"),
            "variance": V.tolist(),
            "n_strata": len(slabels),
            "n_input": prep.n_input,
            "n_dropped": prep.n_dropped,
            "n_timefix": prep.n_timefix,
        },
    )


def _check_options(weights, rho) -> float:
    """``rho`` as a finite float; case weights only with ``rho = 0`` (robust Cox score test)."""
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not np.isfinite(rho):
        raise ParameterError(f"rho must be a finite number, got {rho!r}")
    if weights is not None and rho != 0:
        raise ParameterError(
            f"logrank: weights are supported only with rho = 0 (got rho={rho:g}): the weighted "
            "test is the robust score test of the Cox model at beta = 0 (R coxph(weights=, "
            "robust=TRUE) robscore), and there is no reference weighted G-rho variance to check "
            "against; use rho=0, or drop weights for the G-rho test"
        )
    if weights is not None and not isinstance(weights, str):
        raise ParameterError(f"weights must be a column name (str), got {weights!r}")
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not np.isfinite(rho):
        raise ParameterError(f"rho must be a finite number, got {rho!r}")
    return float(rho)


def _logrank_method(rho, strata, n_strata, n_dropped) -> dict:
    return {
        "estimator": (
            "k-group log-rank test"
            if rho == 0
            else f"k-group Fleming-Harrington G-rho test (rho={rho:g}, weight S(t-)^rho of the "
            "pooled Kaplan-Meier" + ("; Peto-Peto)" if rho == 1 else ")")
        )
        + (" stratified (O - E and hypergeometric variance summed over strata)" if strata else ""),
        "se_type": "hypergeometric (permutation) variance of O - E"
        + ("" if rho == 0 else ", each event time weighted by W(t)^2"),
        "ci_method": "none (test); chi-square reference distribution",
        "design": (
            f"stratified by {' x '.join(strata)} ({n_strata} strata)" if strata else "unstratified"
        ),
        "notes": "estimate = chi-square statistic",
        "rho": rho,
        "rows_dropped": n_dropped,
    }


def _chisq(diff_all, V, pos):
    """R survdiff's statistic on all but the first group with E > 0 (generalised inverse and
    df = rank when V is singular, with a warning)."""
    df = len(pos) - 1
    sel = pos[1:]
    diff = diff_all[sel]
    Vs = V[np.ix_(sel, sel)]
    # R survdiff solves V directly; when groups never share a stratum at an event time V is
    # singular, so use the Moore-Penrose inverse with df = rank(V) and say so.
    eig = np.linalg.eigvalsh(Vs)
    rank = int(np.sum(eig > 1e-10 * max(eig.max(initial=0.0), 1e-300)))
    if rank == 0:
        raise DesignError(
            "logrank: the groups are never at risk together within a stratum "
            "(no within-stratum comparison was found); check group and strata"
        )
    if rank < len(sel):
        warnings.warn(
            f"logrank: the variance matrix is singular (rank {rank} of {len(sel)}: "
            "some groups are never at risk together within a stratum); using its "
            f"generalised inverse with df = {rank}",
            StatisticalWarning,
            stacklevel=3,
        )
        chisq = float(diff @ np.linalg.pinv(Vs, hermitian=True) @ diff)
        df = rank
    else:
        chisq = float(diff @ np.linalg.solve(Vs, diff))
    return chisq, df


def _pooled_km_left(b, Y, d):
    """Left-continuous pooled Kaplan-Meier ``S(t-)`` within each stratum (R survdiff2.c)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(d > 0, 1.0 - d / Y, 1.0)
    surv = _group_cumprod(factor, b["code"])
    left = np.ones_like(surv)
    same = b["code"][1:] == b["code"][:-1]
    left[1:] = np.where(same, surv[:-1], 1.0)
    return left


def _observed_expected(prep, g, G, s, rho):
    """O, E (summed over event times and strata) and the covariance of O - E; with
    ``rho != 0`` each event time weighted by the pooled ``S(t-)^rho`` (R survdiff2.c)."""
    b = blocks(prep.duration, prep.event.astype(np.float64), s)
    B = len(b["time"])
    idx = b["row_block"] * G + g
    n_at_g = np.bincount(idx, minlength=B * G).reshape(B, G).astype(np.float64)
    d_g = np.bincount(idx, weights=prep.event, minlength=B * G).reshape(B, G)
    # at risk per group: reverse cumulative sum within stratum (integers: exact)
    rev = np.cumsum(n_at_g[::-1], axis=0)[::-1]
    nxt = np.searchsorted(b["code"], b["code"], side="right")  # first block of next stratum
    rev_pad = np.vstack([rev, np.zeros((1, G))])
    Y_g = rev - rev_pad[nxt]
    d = d_g.sum(axis=1)
    keep = d > 0
    wt = _pooled_km_left(b, Y_g.sum(axis=1), d)[keep] ** rho if rho != 0 else None
    Y_g, d_g, d = Y_g[keep], d_g[keep], d[keep]
    Y = Y_g.sum(axis=1)
    P = Y_g / Y[:, None]
    cvec = np.where(Y > 1, d * (Y - d) / np.maximum(Y - 1, 1), 0.0)
    if wt is None:
        obs = d_g.sum(axis=0)
        E = (d[:, None] * P).sum(axis=0)
    else:  # R survdiff2.c: O and E weighted by S(t-)^rho, the variance by its square
        obs = (wt[:, None] * d_g).sum(axis=0)
        E = ((wt * d)[:, None] * P).sum(axis=0)
        cvec = cvec * wt * wt
    V = np.diag((cvec[:, None] * P).sum(axis=0)) - P.T @ (cvec[:, None] * P)
    return obs, E, V
