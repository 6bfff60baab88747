"""The result of :func:`wpeval.estimators.survival.aft.aft`: coefficient table (with time
ratios), method description and ``extra`` (likelihoods, AIC/BIC, covariance, covariate coding
for prediction).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from wpeval._prepare import wald_table
from wpeval.estimators.survival._aft_likelihood import _W_NAME

SCALE_TERM = "Log(scale)"


def _result_parts(
    fit,
    null,
    names,
    spec,
    dist,
    alpha,
    prep,
    w,
    ev,
    duration,
    event,
    weights,
    covariates,
    notes,
    may_be_infinite,
):
    """``(table, method, title, extra)`` of an :class:`AFTResult`."""
    terms = names + ([] if dist == "exponential" else [SCALE_TERM])
    n = len(prep.frame)
    tab = _coef_table(terms, fit.theta, np.sqrt(np.diag(fit.V)), alpha, n)
    n_events = int(np.sum(ev))
    method = _method(fit, dist, alpha, prep, weights, n_events, notes)
    extra = {
        "distribution": dist,
        **_fit_summary(fit, null, terms, names, dist, n),
        "coef": fit.theta.tolist(),
        "iterations": fit.iterations,
        "converged": fit.converged,
        "may_be_infinite": list(may_be_infinite),
        "start": fit.start,
        "start_gap": fit.start_gap,
        "n_obs": n,
        "n_events": n_events,
        "n_events_weighted": float(np.sum(w * ev)),
        "n_input": prep.n_input,
        "n_dropped": prep.n_dropped,
        "dropped_by": dict(prep.dropped_by),
        "duration": duration,
        "event": event,
        "weights": weights,
        "covariates": list(covariates),
        "coding": [dict(s) for s in spec],
        "max_duration": float(np.max(prep.duration)),
    }
    title = f"{dist.capitalize()} AFT model for {duration} ({event})"
    return tab, method, title, extra


def _coef_table(terms, est, se, alpha, n) -> pd.DataFrame:
    """Wald table on the log-time scale, with time ratios for the covariate terms."""
    is_cov = np.array([t not in ("Intercept", SCALE_TERM) for t in terms])
    ratio = ("time_ratio", "tr_conf_low", "tr_conf_high")
    return wald_table(terms, est, se, alpha, n, ratio=ratio, ratio_rows=is_cov)


def _method(fit, dist, alpha, prep, weights, n_events, notes) -> dict:
    start_txt = {
        "lifelines": "lifelines AFT fitter for starting values, polished by Newton-Raphson",
        "newton": "Newton-Raphson from the intercept-only fit",
    }[fit.start]
    return {
        "estimator": f"parametric AFT ({dist}), maximum likelihood as R survreg",
        "se_type": "model-based (observed information)",
        "ci_method": f"Wald normal {100 * (1 - alpha):g}% on the log-time scale (Log(scale): log)",
        "design": (
            f"log T = x'beta + sigma W, W {_W_NAME[dist]}; independent rows, right censoring"
            + (f"; case weights {weights}" if weights else "")
        ),
        "alpha": alpha,
        "distribution": dist,
        "n_events": n_events,
        "n_dropped": prep.n_dropped,
        "dropped_by": dict(prep.dropped_by),
        "notes": "; ".join(
            [
                "estimate = coefficient on log time (time_ratio = exp(estimate)); "
                "Log(scale) = log sigma",
                f"{start_txt} (analytic score and information)",
            ]
            + notes
        ),
    }


def _fit_summary(fit, null, terms, names, dist, n) -> dict:
    """Likelihoods, information criteria, LR test against the intercept-only fit, scale and
    covariance (keys in the order of ``extra``)."""
    k = len(terms)
    lr = 2 * (fit.loglik - null.loglik)
    lr_df = len(names) - 1
    return {
        "loglik": fit.loglik,
        "loglik_null": null.loglik,
        "aic": -2 * fit.loglik + 2 * k,
        "bic": -2 * fit.loglik + math.log(n) * k,
        "n_params": k,
        "lr_test": {"statistic": lr, "df": lr_df, "p_value": float(stats.chi2.sf(lr, lr_df))}
        if lr_df
        else None,
        "scale": 1.0 if dist == "exponential" else float(math.exp(fit.theta[-1])),
        "vcov": fit.V.tolist(),
        "vcov_terms": terms,
    }
