"""Competing risks: Aalen-Johansen cumulative incidence, cause-specific Cox and Fine-Gray."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import (
    Design,
    as_list,
    check_alpha,
    codes,
    label_strings,
    prepare,
    zcrit,
)
from wpeval.estimators.survival._coxengine import CoxEngine
from wpeval.estimators.survival._curves import CumulativeIncidence
from wpeval.estimators.survival.cox import TIES, _control, _fit_note, _result, fit_engine
from wpeval.estimators.survival.km import _group_cumprod, _group_cumsum, blocks
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
    b = blocks(prep.duration, (ev > 0).astype(np.float64), code)
    B = len(b["time"])
    cc = b["code"]
    Y = b["n_risk"].astype(np.float64)
    d = b["n_event"]
    surv = _group_cumprod(1.0 - d / Y, cc)
    first = np.r_[True, cc[1:] != cc[:-1]]
    s_minus = np.where(first, 1.0, np.r_[1.0, surv[:-1]])
    h = d / Y
    A = s_minus / Y
    with np.errstate(divide="ignore", invalid="ignore"):
        K = np.where(surv > 0, s_minus / (surv * Y), 0.0)
    Q = _group_cumsum(K * h, cc)
    n_after = Y - b["n_at"]
    ncens = b["n_at"] - d
    z = zcrit(alpha)
    pieces, curve_rows = [], []
    for k in causes:
        dk = np.bincount(b["row_block"], weights=(ev == k).astype(np.float64), minlength=B)
        do = d - dk
        hk = dk / Y
        F = _group_cumsum(s_minus * hk, cc)
        P = _group_cumsum(A * hk, cc)
        R = _group_cumsum(F * K * h, cc)
        c_cens, e_cens = -P - R, Q
        c_k, e_k = A + F * K - P - R, -K + Q
        c_o, e_o = F * K - P - R, -K + Q
        C2 = _group_cumsum(ncens * c_cens**2 + dk * c_k**2 + do * c_o**2, cc)
        CE = _group_cumsum(ncens * c_cens * e_cens + dk * c_k * e_k + do * c_o * e_o, cc)
        E2 = _group_cumsum(ncens * e_cens**2 + dk * e_k**2 + do * e_o**2, cc)
        v_after = -(P - F * Q + R)
        var = n_after * v_after**2 + C2 + 2 * F * CE + F**2 * E2
        se = np.sqrt(np.clip(var, 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            if conf_type == "log":
                pp = np.where(F == 0, np.nan, F)
                lo = pp * np.exp(-z * se / pp)
                hi = np.minimum(pp * np.exp(z * se / pp), 1.0)
            else:
                lo = np.clip(F - z * se, 0, 1)
                hi = np.clip(F + z * se, 0, 1)
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
        pieces.append(tab)
        cr = labels.copy()
        cr.insert(0, "curve", names)
        cr["cause"] = int(k)
        cr["n"] = np.bincount(code, minlength=len(labels))
        cr["events"] = np.bincount(code, weights=(ev == k), minlength=len(labels)).astype(int)
        curve_rows.append(cr)
    table = pd.concat(pieces, ignore_index=True)
    table = table.sort_values(
        ["curve", "cause"],
        kind="stable",
        key=lambda s: s.map({nm: i for i, nm in enumerate(names)}) if s.name == "curve" else s,
    ).reset_index(drop=True)
    curves = pd.concat(curve_rows, ignore_index=True)
    method = {
        "estimator": "Aalen-Johansen cumulative incidence (competing causes "
        f"{[int(c) for c in causes]}; 0 = censored)",
        "se_type": "infinitesimal jackknife (as R multi-state survfit)",
        "ci_method": f"pointwise {100 * (1 - alpha):.0f}% '{conf_type}'",
        "design": ("separate curves by " + " x ".join(cols)) if cols else "one curve",
        "alpha": alpha,
        "conf_type": conf_type,
    }
    return CumulativeIncidence(
        table=table,
        curves=curves,
        method=method,
        title=f"Cumulative incidence: {duration} by {event_type}",
        extra={"n_input": prep.n_input, "n_dropped": prep.n_dropped, "n_timefix": prep.n_timefix},
    )


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
    from wpeval.estimators.survival.cox import cox

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
    ev = prep.event
    if not np.any(ev == cause):
        raise DesignError(f"no events of cause {cause} in {event_type!r}")
    if model == "cause-specific":
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
    frame = prep.frame
    design = Design(frame, covariates)
    names = design.names
    s_codes, s_labels = codes(frame, strata)
    T = prep.duration
    gminus = _censoring_left_limits(T, ev, s_codes)
    competing = (ev != 0) & (ev != cause)
    tail = np.where(competing, 1.0 / gminus["at_row"], 0.0)

    n = len(frame)
    engine = CoxEngine(
        design.build, T, (ev == cause).astype(np.int64), s_codes, np.ones(n), ties=ties
    )
    del design
    engine.set_tail(tail, gminus["lookup"](engine.ev_stratum, engine.ev_time))
    # one row per unit: R's cluster = id is the per-row sandwich
    fit = fit_engine(engine, names, robust=True, control=control, singular=singular)
    method = {
        "estimator": f"Fine-Gray subdistribution hazards for cause {cause} (censoring-weighted "
        f"Cox, {ties} ties; as R finegray + coxph)",
        "se_type": "cluster-robust sandwich over units (R coxph(weights=fgwt, cluster=id)); "
        "ignores estimation of the censoring distribution",
        "ci_method": f"Wald normal {100 * (1 - alpha):.0f}% on log subdistribution HR",
        "design": (
            f"stratified by {' x '.join(strata)} ({len(s_labels)} strata; censoring "
            "distribution within strata)"
            if strata
            else "unstratified"
        ),
        "alpha": alpha,
        "cause": cause,
        "n_events": fit["n_events"],
        "n_competing": int(competing.sum()),
        "notes": "; ".join(
            ["estimate = log subdistribution hazard ratio", _fit_note(control, timefix)]
            + fit["notes"]
        ),
    }
    res = _result(fit, alpha, method, n, prep, n, title=f"Fine-Gray: {event_type} = {cause}")
    return type(res)(res.table.assign(cause=cause), res.method, title=res.title, extra=res.extra)


def _censoring_left_limits(T, ev, strata):
    """Censoring-distribution Kaplan-Meier left limits ``G(t-)`` within strata (R finegray).

    At a time ``u`` the censorings at ``u`` happen after the events at ``u``:
    ``G(u) = prod_{c <= u} (1 - ncens_c / (Y_c - d_c))``. Returns ``G(T_i-)`` for every row and
    a lookup ``(stratum, time) -> G(time-)`` for event times.
    """
    b = blocks(T, (ev > 0).astype(np.float64), strata)
    cc = b["code"]
    ncens = b["n_at"] - b["n_event"]
    at_risk_c = b["n_risk"] - b["n_event"]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(ncens > 0, 1.0 - ncens / at_risk_c, 1.0)
    G = _group_cumprod(factor, cc)
    first = np.r_[True, cc[1:] != cc[:-1]]
    Gm = np.where(first, 1.0, np.r_[1.0, G[:-1]])
    at_row = Gm[b["row_block"]]
    if np.any(at_row <= 0):  # pragma: no cover - G(t-) > 0 at any observed time
        raise DesignError("censoring distribution reaches 0 before an event time")
    bt, bs = b["time"], cc

    def lookup(stratum, time):
        # blocks are sorted by (stratum, time); find the block of each (stratum, time)
        pos = np.empty(len(time), dtype=np.int64)
        starts = np.searchsorted(bs, np.arange(bs.max() + 2), side="left")
        for s in np.unique(stratum):
            m = stratum == s
            a, e = starts[s], starts[s + 1]
            pos[m] = a + np.searchsorted(bt[a:e], time[m], side="left")
        return Gm[pos]

    return {"at_row": at_row, "lookup": lookup}
