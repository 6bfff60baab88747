"""Kaplan-Meier curves, the (stratified) k-group log-rank test and restricted mean survival."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._common import (
    as_list,
    check_alpha,
    check_conf_type,
    ci_surv,
    codes,
    label_strings,
    prepare,
    zcrit,
)
from wpeval.estimators.survival._curves import SurvivalCurves
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable


# ---------------------------------------------------------------------------------------------
# shared: distinct (curve, time) blocks
def blocks(duration: np.ndarray, event: np.ndarray, code: np.ndarray):
    """Collapse rows to distinct (code, time) blocks sorted by code then time.

    Returns a dict of arrays over blocks: ``code``, ``time``, ``n_at`` (rows with that exit
    time), ``n_event``, ``n_risk`` (rows of the same code with time >= this time), and
    ``row_block`` (block of every input row) and ``first`` (index of each code's first block).
    """
    order = np.lexsort((duration, code))
    t_s, c_s = duration[order], code[order]
    n = len(order)
    brk = np.flatnonzero((np.diff(c_s) != 0) | (np.diff(t_s) != 0)) + 1
    starts = np.concatenate([[0], brk])
    n_at = np.diff(np.concatenate([starts, [n]]))
    bcode = c_s[starts]
    end_of_code = np.searchsorted(c_s, bcode, side="right")
    n_risk = end_of_code - starts
    row_block = np.empty(n, dtype=np.int64)
    row_block[order] = np.repeat(np.arange(len(starts)), n_at)
    out = dict(code=bcode, time=t_s[starts], n_at=n_at, n_risk=n_risk, row_block=row_block)
    if event is not None:
        out["n_event"] = np.add.reduceat(event[order], starts) if n else np.zeros(0)
    return out


def _group_cumprod(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    return pd.Series(x).groupby(code, sort=False).cumprod().to_numpy()


def _group_cumsum(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    return pd.Series(x).groupby(code, sort=False).cumsum().to_numpy()


def km_blocks(duration, event, code):
    """Kaplan-Meier estimate and Greenwood sums over the distinct (code, time) blocks."""
    b = blocks(duration, event.astype(np.float64), code)
    d, Y = b["n_event"], b["n_risk"].astype(np.float64)
    b["surv"] = _group_cumprod(1.0 - d / Y, b["code"])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(d == 0, 0.0, np.where(Y > d, d / (Y * (Y - d)), np.inf))
    b["greenwood"] = _group_cumsum(h, b["code"])
    b["hh"] = np.where(Y > d, d / (Y * np.maximum(Y - d, 1)), 0.0)  # R survmean's hh
    return b


# ---------------------------------------------------------------------------------------------
def kaplan_meier(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    group=None,
    strata=None,
    conf_type: str = "log",
    alpha: float = 0.05,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> SurvivalCurves:
    """Kaplan-Meier survival curves with Greenwood variance, as R ``survfit``.

    Estimand: the survival function ``S(t) = P(T > t)`` in each curve (group x stratum),
    assuming censoring independent of the event time within the curve. Estimator
    ``S(t) = prod_{t_j <= t} (1 - d_j / Y_j)``. Variance (Greenwood):
    ``Var(-log S(t)) = sum_{t_j <= t} d_j / (Y_j (Y_j - d_j))`` (``se_cumhaz``), and
    ``SE(S) = S * se_cumhaz`` (``std_err``); where ``Y_j = d_j`` the curve drops to 0 and the
    variance is infinite (R gives ``Inf``; CI limits are then ``NaN``).
    Pointwise CIs: ``"log"`` (R default) ``exp(log S -/+ z se)``, upper capped at 1;
    ``"log-log"`` ``exp(-exp(log(-log S) -/+ z se / log S))``; ``"plain"`` ``S -/+ z SE``.
    Hand-written (not lifelines' ``KaplanMeierFitter``) to fit hundreds of curves in one
    vectorised pass and to give R's CI types, median CI and at-risk tables.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration : str
        Time to event or censoring (>= 0).
    event : str
        1 = event observed at ``duration``, 0 = censored.
    group : str or list of str, optional
        Columns defining the compared groups (e.g. ``"prime"``).
    strata : str or list of str, optional
        Further columns: a separate curve for every group x stratum combination (e.g. the
        prime curves within each CPA with ``group="prime", strata="cpa"``).
    conf_type : {"log", "log-log", "plain"}
        Transformation for the pointwise confidence intervals.
    alpha : float
        1 - confidence level.
    id_col : str, optional
        Column used to show example rows in error messages.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied, as R
        (``timefix = TRUE``, ``aeqSurv``); ``extra["n_timefix"]`` counts the rows changed.

    Returns
    -------
    SurvivalCurves
        ``.tidy()`` (curve table), ``.survival_at(t)``, ``.median()``, ``.at_risk(times)``.
    """
    alpha = check_alpha(alpha)
    conf_type = check_conf_type(conf_type)
    cols = as_list(group) + as_list(strata)
    prep = prepare(
        data, duration, event, used=cols, id_col=id_col, what="kaplan_meier", timefix=timefix
    )
    code, labels = codes(prep.frame, cols)
    names = label_strings(labels)
    b = km_blocks(prep.duration, prep.event, code)
    z = zcrit(alpha)
    se = np.sqrt(b["greenwood"])
    lo, hi = ci_surv(b["surv"], se, conf_type, z)
    with np.errstate(invalid="ignore"):
        std_err = np.where(np.isinf(se), np.nan, b["surv"] * se)
    table = pd.DataFrame({"curve": np.asarray(names, dtype=object)[b["code"]]})
    for c in labels.columns:
        table[c] = labels[c].to_numpy()[b["code"]]
    table["time"] = b["time"]
    table["n_risk"] = b["n_risk"]
    table["n_event"] = b["n_event"].astype(np.int64)
    table["n_censor"] = b["n_at"] - table["n_event"].to_numpy()
    table["surv"] = b["surv"]
    table["std_err"] = std_err
    table["se_cumhaz"] = se
    table["conf_low"] = lo
    table["conf_high"] = hi
    curves = labels.copy()
    curves.insert(0, "curve", names)
    curves["n"] = np.bincount(code, minlength=len(labels))
    curves["events"] = np.bincount(code, weights=prep.event, minlength=len(labels)).astype(int)
    method = {
        "estimator": "Kaplan-Meier product-limit",
        "se_type": "Greenwood",
        "ci_method": f"pointwise {100 * (1 - alpha):.0f}% '{conf_type}' (R survfit conf.type)",
        "design": ("separate curves by " + " x ".join(cols)) if cols else "one curve",
        "alpha": alpha,
        "conf_type": conf_type,
        "notes": "median CI from the pointwise CI curves (R print.survfit)",
    }
    return SurvivalCurves(
        table=table,
        curves=curves,
        method=method,
        title=f"Kaplan-Meier: {duration}",
        extra={"n_input": prep.n_input, "n_dropped": prep.n_dropped, "n_timefix": prep.n_timefix},
    )


# ---------------------------------------------------------------------------------------------
def logrank(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group,
    *,
    strata=None,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> EffectTable:
    """k-group log-rank test, optionally stratified, as R ``survdiff(Surv ~ group + strata())``.

    Null hypothesis: the hazard functions of the k groups are equal (within each stratum;
    the strata may have different baseline hazards). At every distinct event time ``t`` in
    stratum ``s`` with ``Y`` at risk (``Y_g`` in group ``g``) and ``d`` events, the expected
    events ``E_g = sum d Y_g / Y`` and the hypergeometric covariance
    ``V_gh = sum d (Y - d) / (Y - 1) (Y_g / Y) (1[g=h] - Y_h / Y)`` are summed over times and
    strata. Statistic ``(O - E)' V^- (O - E)`` on ``df = (#groups with E > 0) - 1``, computed
    as R on all but the first such group; p-value from chi-square(df).

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
        var(O - E) per group, ``extra["variance"]`` the covariance matrix of O - E.
    """
    group = as_list(group)
    strata = as_list(strata)
    if not group:
        raise ParameterError("logrank needs a group column")
    prep = prepare(
        data, duration, event, used=group + strata, id_col=id_col, what="logrank", timefix=timefix
    )
    g, glabels = codes(prep.frame, group)
    G = len(glabels)
    if G < 2:
        raise DesignError(f"logrank needs at least two groups in {group}; found {G}")
    s, slabels = codes(prep.frame, strata)
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
    Y_g, d_g, d = Y_g[keep], d_g[keep], d[keep]
    Y = Y_g.sum(axis=1)
    P = Y_g / Y[:, None]
    obs = d_g.sum(axis=0)
    E = (d[:, None] * P).sum(axis=0)
    cvec = np.where(Y > 1, d * (Y - d) / np.maximum(Y - 1, 1), 0.0)
    V = np.diag((cvec[:, None] * P).sum(axis=0)) - P.T @ (cvec[:, None] * P)
    pos = np.flatnonzero(E > 0)
    df = len(pos) - 1
    if df < 1:
        raise DesignError("fewer than two groups have expected events: no test possible")
    sel = pos[1:]
    diff = (obs - E)[sel]
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
            stacklevel=2,
        )
        chisq = float(diff @ np.linalg.pinv(Vs, hermitian=True) @ diff)
        df = rank
    else:
        chisq = float(diff @ np.linalg.solve(Vs, diff))
    pval = float(stats.chi2.sf(chisq, df))
    gnames = label_strings(glabels)
    term = f"log-rank: {' x '.join(group)}" + (
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
    groups = pd.DataFrame(
        {
            "group": gnames,
            "n": np.bincount(g, minlength=G),
            "observed": obs,
            "expected": E,
            "o_minus_e": obs - E,
            "var_o_minus_e": np.diag(V),
        }
    )
    method = {
        "estimator": "k-group log-rank test"
        + (" stratified (O - E and hypergeometric variance summed over strata)" if strata else ""),
        "se_type": "hypergeometric (permutation) variance of O - E",
        "ci_method": "none (test); chi-square reference distribution",
        "design": (
            f"stratified by {' x '.join(strata)} ({len(slabels)} strata)"
            if strata
            else "unstratified"
        ),
        "notes": "estimate = chi-square statistic",
    }
    return EffectTable(
        tab,
        method,
        title=f"Log-rank test: {duration} by {' x '.join(group)}",
        extra={
            "groups": groups.to_dict(orient="records"),
            "variance": V.tolist(),
            "n_strata": len(slabels),
            "n_input": prep.n_input,
            "n_dropped": prep.n_dropped,
            "n_timefix": prep.n_timefix,
        },
    )


# ---------------------------------------------------------------------------------------------
def rmst(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group,
    tau: float,
    *,
    alpha: float = 0.05,
    reference=None,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> EffectTable:
    """Restricted mean survival time (RMST) to ``tau`` per group and differences between groups.

    Estimand: ``RMST(tau) = E[min(T, tau)] = int_0^tau S(t) dt`` per group; the difference
    between groups is the mean gain in event-free time up to ``tau`` (here, days to job
    entry avoided / spent). Estimator: the area under the Kaplan-Meier curve to ``tau``.
    Variance (Klein & Moeschberger 2003, eq. 4.5.2; R ``print(survfit, rmean=tau)``):
    ``Var = sum_{t_j <= tau} A_j^2 d_j / (Y_j (Y_j - d_j))`` with ``A_j = int_{t_j}^tau S``
    (terms with ``Y_j = d_j`` are 0, as R). Differences use independent groups:
    ``Var(R_k - R_ref) = Var(R_k) + Var(R_ref)``; Wald CIs.
    lifelines' ``restricted_mean_survival_time`` variance is wrong (lifelines issue #1682),
    hence this implementation.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration, event : str
        Time to event or censoring and the 0/1 event indicator.
    group : str or list of str
        Columns defining the groups.
    tau : float
        Truncation time (> 0), in the units of ``duration`` (e.g. 364 days = 52 weeks).
        A warning is given when ``tau`` exceeds a group's last follow-up time (the curve is
        then extended flat, as R does).
    alpha : float
        1 - confidence level.
    reference : optional
        Label (``"col=value"``, as in the term names) of the reference group for the
        differences; default the first group.
    id_col : str, optional
        Column used to show example rows in error messages.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied, as R
        (``timefix = TRUE``, ``aeqSurv``); ``extra["n_timefix"]`` counts the rows changed.

    Returns
    -------
    EffectTable
        Rows ``"RMST[<group>]"`` per group and ``"<group> - <reference>"`` differences.
    """
    alpha = check_alpha(alpha)
    group = as_list(group)
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        raise ParameterError(f"tau must be a positive number, got {tau!r}") from None
    if not np.isfinite(tau) or tau <= 0:
        raise ParameterError(f"tau must be a positive number, got {tau!r}")
    prep = prepare(data, duration, event, used=group, id_col=id_col, what="rmst", timefix=timefix)
    code, labels = codes(prep.frame, group)
    names = label_strings(labels)
    b = km_blocks(prep.duration, prep.event, code)
    est, var, last = [], [], []
    for k in range(len(labels)):
        m = b["code"] == k
        r, v = _rmst_one(b["time"][m], b["surv"][m], b["hh"][m], tau)
        est.append(r)
        var.append(v)
        last.append(b["time"][m].max())
    est, var = np.array(est), np.array(var)
    short = [nm for nm, lt in zip(names, last) if lt < tau]
    if short:
        warnings.warn(
            f"rmst: tau={tau:g} is beyond the last follow-up time of {short}; the "
            "curve is extended flat to tau",
            StatisticalWarning,
            stacklevel=2,
        )
    z = zcrit(alpha)
    terms = [f"RMST[{nm}]" for nm in names]
    se = np.sqrt(var)
    rows = pd.DataFrame(
        {
            "term": terms,
            "estimate": est,
            "std_error": se,
            "n": np.bincount(code, minlength=len(labels)),
        }
    )
    if len(names) > 1:
        ref = names[0] if reference is None else reference
        if ref not in names:
            raise ParameterError(f"reference {reference!r} is not one of {names}")
        r = names.index(ref)
        others = [k for k in range(len(names)) if k != r]
        diffs = pd.DataFrame(
            {
                "term": [f"{names[k]} - {ref}" for k in others],
                "estimate": est[others] - est[r],
                "std_error": np.sqrt(var[others] + var[r]),
                "n": rows["n"].to_numpy()[others] + rows["n"].to_numpy()[r],
            }
        )
        rows = pd.concat([rows, diffs], ignore_index=True)
    rows["statistic"] = rows["estimate"] / rows["std_error"]
    rows["p_value"] = np.where(
        rows["term"].str.startswith("RMST["), np.nan, 2 * stats.norm.sf(np.abs(rows["statistic"]))
    )
    rows.loc[rows["term"].str.startswith("RMST["), "statistic"] = np.nan
    rows["conf_low"] = rows["estimate"] - z * rows["std_error"]
    rows["conf_high"] = rows["estimate"] + z * rows["std_error"]
    rows["tau"] = tau
    method = {
        "estimator": f"restricted mean survival time to tau={tau:g} (area under Kaplan-Meier)",
        "se_type": "Klein-Moeschberger / R survfit rmean (Greenwood-type delta method); "
        "differences: independent groups",
        "ci_method": f"Wald normal {100 * (1 - alpha):.0f}%",
        "design": "by " + " x ".join(group) if group else "one group",
        "alpha": alpha,
        "tau": tau,
        "notes": "p_value tests difference = 0",
    }
    return EffectTable(
        rows,
        method,
        title=f"RMST to {tau:g}: {duration}",
        extra={"n_input": prep.n_input, "n_dropped": prep.n_dropped, "n_timefix": prep.n_timefix},
    )


def _rmst_one(time, surv, hh, tau):
    """R survival:::survmean's rmean and its variance for one curve (start time 0)."""
    keep = time <= tau
    tt = np.concatenate([time[keep], [tau]])
    ss = np.concatenate([surv[keep], [surv[keep][-1] if keep.any() else 1.0]])
    hk = np.concatenate([hh[keep], [0.0]])
    delta = np.diff(np.concatenate([[0.0], tt]))
    rect = delta * np.concatenate([[1.0], ss[:-1]])
    mean = rect.sum()
    # area from tt[j] to tau, j = 0..n-2, = sum of rect[j+1:]
    area_after = np.cumsum(rect[::-1])[::-1]
    A = area_after[1:]
    var = float(np.sum(A**2 * hk[:-1]))
    return float(mean), var
