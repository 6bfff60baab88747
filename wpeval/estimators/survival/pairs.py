"""Hazard ratios for every pair of levels of a factor in a Cox fit, to set beside the
design-based survival contrasts of :func:`wpeval.compare_primes_survival`."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.exceptions import ParameterError

__all__ = ["beside_blocked", "hazard_ratio_pairs"]


def _dummies(terms: list[str], factor: str) -> dict[str, str]:
    """Dummy term of each non-reference level (``factor[T.level]``), by level."""
    prefix = f"{factor}[T."
    return {t[len(prefix) : -1]: t for t in terms if t.startswith(prefix) and t.endswith("]")}


def hazard_ratio_pairs(result, factor: str, levels, *, alpha: float = 0.05) -> pd.DataFrame:
    """Hazard ratio of every pair of levels of ``factor`` from one Cox fit.

    Estimand: ``HR(A vs B) = exp(beta_A - beta_B)``, the ratio of the hazards of level A and
    level B at the same covariate values (and stratum), under the fitted proportional-hazards
    model; the reference level has ``beta = 0``. Variance (delta method on the log scale,
    exact for the linear contrast): ``Var(beta_A - beta_B) = V_AA + V_BB - 2 V_AB`` from the
    fit's covariance (model-based or robust, as the fit), Wald interval ``exp(d -/+ z SE)``
    and two-sided p-value. Every pair of a factor with k levels, A before B in ``levels``
    order, so the rows line up with :func:`wpeval.compare_primes_survival`'s ``A - B``.

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.cox` with ``factor`` among its covariates (treatment coded:
        terms ``factor[T.level]``).
    factor : str
        The categorical covariate.
    levels : sequence of str
        All levels of the factor, the reference included, in the order the pairs should
        take (e.g. sorted, as :func:`wpeval.compare_primes_survival`).
    alpha : float
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        ``prime_a, prime_b`` (named ``level_a``, ``level_b`` when ``factor`` is not
        ``"prime"``), ``log_hr, std_error, hazard_ratio, hr_conf_low, hr_conf_high, p_value``.

    Raises
    ------
    ParameterError
        ``factor`` has no dummy terms in the fit, or ``levels`` does not hold every
        dummy's level plus exactly one reference level.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    tab = result.tidy()
    dummies = _dummies(list(tab["term"]), factor)
    if not dummies:
        raise ParameterError(f"the Cox fit has no terms '{factor}[T.<level>]'")
    levels = [str(v) for v in levels]
    reference = [v for v in levels if v not in dummies]
    missing = [v for v in dummies if v not in levels]
    if len(reference) != 1 or missing:
        raise ParameterError(
            f"levels must hold the fit's levels {sorted(dummies)} plus one reference level; "
            f"got {levels}"
        )
    V = result.cov_params()
    beta = tab.set_index("term")["estimate"]
    z = stats.norm.ppf(1 - alpha / 2)
    a_col, b_col = ("prime_a", "prime_b") if factor == "prime" else ("level_a", "level_b")
    rows = []
    for a, b in itertools.combinations(levels, 2):
        c = pd.Series(0.0, index=V.index)
        if a in dummies:
            c[dummies[a]] += 1.0
        if b in dummies:
            c[dummies[b]] -= 1.0
        d = float(sum(c[t] * beta[t] for t in c.index if c[t]))
        se = float(np.sqrt(c.to_numpy() @ V.to_numpy() @ c.to_numpy()))
        rows.append(
            {
                a_col: a,
                b_col: b,
                "log_hr": d,
                "std_error": se,
                "hazard_ratio": np.exp(d),
                "hr_conf_low": np.exp(d - z * se),
                "hr_conf_high": np.exp(d + z * se),
                "p_value": 2 * stats.norm.sf(abs(d) / se),
            }
        )
    return pd.DataFrame(rows)


def beside_blocked(blocked, cox_result, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per pair of primes: the Cox hazard ratio next to the blocked survival
    contrasts, so a reader sees the same comparison as a ratio of rates and as differences
    in the share without the event and in the mean time without it.

    Parameters
    ----------
    blocked : EffectTable
        Output of :func:`wpeval.compare_primes_survival` for one CPA.
    cox_result : EffectTable
        Output of :func:`wpeval.cox` on the same CPA with ``prime`` among the covariates.
    alpha : float
        1 - confidence level of the hazard-ratio interval.

    Returns
    -------
    pandas.DataFrame
        ``prime_a, prime_b, hazard_ratio, hr_conf_low, hr_conf_high, hr_p_value`` (A vs B),
        then per blocked quantity and horizon ``<quantity>_<weeks>w`` (A - B) and
        ``<quantity>_<weeks>w_p`` (unadjusted p-value).

    Raises
    ------
    ParameterError
        ``blocked`` holds more than one CPA.
    """
    tb = blocked.tidy()
    if tb["cpa"].nunique() != 1:
        raise ParameterError("beside_blocked needs the blocked contrasts of one CPA")
    levels = sorted(set(tb["prime_a"]) | set(tb["prime_b"]))
    hr = hazard_ratio_pairs(cox_result, "prime", levels, alpha=alpha)
    hr = hr.drop(columns=["log_hr", "std_error"]).rename(columns={"p_value": "hr_p_value"})
    key = tb["quantity"] + "_" + tb["horizon_weeks"].map("{:g}".format) + "w"
    wide = tb.assign(key=key).pivot_table(
        index=["prime_a", "prime_b"], columns="key", values=["estimate", "p_value"], sort=False
    )
    est, p = wide["estimate"], wide["p_value"].add_suffix("_p")
    order = [c for k in est.columns for c in (k, f"{k}_p")]
    side = pd.concat([est, p], axis=1)[order].reset_index()
    return hr.merge(side, on=["prime_a", "prime_b"], how="inner", validate="one_to_one")
