"""Regression-adjusted prime contrasts beside the design-based ones (issue 14).

For each within-CPA pair of primes of a :func:`wpeval.compare_primes` table, least squares of
the outcome on the pair's indicator and covariates with the randomisation strata absorbed
(:func:`wpeval.regress`), with HC2 and with CR2 standard errors clustered by district, set
beside the design-based estimate of the same contrast.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import as_list, check_alpha
from wpeval.estimators.contrasts import _with_period
from wpeval.estimators.regression import regress
from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.results import EffectTable

__all__ = ["regression_contrasts"]


def _pair_frame(data, outcome, prime_col, row, blocks, covariates, clusters):
    """Rows of one CPA and two primes, in strata holding both; counts of the rest."""
    sub = data[(data["cpa"] == row["cpa"]) & data[prime_col].isin([row["prime_a"], row["prime_b"]])]
    cols = list(dict.fromkeys([outcome, prime_col] + blocks + covariates + as_list(clusters)))
    work = pd.DataFrame(
        {
            c: (
                sub[c].astype(str).where(sub[c].notna())
                if isinstance(sub[c].dtype, pd.CategoricalDtype)
                else sub[c]
            )
            for c in cols
        }
    )
    work["_y"] = pd.to_numeric(work[outcome].astype(float), errors="coerce")
    work["_treat"] = (work[prime_col] == row["prime_a"]).astype(float)
    work["_stratum"] = work[blocks].astype(str).agg("|".join, axis=1)
    both = work.groupby("_stratum")["_treat"].transform(lambda t: t.nunique() == 2)
    return work[both.to_numpy()], int((~both).sum())


def regression_contrasts(
    data: pd.DataFrame,
    outcome: str,
    design_based: EffectTable,
    *,
    covariates: Sequence[str] | None = None,
    blocks: Sequence[str] = ("district", "period"),
    clusters: str | None = "district",
    prime_col: str = "prime",
    alpha: float = 0.05,
) -> EffectTable:
    """Regression-adjusted estimate of each pairwise prime contrast, beside the design-based one.

    Estimand: for the pair (A, B) of a CPA, the coefficient of ``1[prime = A]`` in least
    squares of the outcome on it and ``covariates`` with district x period (``blocks``) effects
    absorbed, on the rows of the two primes in strata holding both. It is a weighted average of
    the stratum differences with weights ``n_s p_s (1 - p_s)`` (allocation variance), against
    the design-based weights ``n_s`` of :func:`wpeval.compare_primes`: the two agree when the
    effect is the same in every stratum or the allocation shares are; covariates reduce the
    variance when they predict the outcome. Covariates must be pre-allocation; include
    ``payment_group`` when allocation shares differ by payment group within a stratum.

    Variance: HC2 (``std_error``, t with ``n - r`` df) and CR2 by ``clusters`` with
    Bell-McCaffrey df (``std_error_cr2``), which allows outcomes correlated within a district
    (a local labour market); with few districts per CPA its intervals are wide.

    Parameters
    ----------
    data : DataFrame
        Referral-level data with ``cpa``, ``prime_col``, ``blocks``, ``covariates``.
    outcome : str
        Numeric or 0/1 outcome.
    design_based : EffectTable
        :func:`wpeval.compare_primes` result: its ``pairwise`` rows give the pairs.
    covariates : list of str, optional
    blocks : sequence of str, default ("district", "period")
        Absorbed strata (as one factor, their combination); ``period`` is derived (quarter of
        ``referral_date``) when absent, as in :func:`wpeval.compare_primes`.
    clusters : str or None, default "district"
        Clusters for the CR2 errors (``None``: HC2 only).
    prime_col : str, default "prime"
    alpha : float, default 0.05

    Returns
    -------
    EffectTable
        One row per pair: the regression estimate (HC2 interval), ``std_error_cr2``,
        ``conf_low_cr2``, ``conf_high_cr2``, ``df_cr2``, and ``design_estimate``,
        ``design_std_error``, ``design_conf_low``, ``design_conf_high`` of the same contrast;
        ``n_dropped`` rows in strata lacking one
        of the two primes.
    """
    alpha = check_alpha(alpha)
    blocks, covs = list(blocks), as_list(covariates)
    tab = design_based.tidy()
    if "contrast" not in tab or "prime_a" not in tab:
        raise ParameterError("design_based must be a compare_primes result")
    pairs = tab[tab["contrast"] == "pairwise"]
    data = _with_period(data, blocks, "Q")  # as compare_primes: quarter when absent
    rhs = " + ".join(["_treat"] + covs)
    rows = []
    for _, row in pairs.iterrows():
        work, n_drop = _pair_frame(data, outcome, prime_col, row, blocks, covs, clusters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            hc2 = regress(work, f"_y ~ {rhs}", fixed_effects="_stratum", alpha=alpha)["_treat"]
            cr2 = (
                regress(
                    work,
                    f"_y ~ {rhs}",
                    fixed_effects="_stratum",
                    se_type="CR2",
                    clusters=clusters,
                    alpha=alpha,
                )["_treat"]
                if clusters
                else None
            )
        rows.append(
            {
                "term": row["term"],
                "cpa": row["cpa"],
                "prime_a": row["prime_a"],
                "prime_b": row["prime_b"],
                **{
                    c: hc2[c]
                    for c in (
                        "estimate",
                        "std_error",
                        "statistic",
                        "p_value",
                        "conf_low",
                        "conf_high",
                        "df",
                        "n",
                    )
                },
                "std_error_cr2": np.nan if cr2 is None else cr2["std_error"],
                "conf_low_cr2": np.nan if cr2 is None else cr2["conf_low"],
                "conf_high_cr2": np.nan if cr2 is None else cr2["conf_high"],
                "df_cr2": np.nan if cr2 is None else cr2["df"],
                "design_estimate": row["estimate"],
                "design_std_error": row["std_error"],
                "design_conf_low": row["conf_low"],
                "design_conf_high": row["conf_high"],
                "n_dropped": n_drop,
            }
        )
    out = pd.DataFrame(rows)
    meth = {
        "estimator": "least squares, strata absorbed (regression-adjusted contrast)",
        "se_type": "HC2" + (f"; CR2 by {clusters} (std_error_cr2)" if clusters else ""),
        "ci_method": "t (df = n - r; CR2: Bell-McCaffrey)",
        "design": f"randomised within cpa x {' x '.join(blocks)} strata (absorbed)",
        "alpha": alpha,
        "covariates": covs or None,
        "outcome": outcome,
        "notes": "design_estimate / design_std_error: compare_primes on the same pair",
    }
    return EffectTable(out, meth, title=f"Regression-adjusted prime contrasts: {outcome}")
