"""Restricted mean survival time (area under the Kaplan-Meier curve) and its differences."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._common import (
    as_list,
    check_alpha,
    codes,
    label_strings,
    prepare,
    zcrit,
)
from wpeval.estimators.survival.km import km_blocks
from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.results import EffectTable


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
