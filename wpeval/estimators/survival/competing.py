"""Competing risks: Aalen-Johansen cumulative incidence, cause-specific Cox and Fine-Gray."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._aalen_johansen import AalenJohansen, cif_limits
from wpeval.estimators.survival._common import (
    as_list,
    check_alpha,
    codes,
    label_strings,
    prepare,
    zcrit,
)
from wpeval.estimators.survival._curves import CumulativeIncidence
from wpeval.estimators.survival._finegray import fine_gray_fit
from wpeval.estimators.survival.cox import TIES, _control, _fit_note, _result
from wpeval.exceptions import DesignError, ParameterError

MODELS = ("fine-gray", "cause-specific")


def cumulative_incidence(
    data: pd.DataFrame,
    duration: str,
    event_type: str,
    *,
    group=None,
    alpha: float = 0.05,
    conf_type: str = "log",
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence functions for competing causes.

    Estimand: ``F_k(t) = P(T <= t, cause = k)`` for every cause ``k`` (e.g. 1 = job entry,
    2 = other exit; 0 = censored), assuming independent censoring. Estimator (Aalen-Johansen,
    equal to R ``survfit(Surv(time, factor(status)) ~ group)``):
    ``F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / Y_j`` with ``S`` the all-cause Kaplan-Meier.

    Variance: the infinitesimal jackknife (IJ), which is what R's multi-state ``survfit``
    reports: ``Var F_k(t) = sum_i (dF_k(t) / dw_i)^2``, the squared influence of each unit.
    The influence of unit ``i`` is ``c_i + F_k(t) e_i`` (units with exit <= t) or a common
    value (units still at risk), where ``c_i``, ``e_i`` are functions of the unit's exit time
    and cause built from cumulative sums of ``S(t-)/Y``, ``S(t-)/(S(t) Y)`` over event times, so
    the variance at all times needs O(n) work (no n x T matrix). CIs as R (``conf_type="log"``):
    ``F exp(-/+ z SE / F)``, upper capped at 1, undefined (NaN) where ``F = 0``; ``"plain"``:
    ``F -/+ z SE`` clipped to [0, 1].

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration : str
        Time to the first event (any cause) or censoring.
    event_type : str
        0 = censored, 1, 2, ... = cause of the event (e.g. ``entry_cause``).
    group : str or list of str, optional
        Columns defining separate curves.
    alpha : float
        1 - confidence level.
    conf_type : {"log", "plain"}
        Pointwise CI transformation.
    id_col : str, optional
        Column used to show example rows in error messages.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied, as R
        (``timefix = TRUE``, ``aeqSurv``); ``extra["n_timefix"]`` counts the rows changed.

    Returns
    -------
    CumulativeIncidence
        ``.tidy()`` (curve x cause x time table), ``.cif_at(times, cause=)``.
    """
    alpha = check_alpha(alpha)
    if conf_type not in ("log", "plain"):
        raise ParameterError(f"conf_type must be 'log' or 'plain', got {conf_type!r}")
    cols = as_list(group)
    prep = prepare(
        data,
        duration,
        event_type,
        used=cols,
        multi_state=True,
        id_col=id_col,
        what="cumulative_incidence",
        timefix=timefix,
    )
    code, labels = codes(prep.frame, cols)
    names = label_strings(labels)
    ev = prep.event
    causes = np.unique(ev[ev > 0])
    if len(causes) == 0:
        raise DesignError(f"no events in {event_type!r}: nothing to estimate")
    aj = AalenJohansen(prep.duration, ev, code)
    z = zcrit(alpha)
    pieces, curve_rows = [], []
    for k in causes:
        dk, F, se = aj.cause(ev, k)
        lo, hi = cif_limits(F, se, conf_type, z)
        pieces.append(_cause_table(aj, names, labels, k, dk, F, se, lo, hi))
        curve_rows.append(_cause_curves(names, labels, code, ev, k))
    return CumulativeIncidence(
        table=_sort_by_curve(pd.concat(pieces, ignore_index=True), names),
        curves=pd.concat(curve_rows, ignore_index=True),
        method=_cif_method(causes, cols, alpha, conf_type),
        title=f"Cumulative incidence: {duration} by {event_type}",
        extra={"n_input": prep.n_input, "n_dropped": prep.n_dropped, "n_timefix": prep.n_timefix},
    )


def _cause_table(aj, names, labels, k, dk, F, se, lo, hi) -> pd.DataFrame:
    """One cause's rows of the curve x cause x time table."""
    cc, b = aj.cc, aj.b
    tab = pd.DataFrame({"curve": np.asarray(names, dtype=object)[cc]})
    for c in labels.columns:
        tab[c] = labels[c].to_numpy()[cc]
    tab["cause"] = int(k)
    tab["time"] = b["time"]
    tab["n_risk"] = b["n_risk"]
    tab["n_event"] = dk.astype(np.int64)
    tab["cif"] = F
    tab["std_err"] = se
    tab["conf_low"] = lo
    tab["conf_high"] = hi
    return tab


def _cause_curves(names, labels, code, ev, k) -> pd.DataFrame:
    """One row per curve for cause ``k``: units and events of that cause."""
    cr = labels.copy()
    cr.insert(0, "curve", names)
    cr["cause"] = int(k)
    cr["n"] = np.bincount(code, minlength=len(labels))
    cr["events"] = np.bincount(code, weights=(ev == k), minlength=len(labels)).astype(int)
    return cr


def _sort_by_curve(table: pd.DataFrame, names) -> pd.DataFrame:
    """Curves in label order, causes ascending within a curve (stable: times stay sorted)."""
    return table.sort_values(
        ["curve", "cause"],
        kind="stable",
        key=lambda s: s.map({nm: i for i, nm in enumerate(names)}) if s.name == "curve" else s,
    ).reset_index(drop=True)


def _cif_method(causes, cols, alpha, conf_type) -> dict:
    return {
        "estimator": "Aalen-Johansen cumulative incidence (competing causes "
        f"{[int(c) for c in causes]}; 0 = censored)",
        "se_type": "infinitesimal jackknife (as R multi-state survfit)",
        "ci_method": f"pointwise {100 * (1 - alpha):.0f}% '{conf_type}'",
        "design": ("separate curves by " + " x ".join(cols)) if cols else "one curve",
        "alpha": alpha,
        "conf_type": conf_type,
    }


def competing_risks(
    data: pd.DataFrame,
    duration: str,
    event_type: str,
    covariates,
    *,
    cause: int = 1,
    model: str = "fine-gray",
    strata=None,
    ties: str = "efron",
    alpha: float = 0.05,
    id_col: str | None = "person_id",
    singular: str = "na",
    max_iter: int = 20,
    timefix: bool = True,
):
    """Regression for one cause in the presence of competing causes.

    ``model="cause-specific"``: Cox model for the cause-specific hazard of ``cause``, other
    causes treated as censoring (:func:`wpeval.estimators.survival.cox`, model-based SEs).
    Estimand: log cause-specific hazard ratios.

    ``model="fine-gray"``: Fine & Gray (1999) proportional subdistribution hazards. Estimand:
    log subdistribution hazard ratios, i.e. effects on the cumulative incidence ``F_k(t)``
    (``1 - F_k(t) = exp(-exp(x'beta) Lambda_k0(t))``). Fitted as R ``survival::finegray()`` +
    ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, cluster = id)``: a unit with a
    competing event at ``T_i`` stays in the risk sets after ``T_i`` with weight
    ``G(t-) / G(T_i-)``, ``G`` the Kaplan-Meier of the censoring distribution (within strata;
    censorings at ``t`` counted after events at ``t``). Here the expansion is not
    materialised: the weighted tails are added to the risk-set sums directly (see
    ``_coxengine``), which gives the same estimates in O(n) memory. Variance: R's
    cluster-robust sandwich over units (Efron-tie dfbetas summed over a unit's rows). Like R
    (and unlike ``cmprsk::crr``) it ignores the variability from estimating ``G``, which is
    usually small. Competing-risks regression is missing from lifelines (issue #619).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration : str
        Time to the first event or censoring.
    event_type : str
        0 = censored, 1, 2, ... = cause.
    covariates : str or list of str
        Covariate columns (strings / categoricals are dummy coded).
    cause : int
        The cause of interest (e.g. 1 = job entry).
    model : {"fine-gray", "cause-specific"}
        Subdistribution (Fine-Gray) or cause-specific hazards.
    strata : str or list of str, optional
        Strata: separate baseline hazards and (Fine-Gray) separate censoring distributions.
    ties : {"efron", "breslow"}
        Tie handling in the partial likelihood.
    alpha : float
        1 - confidence level.
    id_col : str, optional
        Column used to show example rows in error messages.
    singular : {"na", "error"}
        Aliased covariates: ``NaN`` with a warning (default, as R) or :class:`DesignError`.
    max_iter : int
        Newton iteration cap (R ``coxph.control(iter.max = 20)``); the fit uses the same
        Newton loop and convergence rule as :func:`cox`.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied (R
        ``finegray(timefix = TRUE)`` / ``aeqSurv``).

    Returns
    -------
    EffectTable
        As :func:`cox`: log hazard ratios (``estimate``) and ``hazard_ratio`` columns.
    """
    alpha = check_alpha(alpha)
    if model not in MODELS:
        raise ParameterError(f"model must be one of {MODELS}, got {model!r}")
    if ties not in TIES:
        raise ParameterError(f"ties must be one of {TIES}, got {ties!r}")
    covariates = as_list(covariates)
    strata = as_list(strata)
    control = _control(singular, max_iter)
    prep = prepare(
        data,
        duration,
        event_type,
        used=covariates + strata,
        multi_state=True,
        id_col=id_col,
        what="competing_risks",
        timefix=timefix,
    )
    if not np.any(prep.event == cause):
        raise DesignError(f"no events of cause {cause} in {event_type!r}")
    if model == "cause-specific":
        return _cause_specific(
            prep,
            duration,
            event_type,
            covariates,
            strata,
            cause,
            ties,
            alpha,
            id_col,
            singular,
            max_iter,
        )
    return _fine_gray(
        prep, event_type, covariates, strata, cause, ties, alpha, control, singular, timefix
    )


def _cause_specific(
    prep, duration, event_type, covariates, strata, cause, ties, alpha, id_col, singular, max_iter
):
    """Cox model for the cause-specific hazard: other causes censored (times after timefix)."""
    from wpeval.estimators.survival.cox import cox

    ev = prep.event
    frame = prep.frame.assign(_cs_event=(ev == cause).astype(np.int64))
    frame = frame.assign(**{duration: prep.duration})  # times after timefix
    res = cox(
        frame,
        duration,
        "_cs_event",
        covariates,
        strata=strata or None,
        ties=ties,
        alpha=alpha,
        id_col=id_col,
        singular=singular,
        max_iter=max_iter,
        timefix=False,
    )
    method = dict(res.method)
    method["estimator"] = (
        f"cause-specific Cox for cause {cause} (other causes censored), {ties} ties"
    )
    return type(res)(
        res.table.assign(cause=cause),
        method,
        title=f"Cause-specific Cox: {event_type} = {cause}",
        extra={
            **dict(res.extra),
            "n_input": prep.n_input,
            "n_dropped": prep.n_dropped,
            "n_timefix": prep.n_timefix,
        },
    )


def _fine_gray(
    prep, event_type, covariates, strata, cause, ties, alpha, control, singular, timefix
):
    """Fine-Gray fit (:mod:`._finegray`) and its result table with the method description."""
    fit, n_strata, n_competing = fine_gray_fit(
        prep, covariates, strata, cause, ties, control, singular
    )
    n = len(prep.frame)
    method = {
        "estimator": f"Fine-Gray subdistribution hazards for cause {cause} (censoring-weighted "
        f"Cox, {ties} ties; as R finegray + coxph)",
        "se_type": "cluster-robust sandwich over units (R coxph(weights=fgwt, cluster=id)); "
        "ignores estimation of the censoring distribution",
        "ci_method": f"Wald normal {100 * (1 - alpha):.0f}% on log subdistribution HR",
        "design": (
            f"stratified by {' x '.join(strata)} ({n_strata} strata; censoring "
            "distribution within strata)"
            if strata
            else "unstratified"
        ),
        "alpha": alpha,
        "cause": cause,
        "n_events": fit["n_events"],
        "n_competing": n_competing,
        "notes": "; ".join(
            ["estimate = log subdistribution hazard ratio", _fit_note(control, timefix)]
            + fit["notes"]
        ),
    }
    res = _result(fit, alpha, method, n, prep, n, title=f"Fine-Gray: {event_type} = {cause}")
    return type(res)(res.table.assign(cause=cause), res.method, title=res.title, extra=res.extra)
