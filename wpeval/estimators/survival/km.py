"""Kaplan-Meier curves with case weights and delayed entry; re-exports the shared block helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._blocks import _group_cumprod, _group_cumsum, blocks
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
from wpeval.estimators.survival._weighting import RiskSets, prepare_weighted, robust_choice


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
    weights: str | None = None,
    entry: str | None = None,
    robust: bool | None = None,
    conf_type: str = "log",
    alpha: float = 0.05,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> SurvivalCurves:
    """Kaplan-Meier curves, optionally case-weighted and with delayed entry, as R ``survfit``.

    Estimand: the survival function ``S(t) = P(T > t)`` in each curve (group x stratum),
    assuming censoring (and, with ``entry``, left truncation) independent of the event time
    within the curve; with ``weights`` (e.g. ``1 / allocation_prob``) ``S`` is that of the
    weighted (pseudo-)population. Estimator ``S(t) = prod_{t_j <= t} (1 - d_j / Y_j)`` with
    ``d_j`` the (weighted) events at ``t_j`` and ``Y_j`` the (weighted) number at risk: rows
    with ``entry < t_j <= duration`` (``entry`` = 0 when not given).

    Variance. Unweighted and ``robust`` not True (Greenwood):
    ``Var(-log S(t)) = sum_{t_j <= t} d_j / (Y_j (Y_j - d_j))`` (``se_cumhaz``) and
    ``SE(S) = S * se_cumhaz`` (``std_err``); where ``Y_j = d_j`` the curve drops to 0 and the
    variance is infinite (R gives ``Inf``; CI limits are then ``NaN``). With ``weights``
    (default ``robust=None`` -> True): the infinitesimal-jackknife (IJ) robust variance of R
    ``survfit(..., weights = w, robust = TRUE)`` with one cluster per row,
    ``Var(S(t)) = sum_i U_i(t)^2``, ``U_i(t) = w_i dS(t)/dw_i
    = -S(t) w_i (delta_i 1[x_i <= t] / (Y(x_i) - d(x_i)) - sum_{e_i < t_j <= min(t, x_i)}
    d_j / (Y_j (Y_j - d_j)))``; ``std_err = sqrt(Var)`` (R's ``std.err`` for weighted curves,
    where R sets ``logse = FALSE``) and ``se_cumhaz = std_err / S`` (0 where ``std_err`` is 0,
    as R ``survfit_confint``). R ``survfit`` picks this variance by default only when some
    weight is not a whole number; with whole-number weights it treats them as frequency
    weights (Greenwood on weighted counts): ask for that with ``robust=False``. Inverse
    allocation-probability weights (2, 3, ...) are *not* frequency weights, hence the default
    here. ``robust=True`` without weights gives R's unweighted IJ variance. Rows of one person
    are not clustered (R's default with (start, stop] data and no ``id``).

    Pointwise CIs: ``"log"`` (R default) ``exp(log S -/+ z se_cumhaz)``, upper capped at 1;
    ``"log-log"`` ``exp(-exp(log(-log S) -/+ z se_cumhaz / log S))``; ``"plain"``
    ``S -/+ z std_err``. Hand-written (not lifelines' ``KaplanMeierFitter``) to fit hundreds
    of curves in one vectorised pass and to give R's CI types, median CI and at-risk tables:
    in one run of ``benchmarks/survival.py`` at 2M rows (2 shared cores, load average 1.1)
    the 42 weighted contract curves with IJ SEs took 0.24 s in one call, against 1.53 s for
    lifelines fitting them unweighted one contract at a time (6.3x; 2.84 s weighted), with
    curves equal to lifelines' weighted ones within 1.2e-14.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit (or per (entry, duration] interval with ``entry``).
    duration : str
        Time to event or censoring (>= 0).
    event : str
        1 = event observed at ``duration``, 0 = censored.
    group : str or list of str, optional
        Columns defining the compared groups (e.g. ``"prime"``).
    strata : str or list of str, optional
        Further columns: a separate curve for every group x stratum combination (e.g. the
        prime curves within each CPA with ``group="prime", strata="cpa"``).
    weights : str, optional
        Column of case weights (finite, >= 0, e.g. ``1 / allocation_prob``). A missing,
        negative or infinite weight raises :class:`~wpeval.exceptions.DataContractError`.
        The table then has ``wt_risk``, ``wt_event``, ``wt_censor`` (R's weighted
        ``n.risk``, ``n.event``, ``n.censor``) next to the row counts.
    entry : str, optional
        Column of entry times (delayed entry / left truncation, or the start of (start, stop]
        rows): a row is at risk on ``(entry, duration]``. ``entry >= duration`` or a missing
        entry raises :class:`~wpeval.exceptions.DataContractError`.
    robust : bool, optional
        ``None`` (default): IJ variance with weights, Greenwood without. ``True``: IJ.
        ``False``: Greenwood (weights as frequency weights).
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
        ``.tidy()`` (curve table), ``.survival_at(t)``, ``.median()``, ``.at_risk(times)``
        (row counts). ``method["rows_dropped"]`` counts rows dropped for missing values in
        ``duration``, ``event``, ``group`` or ``strata``.
    """
    alpha = check_alpha(alpha)
    conf_type = check_conf_type(conf_type)
    robust = robust_choice(robust, weights)
    cols = as_list(group) + as_list(strata)
    z = zcrit(alpha)
    if weights is None and entry is None and not robust:  # the original, unweighted path
        prep = prepare(
            data, duration, event, used=cols, id_col=id_col, what="kaplan_meier", timefix=timefix
        )
        code, labels = codes(prep.frame, cols)
        b = km_blocks(prep.duration, prep.event, code)
        se = np.sqrt(b["greenwood"])
        surv = b["surv"]
        with np.errstate(invalid="ignore"):
            std_err = np.where(np.isinf(se), np.nan, surv * se)
        counts = {k: b[k] for k in ("code", "time", "n_risk", "n_event", "n_at")}
        w = None
    else:
        prep, w, code, labels, rs = risk_sets(
            data, duration, event, cols, weights, entry, id_col, "kaplan_meier", timefix
        )
        surv = rs.km()
        if robust:
            std_err = np.sqrt(rs.ij_km(surv))
            with np.errstate(divide="ignore", invalid="ignore"):
                se = np.where(std_err == 0, 0.0, std_err / surv)
        else:
            se = np.sqrt(rs.greenwood())
            with np.errstate(invalid="ignore"):
                std_err = np.where(np.isinf(se), np.nan, surv * se)
        counts = rs.counts()
    lo, hi = ci_surv(surv, se, conf_type, z)
    table, curves = curve_frames(labels, code, prep.event, counts, w)
    table["surv"] = surv
    table["std_err"] = std_err
    table["se_cumhaz"] = se
    table["conf_low"] = lo
    table["conf_high"] = hi
    method = curve_method(
        "Kaplan-Meier product-limit" + design_words(weights, entry),
        se_words(robust, weights, "Greenwood"),
        f"pointwise {100 * (1 - alpha):.0f}% '{conf_type}' (R survfit conf.type)",
        cols,
        alpha=alpha,
        conf_type=conf_type,
        weights=weights,
        entry=entry,
        prep=prep,
        notes="median CI from the pointwise CI curves (R print.survfit)",
    )
    return SurvivalCurves(
        table=table,
        curves=curves,
        method=method,
        title=f"Kaplan-Meier: {duration}",
        extra=prep_extra(prep),
    )


def risk_sets(data, duration, event, cols, weights, entry, id_col, what, timefix):
    """Rows prepared for the weighted / delayed-entry curves (shared with Nelson-Aalen):
    ``(prep, w, code, labels, RiskSets)``."""
    prep, w = prepare_weighted(
        data,
        duration,
        event,
        used=cols,
        weights=weights,
        entry=entry,
        id_col=id_col,
        what=what,
        timefix=timefix,
    )
    code, labels = codes(prep.frame, cols)
    return prep, w, code, labels, RiskSets(prep.duration, prep.event, code, w, prep.entry)


def curve_method(estimator, se_type, ci_method, cols, *, prep, notes, **options) -> dict:
    """The ``method`` dict of a curve result (shared with Nelson-Aalen); ``options`` are
    ``alpha``, ``conf_type``, ``weights``, ``entry``."""
    return {
        "estimator": estimator,
        "se_type": se_type,
        "ci_method": ci_method,
        "design": ("separate curves by " + " x ".join(cols)) if cols else "one curve",
        **options,
        "rows_dropped": prep.n_dropped,
        "notes": notes,
    }


def prep_extra(prep) -> dict:
    """Row counts of the preparation, for a result's ``extra``."""
    return {"n_input": prep.n_input, "n_dropped": prep.n_dropped, "n_timefix": prep.n_timefix}


def curve_frames(labels, code, event, counts, w=None):
    """The curve table's leading columns and the per-curve frame (shared with Nelson-Aalen)."""
    names = label_strings(labels)
    bc = counts["code"]
    table = pd.DataFrame({"curve": np.asarray(names, dtype=object)[bc]})
    for c in labels.columns:
        table[c] = labels[c].to_numpy()[bc]
    table["time"] = counts["time"]
    table["n_risk"] = counts["n_risk"]
    table["n_event"] = counts["n_event"].astype(np.int64)
    table["n_censor"] = counts["n_at"] - table["n_event"].to_numpy()
    if w is not None:
        table["wt_risk"] = counts["w_risk"]
        table["wt_event"] = counts["w_event"]
        table["wt_censor"] = counts["w_at"] - counts["w_event"]
    curves = labels.copy()
    curves.insert(0, "curve", names)
    curves["n"] = np.bincount(code, minlength=len(labels))
    curves["events"] = np.bincount(code, weights=event, minlength=len(labels)).astype(int)
    if w is not None:
        curves["sum_weights"] = np.bincount(code, weights=w, minlength=len(labels))
        curves["wt_events"] = np.bincount(code, weights=w * event, minlength=len(labels))
    return table, curves


def design_words(weights, entry) -> str:
    """Suffix for the estimator name: case weights and delayed entry."""
    out = f", case-weighted ({weights})" if weights else ""
    if entry:
        out += f", delayed entry (at risk on ({entry}, duration])"
    return out


def se_words(robust: bool, weights, model_based: str) -> str:
    """Name of the variance used."""
    if robust:
        return "IJ robust (infinitesimal jackknife, one cluster per row; R survfit robust=TRUE)"
    if weights:
        return f"{model_based} on weighted counts (weights as frequency weights; R robust=FALSE)"
    return model_based
