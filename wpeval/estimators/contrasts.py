"""Within-CPA prime comparisons that use only the random allocation (issue 4).

Claimants were allocated at random to the primes of their CPA within each Jobcentre Plus
district x period, so a comparison of two primes is an experiment only *inside* a stratum
that contains both. :func:`compare_primes` estimates, for each CPA, every pairwise contrast
(A - B) and (with three or more primes) each prime against the CPA average, from
within-stratum comparisons only, with the design's allocation probabilities, and adjusts
the p-values for the family of contrasts (per CPA and overall).

Hand-written because no library combines blocked estimation, per-contrast stratum
selection with counting of what is dropped, and inverse-probability weighting when
allocation shares differ inside a stratum (the 2013 market-share shift moved shares by
payment group). All heavy work is one pass of ``np.bincount`` over the rows (stratum x prime
cell sums); each contrast is then computed from the small cell table, so 2M rows take about
a second.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import (
    as_list,
    check_alpha,
    check_weights,
    examples,
    flag_nonfinite,
    need_columns,
    numeric,
)
from wpeval.estimators.contrast_cells import _cell_means, _codes, _contrast_rows
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues
from wpeval.results import EffectTable

__all__ = ["compare_primes"]

_ADJUST = ("holm", "bonferroni", "bh", "none")


def _with_period(data: pd.DataFrame, blocks: list[str], freq: str) -> pd.DataFrame:
    if "period" in blocks and "period" not in data.columns:
        from wpeval.data.design import add_period

        need_columns(data, ["referral_date"])
        return add_period(data, freq)
    return data


def compare_primes(
    data: pd.DataFrame,
    outcome: str,
    *,
    cpa: str | Sequence[str] | None = None,
    blocks: Sequence[str] = ("district", "period"),
    covariates: Sequence[str] | None = None,
    method: str = "blocked",
    alpha: float = 0.05,
    adjust: str = "holm",
    prime_col: str = "prime",
    cpa_col: str = "cpa",
    prob_col: str = "allocation_prob",
    stratum_weight: str = "pair",
    vs_average: bool = True,
    freq: str = "Q",
) -> EffectTable:
    """Compare the primes of each CPA using within-stratum comparisons only.

    Estimands (per CPA): for primes A and B, the average effect of allocation to A rather
    than B over the referrals of the strata containing both, strata weighted by their size
    in the pair (``n_A,s + n_B,s``; ``stratum_weight="stratum"`` uses all referrals of the
    stratum); for each prime A of a CPA with k >= 3 primes, ``mu_A - (1/k) sum_j mu_j``
    (A against the CPA's unweighted average of primes) over the strata containing all k
    primes, weighted by stratum size.

    Estimator (``method="blocked"``): within stratum s, the mean outcome of each prime is
    the Hajek inverse-probability-weighted mean ``sum w y / sum w`` with
    ``w = 1/allocation_prob`` (``prob_col``), which is the plain mean when the probabilities
    are constant within stratum x prime (then this is exactly estimatr's blocked
    ``difference_in_means`` on the pair, checked in the tests). The contrast is
    ``tau = sum_s omega_s tau_s`` with variance ``sum_s omega_s^2 V_s``, ``V_s`` the sum
    over primes of ``c_j^2 Var(mu_js)``, ``Var`` the Neyman ``s^2/n`` (Hajek linearisation
    ``n/(n-1) sum w^2 (y - mu)^2 / (sum w)^2`` with weights). Inference: t with
    ``df = n - (primes x strata)`` without weights (estimatr's blocked df), normal with
    weights. ``method="lin"``: :func:`wpeval.lin_adjusted` on the pair's rows with the
    strata as blocks and ``covariates`` (pairwise contrasts only; needs probabilities
    constant within stratum x prime, e.g. add ``payment_group`` to ``blocks``).

    Strata are used for a contrast only if they contain every prime involved with at least
    two referrals each; the others are counted (``n_dropped``: strata of the CPA lacking a
    prime; ``n_dropped_small``: present but with a single referral, StatisticalWarning),
    never silently ignored. Rows with a missing outcome are dropped and counted
    (``extra["n_missing_outcome"]``; e.g. ``job_outcome_24m`` is NaN while the window is
    open). Assumes complete randomisation within strata with the given probabilities and no
    interference between referrals.

    Parameters
    ----------
    data : DataFrame
        Referral-level data (``cpa``, ``prime``, the block columns, the outcome, optionally
        ``allocation_prob`` and covariates).
    outcome : str
        Numeric or bool outcome: a job-outcome flag (e.g. ``job_outcome_12m`` from
        :func:`wpeval.outcome_flags`), a duration, a count.
    cpa : str or list of str, optional
        CPA code(s) to analyse (default: all).
    blocks : sequence of str, default ("district", "period")
        Randomisation strata within a CPA; ``period`` is derived from ``referral_date`` by
        :func:`wpeval.data.design.add_period` (``freq``) when absent.
    covariates : list of str, optional
        Only with ``method="lin"``.
    method : {"blocked", "lin"}, default "blocked"
    alpha : float, default 0.05
    adjust : {"holm", "bonferroni", "bh", "none"}, default "holm"
        Multiplicity adjustment over the family of contrasts: ``p_adjusted_cpa`` within each
        CPA and ``p_adjusted`` over every contrast in the table.
    prime_col, cpa_col : str
        Column names of the prime and the CPA.
    prob_col : str, default "allocation_prob"
        Probability of the prime received; used as inverse-probability weights when
        present (``method="blocked"``).
    stratum_weight : {"pair", "stratum"}, default "pair"
    vs_average : bool, default True
        Add each prime against its CPA average (CPAs with three or more primes).
    freq : str, default "Q"
        Period frequency when ``period`` is derived.

    Returns
    -------
    EffectTable
        Columns ``term`` ("A - B", "A - CPA average"), the standard ones, and ``cpa,
        contrast ("pairwise" / "vs_cpa_average"), prime_a, prime_b, n_strata_used,
        n_dropped, n_dropped_small, p_adjusted_cpa, p_adjusted, weighted``.
    """
    alpha = check_alpha(alpha)
    blocks, covariates = as_list(blocks), as_list(covariates)
    _check_options(method, covariates, adjust, stratum_weight, blocks)
    data, y, prob, n_missing = _select_rows(
        data, outcome, cpa, blocks, covariates, method, prime_col, cpa_col, prob_col, freq
    )
    cells = _cell_means(
        data, y, _ipw_weights(data, y, prob, prob_col), prob, blocks, prime_col, cpa_col
    )
    rows, small_total = _contrast_rows(
        cells,
        data,
        y,
        outcome,
        prime_col,
        method,
        covariates,
        prob,
        stratum_weight,
        vs_average,
        alpha,
    )
    skipped = _warn_unused(rows, small_total)
    tab = _contrast_table(rows, adjust, cells.weighted, prime_col)
    meth = flag_nonfinite(
        tab,
        _contrast_method(
            method,
            cells.weighted,
            cpa_col,
            blocks,
            alpha,
            adjust,
            stratum_weight,
            outcome,
            covariates,
        ),
    )
    return EffectTable(
        tab,
        meth,
        title=f"Prime contrasts within CPAs: {outcome}",
        extra={"n_missing_outcome": n_missing, "n_rows_used": int(len(y)), "skipped": skipped},
    )


def _check_options(method, covariates, adjust, stratum_weight, blocks) -> None:
    if method not in ("blocked", "lin"):
        raise ParameterError(f"method must be 'blocked' or 'lin', not {method!r}")
    if covariates and method != "lin":
        raise ParameterError("covariates are only used with method='lin'")
    if adjust not in _ADJUST:
        raise ParameterError(
            f"adjust must be one of {_ADJUST}, not {adjust!r} (Romano-Wolf "
            "needs joint randomisation draws: see randomisation_test)"
        )
    if stratum_weight not in ("pair", "stratum"):
        raise ParameterError("stratum_weight must be 'pair' or 'stratum'")
    if not blocks:
        raise ParameterError("blocks must name at least one stratum column")


def _select_rows(
    data, outcome, cpa, blocks, covariates, method, prime_col, cpa_col, prob_col, freq
):
    """The columns needed, the period derived, the CPAs asked for, rows with a missing
    outcome, prime, CPA or block dropped and counted."""
    need_columns(data, [outcome, prime_col, cpa_col, *covariates])
    extra = [c for c in ("person_id", prob_col, "referral_date") if c in data.columns]
    cols = list(
        dict.fromkeys(
            [
                outcome,
                prime_col,
                cpa_col,
                *covariates,
                *extra,
                *[b for b in blocks if b in data.columns],
            ]
        )
    )
    data = _with_period(data[cols], blocks, freq)
    need_columns(data, blocks)
    if cpa is not None:
        wanted = as_list(cpa)
        cpa_codes, cpa_labels = _codes(data[cpa_col])
        missing = [c for c in wanted if c not in cpa_labels]
        if missing:
            raise ParameterError(f"CPA(s) {missing} not in the data")
        data = data[np.isin(cpa_codes, [cpa_labels.index(c) for c in wanted])]
    y = numeric(data, outcome)
    has_prob = prob_col in data.columns and method == "blocked"
    prob = numeric(data, prob_col) if has_prob else None
    miss = np.isnan(y)
    for c in [prime_col, cpa_col, *blocks]:
        miss |= data[c].isna().to_numpy()
    n_missing = int(miss.sum())
    if n_missing:
        keep = ~miss
        data, y = data[keep], y[keep]
        prob = prob[keep] if prob is not None else None
    if len(data) == 0:
        raise DataContractError(
            f"no rows with a non-missing {outcome!r}", column=outcome, rule="not_null"
        )
    return data, y, prob, n_missing


def _ipw_weights(data, y, prob, prob_col) -> np.ndarray:
    """Inverse allocation probabilities (ones without probabilities), checked."""
    if prob is None:
        return np.ones(len(y))
    bad = ~((prob > 0) & (prob <= 1))
    if bad.any():
        raise DataContractError(
            "allocation probabilities must be in (0, 1]",
            column=prob_col,
            rule="probability_range",
            examples=examples(data, bad),
        )
    check_weights(y, np.minimum(prob, 0.5), data, prob_col)  # 1/p only: p = 1 is fine
    return 1.0 / prob


def _warn_unused(rows, small_total) -> list:
    """Warn about contrasts without support and strata dropped for a single referral."""
    skipped = [f"{r['cpa']}: {r['term']}" for r in rows if r.get("estimate") is None]
    if skipped:
        warnings.warn(
            f"{len(skipped)} contrast(s) have no stratum with every prime involved "
            f"(at least two referrals each) and are not estimated: {skipped[:5]}",
            StatisticalWarning,
            stacklevel=3,
        )
    if small_total:
        warnings.warn(
            f"{small_total} stratum x contrast combination(s) dropped because a "
            "prime had a single referral there (counted in n_dropped_small)",
            StatisticalWarning,
            stacklevel=3,
        )
    return skipped


def _contrast_table(rows, adjust, weighted, prime_col) -> pd.DataFrame:
    tab = pd.DataFrame([r for r in rows if r.get("estimate") is not None])
    if tab.empty:
        raise DataContractError(
            "no contrast could be estimated (no stratum holds two primes with two referrals each)",
            column=prime_col,
            rule="design_support",
        )
    tab["p_adjusted_cpa"] = adjust_pvalues(
        tab["p_value"].to_numpy(), adjust, groups=tab["cpa"].to_numpy()
    )
    tab["p_adjusted"] = adjust_pvalues(tab["p_value"].to_numpy(), adjust)
    tab["weighted"] = weighted
    front = ["term", "cpa", "contrast", "prime_a", "prime_b"]
    return tab[front + [c for c in tab.columns if c not in front]]


def _contrast_method(
    method, weighted, cpa_col, blocks, alpha, adjust, stratum_weight, outcome, covariates
) -> dict:
    est = (
        "Lin-adjusted within-stratum contrast"
        if method == "lin"
        else "within-stratum difference in means"
        + (" (Hajek inverse-probability weighted)" if weighted else "")
    )
    return {
        "estimator": est,
        "se_type": "HC2" if method == "lin" else "Neyman (blocked)",
        "ci_method": "normal" if weighted else "t",
        "design": f"randomised within {cpa_col} x {' x '.join(blocks)} strata",
        "alpha": alpha,
        "adjust": adjust,
        "blocks": blocks,
        "stratum_weight": stratum_weight,
        "outcome": outcome,
        "covariates": covariates or None,
        "notes": (
            "p_adjusted_cpa: within each CPA's family of contrasts; p_adjusted: "
            "over all contrasts in the table"
        ),
    }
