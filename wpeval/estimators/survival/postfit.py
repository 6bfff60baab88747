"""After a Cox fit: baseline cumulative hazard, predicted and adjusted survival curves.

All three functions take the result of :func:`wpeval.estimators.survival.cox` and recompute the
risk-set sums at the fitted coefficients (:mod:`._postcore`); they agree with R ``survival``
3.5 ``basehaz``, ``survfit.coxph(fit, newdata=)`` and averaged ``survfit`` curves to ~1e-12
(tests/reference/survival_postfit.R).

Hazard increments (per stratum, at each event time ``t_j`` with ``d_j`` tied deaths of total
weight ``wd_j``): Breslow ``wd_j / S0_j``; Efron (R ``ctype = 2``, the default after an Efron
fit) ``sum_{k<d_j} (wd_j/d_j) / (S0_j - (k/d_j) D0_j)``, ``S0_j`` the weighted sum of
``exp(x' beta)`` over the risk set and ``D0_j`` over the deaths at ``t_j``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import (
    check_alpha,
    check_conf_type,
    ci_surv,
    label_strings,
    zcrit,
)
from wpeval.estimators.survival._curves import SurvivalCurves
from wpeval.estimators.survival._postcore import cox_data
from wpeval.estimators.survival._postfit_grid import centred_risk, coef_vcov, fit_grid
from wpeval.estimators.survival._postfit_newdata import avg_weights, encode_rows
from wpeval.estimators.survival._postfit_standardise import (
    level_rows,
    standardised_survival,
    standardised_table,
)
from wpeval.exceptions import ParameterError

__all__ = ["adjusted_survival", "baseline_hazard", "predict_survival"]


# -- baseline hazard ---------------------------------------------------------------------------
def baseline_hazard(result, *, centered: bool = False) -> pd.DataFrame:
    """Baseline cumulative hazard of a Cox fit, per stratum (R ``basehaz``).

    Estimand: ``H_s(t) = int_0^t h_s(u) du`` of the stratum-``s`` baseline hazard at covariates
    ``x = 0`` (``centered=False``, R ``basehaz(fit, centered = FALSE)``) or at the weighted
    covariate means of the fitted rows (``centered=True``; note R's ``centered = TRUE`` uses
    ``fit$means``, which since survival 3.0 are 0 for 0/1 covariates: pass those rows to
    :func:`predict_survival` instead to reproduce it).

    Estimator: Breslow (``ties="breslow"``) or Efron (``ties="efron"``, R ``ctype = 2``)
    cumulative hazard at the fitted coefficients, ``H_s(t) = sum_{t_j <= t} dH_j``
    (increments in the module docstring). No standard error here: use
    :func:`predict_survival`, whose SE includes the coefficients' variance.

    Parameters
    ----------
    result : EffectTable
        The result of :func:`wpeval.estimators.survival.cox`.
    centered : bool
        Hazard at the weighted covariate means instead of at zero.

    Returns
    -------
    pandas.DataFrame
        One row per stratum and distinct exit time (event or censoring, as R): the strata
        columns, ``time``, ``n_risk`` (weighted), ``n_event``, ``hazard`` (increment) and
        ``cumhaz``; ``.attrs["method"]`` names the estimator.
    """
    if not isinstance(centered, bool):
        raise ParameterError("centered must be True or False")
    fd, rs, g = fit_grid(result)
    shift = 1.0 if centered else float(np.exp(-rs.center @ rs.beta))
    lab = fd.strata_labels.reset_index(drop=True)
    out = lab.iloc[g.stratum].reset_index(drop=True) if fd.strata else pd.DataFrame(index=g.time)
    out = out.reset_index(drop=True)
    out["time"] = g.time
    out["n_risk"] = g.n_risk
    out["n_event"] = g.n_event
    out["hazard"] = g.haz * shift
    out["cumhaz"] = g.cumhaz * shift
    out.attrs["method"] = (
        f"{'Efron' if fd.ties == 'efron' else 'Breslow'} baseline cumulative hazard of a Cox "
        f"fit at {'the weighted covariate means' if centered else 'covariates = 0'}, per stratum "
        "(R basehaz / survfit.coxph)"
    )
    return out


# -- predicted curves --------------------------------------------------------------------------
def predict_survival(
    result, newdata: pd.DataFrame, *, alpha: float = 0.05, conf_type: str = "log"
) -> SurvivalCurves:
    """Predicted survival curves for given covariate values (R ``survfit(fit, newdata=)``).

    Estimand: ``S(t | x) = exp(-H_s(t) exp(x' beta))`` for each row of ``newdata`` (in its own
    stratum ``s`` when the model is stratified), under the fitted proportional hazards model.

    Variance (Tsiatis 1981, as R ``survfit.coxph``'s ``std.err``, the SE of the cumulative
    hazard ``H(t | x)``): ``var H(t|x) = r^2 [sum_{t_j <= t} v_j + d(t)' V d(t)]`` with
    ``r = exp(x' beta)``, ``v_j`` the variance increment of the baseline hazard (Breslow
    ``wd_j / S0_j^2``; Efron ``sum_k (wd_j/d_j) / den_jk^2``), ``d(t) = x H_s(t) -
    sum_{t_j <= t} xbar_j dH_j`` (``xbar_j`` the risk-set mean of ``x``, Efron-adjusted) and
    ``V`` the coefficients' covariance (robust when the fit was robust, as R's ``fit$var``).
    The SE of ``S`` is ``S * std.err``; pointwise CIs as R ``conf.type`` (``"log"`` default:
    ``exp(log S -/+ z std.err)``).

    Parameters
    ----------
    result : EffectTable
        The result of :func:`wpeval.estimators.survival.cox`.
    newdata : pandas.DataFrame
        One row per curve with every covariate column (categorical values among the fitted
        levels) and, for a stratified model, the strata columns.
    alpha : float
        1 - confidence level of the pointwise intervals.
    conf_type : {"log", "log-log", "plain"}
        Scale of the pointwise intervals (R ``conf.type``).

    Returns
    -------
    SurvivalCurves
        One curve per newdata row (``curve`` = ``"row=<index>"`` plus the stratum), at every
        distinct exit time of the row's stratum: ``surv``, ``cumhaz``, ``se_cumhaz`` (R
        ``std.err``), ``std_err`` (SE of ``surv``), ``conf_low``, ``conf_high``.

    Raises
    ------
    DataContractError
        A covariate or strata column is missing, has missing values or an unknown level.
    """
    alpha = check_alpha(alpha)
    check_conf_type(conf_type)
    fd, rs, g = fit_grid(result)
    X, code = encode_rows(fd, newdata, "newdata")
    Xk, r = centred_risk(fd, rs, X)
    V = coef_vcov(fd)
    z = zcrit(alpha)
    slabels = label_strings(fd.strata_labels.reset_index(drop=True)) if fd.strata else None
    n_rows = np.bincount(fd.strata_codes, minlength=len(fd.strata_labels))
    parts, curves = [], []
    for i in range(len(X)):
        sl = g.rows(code[i])
        H = g.cumhaz[sl] * r[i]
        dt = np.outer(g.cumhaz[sl], Xk[i]) - g.xcum[sl]
        var = (g.cumvar[sl] + np.einsum("tj,jk,tk->t", dt, V, dt)) * r[i] ** 2
        se = np.sqrt(var)
        surv = np.exp(-H)
        lo, hi = ci_surv(surv, se, conf_type, z)
        label = f"row={newdata.index[i]}" + (f", {slabels[code[i]]}" if slabels else "")
        parts.append(
            pd.DataFrame(
                {
                    "curve": label,
                    "time": g.time[sl],
                    "n_risk": g.n_risk[sl],
                    "n_event": g.n_event[sl],
                    "n_censor": g.n_censor[sl],
                    "surv": surv,
                    "cumhaz": H,
                    "std_err": surv * se,
                    "se_cumhaz": se,
                    "conf_low": lo,
                    "conf_high": hi,
                }
            )
        )
        curves.append(
            {
                "curve": label,
                "n": int(n_rows[code[i]]),  # fitted rows of the stratum
                "events": float(g.n_event[sl].sum()),
            }
        )
    method = {
        "estimator": f"Cox model predicted survival exp(-H_s(t) exp(x'beta)) "
        f"({fd.ties} baseline hazard; R survfit.coxph(newdata=))",
        "se_type": "Tsiatis: baseline-hazard variance plus d(t)' V d(t) for the coefficients "
        "(R survfit.coxph std.err)",
        "ci_method": f"pointwise {100 * (1 - alpha):.0f}% {conf_type} (R conf.type)",
        "design": "conditional on the covariate values given; proportional hazards",
        "alpha": alpha,
        "conf_type": conf_type,
    }
    return SurvivalCurves(
        pd.concat(parts, ignore_index=True),
        pd.DataFrame(curves),
        method,
        title="Predicted survival from a Cox model",
    )


# -- adjusted (directly standardised) curves ---------------------------------------------------
def adjusted_survival(
    result,
    group: str,
    *,
    data: pd.DataFrame | None = None,
    levels=None,
    weights: str | None = None,
    alpha: float = 0.05,
    conf_type: str = "log",
    chunk: int = 4096,
) -> SurvivalCurves:
    """Covariate-adjusted survival curves by direct standardisation over a reference population.

    Estimand, for each level ``g`` of ``group`` (e.g. the prime): ``S_g(t) = (1/m) sum_i
    S(t | x_i with group set to g)``, the survival the reference population (e.g. one CPA's
    referrals) would have had if every member had been in ``g``, under the fitted Cox model
    (proportional hazards; each row keeps its own stratum's baseline hazard, so a ``group``
    that is a strata column switches the baseline). R: the row means of
    ``survfit(fit, newdata = ref with group = g)$surv`` (``adjustedCurves`` "direct" method).

    Variance (delta method, the reference rows' covariates held fixed): with ``r_i`` the
    risk score, ``S_i`` the row's curve and ``d_i(t) = x_i H_s(t) - sum xbar_j dH_j`` as in
    :func:`predict_survival`, ``cov(H_i, H_k) = r_i r_k [1{s_i = s_k} sum_{t_j<=t} v_j +
    d_i' V d_k]`` (Tsiatis, as R ``survfit.coxph``, extended to pairs of rows), so ``var S_g(t)
    = sum_s (sum_{t_j<=t} v_{sj}) (mean_i 1{s_i=s} S_i r_i)^2 + a(t)' V a(t)`` with ``a(t) =
    mean_i S_i r_i d_i(t)``. The sampling variability of the reference population itself is
    not included (its covariates are taken as given). Pointwise CIs on the ``conf_type`` scale
    with the SE of ``-log S_g`` = ``se(S_g) / S_g``. For one reference row this is exactly
    :func:`predict_survival`'s SE.

    Parameters
    ----------
    result : EffectTable
        The result of :func:`wpeval.estimators.survival.cox`.
    group : str
        A covariate of the model or one of its strata columns.
    data : pandas.DataFrame, optional
        Reference population (rows with every covariate and strata column); default the rows
        the model was fitted on.
    levels : list, optional
        Levels of ``group`` to standardise to (default: those in the fitted data, sorted).
    weights : str, optional
        Column of the reference rows with non-negative weights (e.g. to standardise to a
        population the reference sample represents): ``S_g(t) = sum_i a_i S_i(t)``,
        ``a_i = w_i / sum w``; the variance formula uses ``a_i`` in place of ``1/m``.
    alpha : float
        1 - confidence level of the pointwise intervals.
    conf_type : {"log", "log-log", "plain"}
        Scale of the pointwise intervals.
    chunk : int
        Reference rows processed at once (memory ``chunk x`` number of times).

    Returns
    -------
    SurvivalCurves
        One curve per level (``curve`` = ``"<group>=<level>"``) on the distinct exit times of
        the strata of the reference rows: ``surv``, ``std_err``, ``se_cumhaz``, ``conf_low``,
        ``conf_high``; ``n_risk`` / ``n_event`` are those of the fitted data at those times
        (summed over strata).

    Raises
    ------
    ParameterError
        ``group`` is not a covariate or strata column; bad ``alpha``, ``conf_type``, ``chunk``.
    DataContractError
        The reference rows lack a column or have unknown levels / strata.
    """
    alpha = check_alpha(alpha)
    check_conf_type(conf_type)
    fd = cox_data(result)
    ref = _reference_rows(fd, group, data, chunk)
    avg = avg_weights(ref, weights)
    if levels is None:
        levels = sorted(pd.unique(fd.frame[group]).tolist())
    fd, rs, g = fit_grid(result)
    V = coef_vcov(fd)
    z = zcrit(alpha)
    parts, curves = [], []
    for lev in levels:
        X, code = level_rows(fd, ref, group, lev)
        used, times, mean_s, var = standardised_survival(fd, rs, g, V, X, code, avg, chunk)
        label = f"{group}={lev}"
        parts.append(standardised_table(label, g, used, times, mean_s, var, conf_type, z))
        curves.append({"curve": label, "n": len(X), "events": float(fd.event.sum())})
    return SurvivalCurves(
        pd.concat(parts, ignore_index=True),
        pd.DataFrame(curves),
        _adjusted_method(fd, group, len(ref), weights, alpha, conf_type),
        title=f"Adjusted survival by {group}",
    )


def _reference_rows(fd, group, data, chunk) -> pd.DataFrame:
    """Check ``group`` and ``chunk``; the reference rows (default the fitted rows)."""
    if group not in fd.covariates and group not in fd.strata:
        raise ParameterError(
            f"group {group!r} is neither a covariate ({fd.covariates}) nor a strata column "
            f"({fd.strata}) of the model"
        )
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ParameterError(f"chunk must be a positive integer, got {chunk!r}")
    ref = fd.frame if data is None else data
    if not isinstance(ref, pd.DataFrame) or len(ref) == 0:
        raise ParameterError("data must be a non-empty pandas DataFrame")
    return ref


def _adjusted_method(fd, group, n_ref, weights, alpha, conf_type) -> dict:
    return {
        "estimator": "direct standardisation: mean over the reference rows of Cox-predicted "
        f"survival with {group} set to each level ({fd.ties} baseline hazard)",
        "se_type": "delta method conditional on the reference rows' covariates (Tsiatis "
        "baseline-hazard variance with between-row covariances plus a' V a for the "
        "coefficients); reference-population sampling variability not included",
        "ci_method": f"pointwise {100 * (1 - alpha):.0f}% {conf_type} on se(S)/S",
        "design": f"reference population of {n_ref} rows"
        + (f" weighted by {weights}" if weights else "")
        + "; proportional hazards",
        "alpha": alpha,
        "conf_type": conf_type,
    }
