"""Kaplan-Meier curves (with case weights and delayed entry) and the shared risk-set blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
