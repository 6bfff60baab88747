"""Prime x payment-group interaction: within-group prime effects (OLS with stratum x group
fixed effects, HC2) and the Wald test of equal effects across groups, CPA by CPA."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.heterogeneity._common import ADJUST, _factorize, _need, _outcome
from wpeval.estimators.heterogeneity.rates import group_rates
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues
from wpeval.results import EffectTable


def _dense(codes: np.ndarray) -> np.ndarray:
    """Renumber non-negative integer codes 0..k-1 in sorted order (O(n) when compact)."""
    codes = np.asarray(codes, dtype=np.int64)
    top = int(codes.max(initial=-1)) + 1
    if top > 10_000_000:
        return np.unique(codes, return_inverse=True)[1].astype(np.int64)
    present = np.flatnonzero(np.bincount(codes, minlength=top))
    lookup = np.full(top, -1, dtype=np.int64)
    lookup[present] = np.arange(present.size)
    return lookup[codes]


def _cpa_fit(y, cell, grp, prime, groups, primes):
    """Within-cell OLS of y on group x (prime != reference) indicators with HC2 SEs,
    computed from (cell, prime) sufficient statistics.

    Because every regressor is an indicator and cells nest within groups, the demeaned
    regressor of a row depends only on its (cell, prime): ``x~_cp = e_p - pi_c`` (pi_c = the
    cell's prime shares). So X'X, X'y, the leverages ``h_cp`` and the HC2 meat
    ``sum_cp (SSE_cp / (1 - h_cp)) x~_cp x~_cp'`` (SSE_cp = sum of squared residuals of the
    (cell, prime) rows) need only per-(cell, prime) counts, sums and sums of squares: O(n)
    work and O(cells) memory. The model is block diagonal by group.

    Returns (beta, V, columns, n_used, dropped_rows, dropped_cells, leverage_one_rows), or
    beta None (no usable cell) / "collinear" (effects not separately identified).
    """
    P = len(primes)
    C = int(cell.max()) + 1
    k = cell * P + prime
    n_cp = np.bincount(k, minlength=C * P).reshape(C, P).astype(float)
    s_cp = np.bincount(k, weights=y, minlength=C * P).reshape(C, P)
    q_cp = np.bincount(k, weights=y * y, minlength=C * P).reshape(C, P)
    g_c = np.zeros(C, dtype=np.int64)
    g_c[cell] = grp
    good = (n_cp > 0).sum(axis=1) >= 2
    dropped_rows = int(n_cp[~good].sum())
    dropped_cells = int((~good & (n_cp.sum(axis=1) > 0)).sum())
    n_cp, s_cp, q_cp, g_c = n_cp[good], s_cp[good], q_cp[good], g_c[good]
    n_used = int(n_cp.sum())
    if n_used == 0:
        return None, None, [], 0, dropped_rows, dropped_cells, 0
    n_c = n_cp.sum(axis=1)
    s_c = s_cp.sum(axis=1)
    pi = n_cp / n_c[:, None]
    ybar_c = s_c / n_c
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar_cp = np.where(n_cp > 0, s_cp / np.where(n_cp > 0, n_cp, 1), 0.0)
    ss_within = np.clip(q_cp - np.where(n_cp > 0, s_cp * ybar_cp, 0.0), 0, None)
    cols, betas, blocks = [], [], []
    lev_one = 0
    for g in range(len(groups)):
        sel = g_c == g
        if not sel.any():
            continue
        nc, pic = n_c[sel], pi[sel]
        xtx = (np.diag((nc[:, None] * pic).sum(axis=0)) - (pic * nc[:, None]).T @ pic)[1:, 1:]
        xty = (s_cp[sel] - pic * s_c[sel][:, None]).sum(axis=0)[1:]
        ident = np.diag(xtx) > 1e-9
        if not ident.any():
            continue
        xtx, xty = xtx[np.ix_(ident, ident)], xty[ident]
        if not np.isfinite(xtx).all() or np.linalg.matrix_rank(xtx) < ident.sum():
            return "collinear", None, [], n_used, dropped_rows, dropped_cells, 0
        inv = np.linalg.inv(xtx)
        beta = inv @ xty
        ps = np.flatnonzero(ident) + 1  # prime codes of the columns
        # x~_cp for every (cell, prime): e_p - pi_c restricted to the identified columns
        xt = (np.arange(P)[None, :, None] == ps[None, None, :]).astype(float) - pic[:, ps][
            :, None, :
        ]
        fitted = ybar_c[sel][:, None] + xt @ beta  # (cells, P)
        h = 1.0 / nc[:, None] + np.einsum("cpj,jk,cpk->cp", xt, inv, xt)
        sse = ss_within[sel] + n_cp[sel] * (ybar_cp[sel] - fitted) ** 2
        one = (1 - h) < 1e-10
        lev_one += int(n_cp[sel][one].sum())
        w = np.where(one | (n_cp[sel] == 0), 0.0, sse / np.where(one, 1.0, 1 - h))
        meat = np.einsum("cp,cpj,cpk->jk", w, xt, xt)
        cols += [(g, int(p)) for p in ps]
        betas.append(beta)
        blocks.append(inv @ meat @ inv)
    if not cols:
        return None, None, [], n_used, dropped_rows, dropped_cells, 0
    from scipy.linalg import block_diag

    return (
        np.concatenate(betas),
        block_diag(*blocks),
        cols,
        n_used,
        dropped_rows,
        dropped_cells,
        lev_one,
    )


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
    order = np.argsort(cpa_codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(cpa_codes[order]) != 0, True])
    effects, tests, checks = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        eff, test, check = _cpa_interaction(
            cpa_labels[cpa_codes[idx[0]]],
            y_all[idx],
            cell_all[idx],
            grp_codes[idx],
            prime_all[idx],
            groups,
            prime_labels,
            alpha,
        )
        effects += eff
        tests += [test] if test else []
        checks.append(check)
    checks = pd.DataFrame(checks)
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
    return GroupDifferences(
        rates=rates, prime_effects=prime_effects, interaction=interaction, checks=checks
    )


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


def _cpa_interaction(c, y, cell_all, grp, prime_all, groups, prime_labels, alpha):
    """One CPA: within-group prime effects, the Wald test of equal effects, and its checks
    row. Returns ``(effects, test or None, check)``."""
    used_primes = np.flatnonzero(np.bincount(prime_all, minlength=len(prime_labels)))
    p_codes = np.searchsorted(used_primes, prime_all)
    primes = [prime_labels[i] for i in used_primes]
    row = {"cpa": c, "rows": int(y.size), "primes": len(primes)}
    if len(primes) < 2:
        return (
            [],
            None,
            {
                **row,
                "rows_used": 0,
                "rows_dropped": int(y.size),
                "cells_dropped": 0,
                "groups_tested": 0,
                "leverage_one": 0,
                "tested": False,
                "reason": "one prime only",
            },
        )
    beta, V, cols, n_used, d_rows, d_cells, lev1 = _cpa_fit(
        y, _dense(cell_all), grp, p_codes, groups, primes
    )
    row.update(rows_used=n_used, rows_dropped=d_rows, cells_dropped=d_cells, leverage_one=lev1)
    if beta is None or isinstance(beta, str):
        reason = (
            "no stratum x group cell with two primes"
            if beta is None
            else "prime effects not separately identified (strata of a group lack the "
            "reference prime)"
        )
        return [], None, {**row, "groups_tested": 0, "tested": False, "reason": reason}
    effects = _effect_rows(c, beta, V, cols, groups, primes, alpha, n_used)
    groups_tested = len({g for g, _ in cols})
    test, reason = _equal_effects_test(beta, V, cols, len(primes))
    if test is None:
        return (
            effects,
            None,
            {**row, "groups_tested": groups_tested, "tested": False, "reason": reason},
        )
    test.update(term=c, n=n_used, groups=groups_tested, primes=len(primes))
    return effects, test, {**row, "groups_tested": groups_tested, "tested": True, "reason": ""}


def _effect_rows(c, beta, V, cols, groups, primes, alpha, n_used) -> list:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    lo, hi = stats.norm.ppf(alpha / 2), stats.norm.ppf(1 - alpha / 2)
    out = []
    for j, (g, p) in enumerate(cols):
        out.append(
            {
                "term": f"{c} | {groups[g]} | {primes[p]} - {primes[0]}",
                "cpa": c,
                "group": groups[g],
                "prime": primes[p],
                "reference": primes[0],
                "estimate": beta[j],
                "std_error": se[j],
                "statistic": beta[j] / se[j] if se[j] > 0 else np.nan,
                "p_value": 2 * stats.norm.sf(abs(beta[j] / se[j])) if se[j] > 0 else np.nan,
                "conf_low": beta[j] + lo * se[j],
                "conf_high": beta[j] + hi * se[j],
                "n": n_used,
            }
        )
    return out


def _equal_effects_test(beta, V, cols, n_primes):
    """Wald test that each prime's effect is equal across groups: ``(dict, "")`` or
    ``(None, reason)``."""
    R = []
    for p in range(1, n_primes):
        js = [j for j, (g, pp) in enumerate(cols) if pp == p]
        for j in js[1:]:
            r = np.zeros(len(cols))
            r[js[0]], r[j] = 1.0, -1.0
            R.append(r)
    if not R:
        return None, "prime effect identified in fewer than two groups"
    R = np.array(R)
    rb = R @ beta
    rvr = R @ V @ R.T
    dfq = int(np.linalg.matrix_rank(rvr))
    if dfq == 0:
        return None, "zero variance of the contrasts"
    W = float(rb @ np.linalg.pinv(rvr) @ rb)
    return {"estimate": W, "statistic": W, "df": dfq, "p_value": float(stats.chi2.sf(W, dfq))}, ""


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
