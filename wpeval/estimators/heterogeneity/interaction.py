"""Prime x payment-group interaction: within-group prime effects (OLS with stratum x group
fixed effects, HC2) and the Wald test of equal effects across groups, CPA by CPA.

This module checks and codes the data and assembles the result (:func:`group_differences`);
the per-CPA fit is in :mod:`wpeval.estimators.heterogeneity.interaction_fit`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.estimators.heterogeneity._common import ADJUST, _factorize, _need, _outcome
from wpeval.estimators.heterogeneity.interaction_fit import _dense, _fit_by_cpa
from wpeval.estimators.heterogeneity.rates import group_rates
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues
from wpeval.results import EffectTable


@dataclass(frozen=True)
class GroupDifferences:
    """Result of :func:`group_differences`.

    Attributes
    ----------
    rates : EffectTable
        Outcome rate by payment group (descriptive) with confidence intervals.
    prime_effects : EffectTable
        Within each CPA and group, each prime's effect relative to the CPA's reference prime
        (stratum fixed effects, HC2 SEs); terms ``"CPA01 | jsa_25_plus | B - A"``.
    interaction : EffectTable
        One row per CPA: Wald chi-square test that the prime effects are equal across
        groups (``estimate`` and ``statistic`` = the chi-square, ``df`` its degrees of
        freedom), ``p_adjusted`` across CPAs.
    checks : DataFrame
        Per CPA: rows used, rows and cells dropped (one prime only), groups tested,
        leverage-one observations, and whether the CPA was tested.
    """

    rates: EffectTable
    prime_effects: EffectTable
    interaction: EffectTable
    checks: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        """The interaction tests (one row per CPA)."""
        return self.interaction.tidy()

    def summary(self) -> str:
        return "\n\n".join([self.rates.summary(), self.interaction.summary()])

    def _repr_html_(self) -> str:
        return self.rates._repr_html_() + self.interaction._repr_html_()

    def to_dict(self) -> dict:
        return {
            "rates": self.rates.to_dict(),
            "prime_effects": self.prime_effects.to_dict(),
            "interaction": self.interaction.to_dict(),
            "checks": self.checks.to_dict(orient="records"),
        }


def group_differences(
    data: pd.DataFrame,
    outcome: str,
    *,
    group: str = "payment_group",
    prime_col: str = "prime",
    cpa_col: str = "cpa",
    blocks: Sequence[str] = ("district", "period"),
    alpha: float = 0.05,
    adjust: str = "holm",
) -> GroupDifferences:
    """Outcome rates by payment group and tests of prime x group interaction within CPAs.

    Parameters
    ----------
    data : DataFrame
        Referral-level data with ``outcome``, ``group``, ``prime_col``, ``cpa_col`` and the
        ``blocks`` columns. ``period`` is derived as the quarter of ``referral_date``
        (e.g. ``"2011Q3"``) when absent.
    outcome : str
        Numeric or boolean column, e.g. ``job_outcome_24m`` from
        :func:`wpeval.data.outcomes.outcome_flags`; rows where it is missing are left out
        (counted in the methods' ``rows_missing_outcome``).
    group : str, default "payment_group"
        The grouping whose interaction with the prime is tested.
    prime_col, cpa_col : str
        Columns of the allocated prime and the CPA.
    blocks : sequence of str, default ("district", "period")
        Randomisation strata; fixed effects are stratum x group cells.
    alpha : float, default 0.05
        For the confidence intervals.
    adjust : {"holm", "bh", "bonferroni", "none"}
        Multiplicity adjustment of the per-CPA p-values (:func:`wpeval.adjust_pvalues`).

    Returns
    -------
    GroupDifferences
        ``rates``, ``prime_effects`` (a p-value is NaN where the SE is 0, i.e. the outcome
        does not vary in that group), ``interaction`` and ``checks``.

    Raises
    ------
    DesignError
        No CPA has two groups whose strata contain at least two primes.

    Notes
    -----
    **Model** (per CPA): ``y_i = a_{s(i),g(i)} + sum_{p != ref} b_{g,p} 1[g(i)=g, prime_i=p] +
    e_i`` with a fixed effect for each stratum x group cell. ``b_{g,p}`` estimates, within
    group g, a weighted average over cells of the within-cell difference in mean outcome
    between prime p and the reference prime (first in sorted order); with two primes the
    weight of cell c is ``n_c pi_c (1 - pi_c)`` (pi_c = share allocated to p), so it equals the
    average effect when effects do not vary across cells of the group.

    **Variance**: HC2, ``V = (X'X)^-1 X' diag(e_i^2 / (1 - h_ii)) X (X'X)^-1`` on the
    within-cell demeaned regressors (Frisch-Waugh-Lovell), with the full-model leverage
    ``h_ii = 1/n_cell + x~_i'(X~'X~)^-1 x~_i``; identical to OLS with explicit cell dummies
    (checked against statsmodels and R ``estimatr::lm_robust``). It is hand-written because
    the dummy-variable regression needs an n x cells matrix (thousands of cells per CPA);
    here every quantity comes from per-(cell, prime) counts, sums and sums of squares, since
    a row's demeaned regressors depend only on its cell and prime (see ``_cpa_fit``).
    Observations with leverage one get weight 0 (counted).

    **Test**: Wald ``W = (Rb)'(R V R')^+ (Rb)`` of ``b_{g1,p} = b_{g,p}`` for every prime p and
    every group g where p is identified; chi-square with ``rank(R V R')`` df.

    **Assumptions**: random allocation within cells (stratum x group), independent
    referrals, large-sample normality. A cell must contain at least two primes; other cells
    carry no information about prime effects and are dropped (counted, warned).
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    if adjust not in ADJUST:
        raise ParameterError(f"adjust must be one of {sorted(ADJUST)}, got {adjust!r}")
    blocks = [blocks] if isinstance(blocks, str) else list(blocks)
    df, notes = data, []
    _need(df, [outcome, group, prime_col, cpa_col])
    period_codes = _period_codes(df, blocks, notes)
    _need(
        df,
        [
            outcome,
            group,
            prime_col,
            cpa_col,
            *[b for b in blocks if b != "period" or period_codes is None],
        ],
    )
    y_all = _outcome(df, outcome)
    ok = ~np.isnan(y_all)
    if not ok.any():
        raise DataContractError(
            f"no rows with an observed {outcome!r} ({len(df)} rows, all missing)",
            column=outcome,
            rule="not_null",
        )
    rates = group_rates(df, outcome, group, alpha)
    y_all = y_all[ok]
    cpa_codes, cpa_labels = _codes_of(df, ok, cpa_col)
    grp_codes, groups = _codes_of(df, ok, group)
    prime_all, prime_labels = _codes_of(df, ok, prime_col)
    cell_all = _stratum_group_cells(df, ok, blocks, period_codes, grp_codes, len(groups))
    effects, tests, checks = _fit_by_cpa(
        y_all, cpa_codes, cpa_labels, cell_all, grp_codes, prime_all, groups, prime_labels, alpha
    )
    if not tests:
        raise DesignError(
            "no CPA supports a prime x group interaction test: every CPA needs "
            "two groups whose strata contain at least two primes"
        )
    tests = _with_adjusted(pd.DataFrame(tests), adjust, alpha)
    _warn_checks(checks)
    design = f"randomised within {' x '.join(blocks)} x {group} (stratum x group fixed effects)"
    base = {
        "se_type": "HC2",
        "design": design,
        "alpha": alpha,
        "blocks": blocks,
        "outcome": outcome,
        "notes": "; ".join(notes),
        "rows_missing_outcome": int((~ok).sum()),
    }
    prime_effects, interaction = _result_tables(effects, tests, base, outcome, group, adjust)
    return GroupDifferences(
        rates=rates, prime_effects=prime_effects, interaction=interaction, checks=checks
    )


def _result_tables(effects, tests, base, outcome, group, adjust):
    """The within-group prime effects and the interaction tests as EffectTables."""
    prime_effects = EffectTable(
        pd.DataFrame(effects),
        {
            **base,
            "estimator": "OLS with stratum x group fixed effects (within-group prime effects)",
            "ci_method": "normal",
        },
        title=f"Prime effects on {outcome} by {group}",
    )
    interaction = EffectTable(
        tests,
        {
            **base,
            "estimator": f"Wald test of equal prime effects across {group} (chi-square)",
            "ci_method": "none",
            "adjust": adjust,
        },
        title=f"Prime x {group} interaction on {outcome}",
    )
    return prime_effects, interaction


def _period_codes(df: pd.DataFrame, blocks: list, notes: list):
    """Calendar-quarter index of referral_date when ``period`` is a block but not a column."""
    if "period" not in blocks or "period" in df.columns:
        return None
    _need(df, ["referral_date"])
    ref = df["referral_date"]
    if not pd.api.types.is_datetime64_any_dtype(ref):
        raise DataContractError(
            "referral_date must be a datetime column to derive the "
            f"quarter period, got {ref.dtype}",
            column="referral_date",
            rule="datetime",
        )
    months = ref.to_numpy().astype("datetime64[M]")
    notes.append("period = quarter of referral_date")
    return np.where(np.isnat(months), -1, months.astype(np.int64) // 3)


def _codes_of(df: pd.DataFrame, ok: np.ndarray, col: str):
    """Integer codes and labels of ``col`` on the rows ``ok``; a missing value raises."""
    codes, labels = _factorize(df[col].to_numpy()[ok])
    if (codes < 0).any():
        bad = np.flatnonzero(ok)[codes < 0]
        ids = (
            df["person_id"].to_numpy()[bad][:5].tolist()
            if "person_id" in df.columns
            else df.index[bad][:5].tolist()
        )
        raise DataContractError(
            f"{col} has missing values", column=col, rule="not_null", examples=ids
        )
    return codes.astype(np.int64), [str(v) for v in labels]


def _stratum_group_cells(df, ok, blocks, period_codes, grp_codes, n_groups) -> np.ndarray:
    """Dense codes of stratum (the blocks) x payment group."""
    cell_all = np.zeros(int(ok.sum()), dtype=np.int64)
    for b in blocks:
        if b == "period" and period_codes is not None:
            if (period_codes[ok] < 0).any():
                raise DataContractError(
                    "referral_date has missing values (needed for the period)",
                    column="referral_date",
                    rule="not_null",
                )
            bc = _dense(period_codes[ok])
        else:
            bc = _codes_of(df, ok, b)[0]
        cell_all = _dense(cell_all * (int(bc.max(initial=0)) + 1) + bc)
    return _dense(cell_all * n_groups + grp_codes)


def _with_adjusted(tests: pd.DataFrame, adjust: str, alpha: float) -> pd.DataFrame:
    cols = ["term", "estimate", "statistic", "df", "p_value", "n", "groups", "primes"]
    tests = tests[cols].copy()
    # the one adjustment path of the kit
    tests["p_adjusted"] = adjust_pvalues(tests["p_value"].to_numpy(dtype=float), adjust)
    return tests


def _warn_checks(checks: pd.DataFrame) -> None:
    untested = checks.loc[~checks["tested"], "cpa"].tolist()
    n_drop = int(checks["rows_dropped"].sum())
    n_lev = int(checks["leverage_one"].sum())
    if untested or n_drop or n_lev:
        warnings.warn(
            f"group_differences: {n_drop:,} rows in strata with a single prime "
            f"dropped; {n_lev:,} rows with leverage one given zero weight in the "
            f"HC2 variance; CPAs not tested: {untested or 'none'} (see .checks)",
            StatisticalWarning,
            stacklevel=3,
        )
