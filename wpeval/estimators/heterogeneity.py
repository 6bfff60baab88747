"""Payment-group differences: outcome rates by group, prime x group interaction tests, and
creaming and parking (outcomes and payments by the provider's assessed stream).

Payment groups are not randomised, so differences in rates *between* groups are descriptive.
What the random allocation does identify is each prime's effect *within* a group (primes are
allocated at random within Jobcentre Plus district x period, and from late 2013 with shares
that differ by group). :func:`group_differences` therefore tests, within each CPA, whether the
prime contrast is the same in every payment group (a prime x group interaction), which is
the question "did differential pricing / provider behaviour change who benefited?".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import programme as _programme
from ..exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from ..results import EffectTable
from ._prep import check_alpha, flag_nonfinite, need_columns, numeric

#: the provider's assessed distance from work, nearest first (data contract)
STREAMS = ["job_ready", "needs_support", "furthest_from_work"]
ADJUST = {"holm": "holm", "bh": "fdr_bh", "fdr_bh": "fdr_bh", "bonferroni": "bonferroni",
          "none": None}


def _need(df: pd.DataFrame, cols: Sequence[str]) -> None:
    """A DataFrame holding every column of ``cols`` once (see ``_prep.need_columns``)."""
    need_columns(df, list(cols))


def _outcome(df: pd.DataFrame, outcome: str) -> np.ndarray:
    """The outcome as float (bool -> 0/1, NaN kept): numeric, finite, not huge."""
    return numeric(df, outcome)


def _factorize(values) -> tuple[np.ndarray, list]:
    """Sorted codes and labels; incomparable mixed types are sorted by their string form."""
    try:
        codes, labels = pd.factorize(values, sort=True)
    except TypeError:
        s = pd.Series(values, dtype=object)
        codes, labels = pd.factorize(s.astype(str).where(s.notna()), sort=True)
    return codes, list(labels)


def _wilson(k: np.ndarray, n: np.ndarray, alpha: float):
    """Wilson score interval for k successes out of n (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


def group_rates(df: pd.DataFrame, outcome: str, group: str = "payment_group",
                alpha: float = 0.05) -> EffectTable:
    """Mean outcome by group with confidence intervals (descriptive, not a causal contrast).

    Binary outcomes (all values 0/1) get Wilson score intervals; others a normal interval
    with SE = sd / sqrt(n). Rows with a missing outcome or group are left out and counted
    (``method["rows_missing_outcome"]``, ``method["rows_missing_group"]``); ``n`` counts the
    rest.

    Parameters
    ----------
    df : DataFrame
        Referral-level data.
    outcome : str
        Numeric or boolean outcome column.
    group : str, default "payment_group"
        Grouping column (payment groups are listed in the programme's order).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    EffectTable
        One row per group. A group with a single referral has no standard error for a
        non-binary outcome (NaN, warned and noted in ``method["notes"]``).
    """
    alpha = check_alpha(alpha)
    _need(df, [outcome, group])
    y = _outcome(df, outcome)
    ok = ~np.isnan(y)
    n_miss_y = int((~ok).sum())
    miss_g = df[group].isna().to_numpy()
    n_miss_g = int((ok & miss_g).sum())
    ok &= ~miss_g
    if not ok.any():
        raise DataContractError(f"no rows with both {outcome!r} and {group!r} observed",
                                column=outcome, rule="not_null")
    g = df[group].astype(str).to_numpy()[ok]
    y = y[ok]
    order = list(_programme.load().payment_groups) if group == "payment_group" else []
    cats = [c for c in order if c in set(g)] + sorted(set(g) - set(order))
    frame = pd.DataFrame({"g": pd.Categorical(g, categories=cats, ordered=True), "y": y})
    agg = frame.groupby("g", sort=True, observed=True)["y"].agg(["size", "sum", "var"])
    n, s = agg["size"].to_numpy(float), agg["sum"].to_numpy(float)
    est = s / n
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if binary:
        se = np.sqrt(est * (1 - est) / n)
        lo, hi = _wilson(s, n, alpha)
    else:
        se = np.sqrt(agg["var"].to_numpy(float) / n)
        z = stats.norm.ppf(1 - alpha / 2)
        lo, hi = est - z * se, est + z * se
    table = pd.DataFrame({"term": agg.index.astype(str), "estimate": est, "std_error": se,
                          "conf_low": lo, "conf_high": hi, "n": n.astype(int)})
    meth = {"estimator": "mean outcome by group", "se_type": "binomial" if binary else "iid",
            "ci_method": "Wilson score" if binary else "normal", "design": "none (descriptive)",
            "alpha": alpha, "outcome": outcome, "rows_missing_outcome": n_miss_y,
            "rows_missing_group": n_miss_g}
    return EffectTable(table, flag_nonfinite(table, meth), title=f"{outcome} by {group}")


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
        xtx = (np.diag((nc[:, None] * pic).sum(axis=0))
               - (pic * nc[:, None]).T @ pic)[1:, 1:]
        xty = (s_cp[sel] - pic * s_c[sel][:, None]).sum(axis=0)[1:]
        ident = np.diag(xtx) > 1e-9
        if not ident.any():
            continue
        xtx, xty = xtx[np.ix_(ident, ident)], xty[ident]
        if not np.isfinite(xtx).all() or np.linalg.matrix_rank(xtx) < ident.sum():
            return "collinear", None, [], n_used, dropped_rows, dropped_cells, 0
        inv = np.linalg.inv(xtx)
        beta = inv @ xty
        ps = np.flatnonzero(ident) + 1                      # prime codes of the columns
        # x~_cp for every (cell, prime): e_p - pi_c restricted to the identified columns
        xt = ((np.arange(P)[None, :, None] == ps[None, None, :]).astype(float)
              - pic[:, ps][:, None, :])
        fitted = ybar_c[sel][:, None] + xt @ beta            # (cells, P)
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

    return (np.concatenate(betas), block_diag(*blocks), cols, n_used, dropped_rows,
            dropped_cells, lev_one)


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
        return {"rates": self.rates.to_dict(), "prime_effects": self.prime_effects.to_dict(),
                "interaction": self.interaction.to_dict(),
                "checks": self.checks.to_dict(orient="records")}


def group_differences(data: pd.DataFrame, outcome: str, *, group: str = "payment_group",
                      prime_col: str = "prime", cpa_col: str = "cpa",
                      blocks: Sequence[str] = ("district", "period"), alpha: float = 0.05,
                      adjust: str = "holm") -> GroupDifferences:
    """Outcome rates by payment group and tests of prime x group interaction within CPAs.

    Parameters
    ----------
    data : DataFrame
        Referral-level data with ``outcome``, ``group``, ``prime_col``, ``cpa_col`` and the
        ``blocks`` columns. ``period`` is derived as the quarter of ``referral_date``
        (e.g. ``"2011Q3"``) when absent.
    outcome : str
        Numeric or boolean column, e.g. ``job_outcome_24m`` from
        :func:`wpeval.outcomes.outcome_flags`; rows where it is missing are left out
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
    df = data
    notes = []
    period_codes = None
    _need(df, [outcome, group, prime_col, cpa_col])
    if "period" in blocks and "period" not in df.columns:
        _need(df, ["referral_date"])
        ref = df["referral_date"]
        if not pd.api.types.is_datetime64_any_dtype(ref):
            raise DataContractError("referral_date must be a datetime column to derive the "
                                    f"quarter period, got {ref.dtype}", column="referral_date",
                                    rule="datetime")
        months = ref.to_numpy().astype("datetime64[M]")
        period_codes = months.astype(np.int64) // 3  # calendar quarter index
        period_codes = np.where(np.isnat(months), -1, period_codes)
        notes.append("period = quarter of referral_date")
    _need(df, [outcome, group, prime_col, cpa_col, *[b for b in blocks if b != "period"
                                                     or period_codes is None]])
    y_all = _outcome(df, outcome)
    ok = ~np.isnan(y_all)
    if not ok.any():
        raise DataContractError(f"no rows with an observed {outcome!r} ({len(df)} rows, all "
                                "missing)", column=outcome, rule="not_null")
    rates = group_rates(df, outcome, group, alpha)
    y_all = y_all[ok]

    def codes_of(col):
        codes, labels = _factorize(df[col].to_numpy()[ok])
        if (codes < 0).any():
            bad = np.flatnonzero(ok)[codes < 0]
            ids = (df["person_id"].to_numpy()[bad][:5].tolist() if "person_id" in df.columns
                   else df.index[bad][:5].tolist())
            raise DataContractError(f"{col} has missing values", column=col, rule="not_null",
                                    examples=ids)
        return codes.astype(np.int64), [str(v) for v in labels]

    cpa_codes, cpa_labels = codes_of(cpa_col)
    grp_codes, groups = codes_of(group)
    prime_all, prime_labels = codes_of(prime_col)
    cell_all = np.zeros(y_all.size, dtype=np.int64)
    for b in blocks:
        if b == "period" and period_codes is not None:
            if (period_codes[ok] < 0).any():
                raise DataContractError("referral_date has missing values (needed for the "
                                        "period)", column="referral_date", rule="not_null")
            bc = _dense(period_codes[ok])
        else:
            bc = codes_of(b)[0]
        cell_all = _dense(cell_all * (int(bc.max(initial=0)) + 1) + bc)
    cell_all = _dense(cell_all * len(groups) + grp_codes)
    order = np.argsort(cpa_codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(cpa_codes[order]) != 0, True])
    effects, tests, checks = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        c = cpa_labels[cpa_codes[idx[0]]]
        used_primes = np.flatnonzero(np.bincount(prime_all[idx], minlength=len(prime_labels)))
        p_codes = np.searchsorted(used_primes, prime_all[idx])
        primes = [prime_labels[i] for i in used_primes]
        cell = _dense(cell_all[idx])
        row = {"cpa": c, "rows": int(idx.size), "primes": len(primes)}
        if len(primes) < 2:
            checks.append({**row, "rows_used": 0, "rows_dropped": int(idx.size),
                           "cells_dropped": 0, "groups_tested": 0, "leverage_one": 0,
                           "tested": False, "reason": "one prime only"})
            continue
        beta, V, cols, n_used, d_rows, d_cells, lev1 = _cpa_fit(
            y_all[idx], cell, grp_codes[idx], p_codes, groups, primes)
        row.update(rows_used=n_used, rows_dropped=d_rows, cells_dropped=d_cells,
                   leverage_one=lev1)
        if beta is None:
            checks.append({**row, "groups_tested": 0, "tested": False,
                           "reason": "no stratum x group cell with two primes"})
            continue
        if isinstance(beta, str):
            checks.append({**row, "groups_tested": 0, "tested": False,
                           "reason": "prime effects not separately identified (strata of a "
                           "group lack the reference prime)"})
            continue
        se = np.sqrt(np.clip(np.diag(V), 0, None))
        lo, hi = stats.norm.ppf(alpha / 2), stats.norm.ppf(1 - alpha / 2)
        for j, (g, p) in enumerate(cols):
            effects.append({"term": f"{c} | {groups[g]} | {primes[p]} - {primes[0]}",
                            "cpa": c, "group": groups[g], "prime": primes[p],
                            "reference": primes[0], "estimate": beta[j], "std_error": se[j],
                            "statistic": beta[j] / se[j] if se[j] > 0 else np.nan,
                            "p_value": 2 * stats.norm.sf(abs(beta[j] / se[j]))
                            if se[j] > 0 else np.nan,
                            "conf_low": beta[j] + lo * se[j], "conf_high": beta[j] + hi * se[j],
                            "n": n_used})
        R = []
        for p in range(1, len(primes)):
            js = [j for j, (g, pp) in enumerate(cols) if pp == p]
            for j in js[1:]:
                r = np.zeros(len(cols))
                r[js[0]], r[j] = 1.0, -1.0
                R.append(r)
        groups_tested = len({g for g, _ in cols})
        if not R:
            checks.append({**row, "groups_tested": groups_tested, "tested": False,
                           "reason": "prime effect identified in fewer than two groups"})
            continue
        R = np.array(R)
        rb = R @ beta
        rvr = R @ V @ R.T
        dfq = int(np.linalg.matrix_rank(rvr))
        if dfq == 0:
            checks.append({**row, "groups_tested": groups_tested, "tested": False,
                           "reason": "zero variance of the contrasts"})
            continue
        W = float(rb @ np.linalg.pinv(rvr) @ rb)
        tests.append({"term": c, "estimate": W, "statistic": W, "df": dfq,
                      "p_value": float(stats.chi2.sf(W, dfq)), "n": n_used,
                      "groups": groups_tested, "primes": len(primes)})
        checks.append({**row, "groups_tested": groups_tested, "tested": True, "reason": ""})
    checks = pd.DataFrame(checks)
    if not tests:
        raise DesignError("no CPA supports a prime x group interaction test: every CPA needs "
                          "two groups whose strata contain at least two primes")
    tests = pd.DataFrame(tests)
    from ..inference.multiplicity import adjust_pvalues  # the one adjustment path

    tests["p_adjusted"] = adjust_pvalues(tests["p_value"].to_numpy(dtype=float), adjust)
    untested = checks.loc[~checks["tested"], "cpa"].tolist()
    n_drop = int(checks["rows_dropped"].sum())
    n_lev = int(checks["leverage_one"].sum())
    if untested or n_drop or n_lev:
        warnings.warn(f"group_differences: {n_drop:,} rows in strata with a single prime "
                      f"dropped; {n_lev:,} rows with leverage one given zero weight in the "
                      f"HC2 variance; CPAs not tested: {untested or 'none'} (see .checks)",
                      StatisticalWarning, stacklevel=2)
    design = f"randomised within {' x '.join(blocks)} x {group} (stratum x group fixed effects)"
    base = {"se_type": "HC2", "design": design, "alpha": alpha, "blocks": blocks,
            "outcome": outcome, "notes": "; ".join(notes),
            "rows_missing_outcome": int((~ok).sum())}
    prime_effects = EffectTable(pd.DataFrame(effects), {
        **base, "estimator": "OLS with stratum x group fixed effects (within-group prime "
        "effects)", "ci_method": "normal"}, title=f"Prime effects on {outcome} by {group}")
    interaction = EffectTable(tests, {
        **base, "estimator": f"Wald test of equal prime effects across {group} (chi-square)",
        "ci_method": "none", "adjust": adjust}, title=f"Prime x {group} interaction on {outcome}")
    return GroupDifferences(rates=rates, prime_effects=prime_effects, interaction=interaction,
                            checks=checks)


def creaming_and_parking(data: pd.DataFrame, *, outcome: str = "job_outcome_24m",
                         stream_col: str = "assessed_stream", prime_col: str = "prime",
                         by_cpa: bool = False, paid=None, alpha: float = 0.05) -> EffectTable:
    """Outcomes and payments per participant by assessed stream and prime.

    Providers classify participants by distance from work (job ready / needs support /
    furthest from work) and were found to concentrate effort on the job-ready ("creaming")
    and give the furthest little support ("parking") [RR821]. This table shows, for each
    stream and prime, the job-outcome rate and the payments per participant.

    Parameters
    ----------
    data : DataFrame
        Referral-level data with ``stream_col``, ``prime_col``, ``outcome`` (e.g. from
        :func:`wpeval.outcomes.outcome_flags`; missing = window not observed, left out of the
        rate), ``job_start_date``; ``cpa`` when ``by_cpa``.
    outcome : str, default "job_outcome_24m"
        0/1 outcome whose rate is reported (``estimate``).
    stream_col, prime_col : str
        Columns of the assessed stream and the prime.
    by_cpa : bool, default False
        Break down by CPA as well (primes are compared within CPA only by the random
        allocation; across CPAs the comparison is descriptive).
    paid : array-like or PaymentsResult, optional
        Payments per referral (aligned with ``data``); by default computed with
        :func:`wpeval.payments.payments` and the default tariff.
    alpha : float, default 0.05
        For the Wilson intervals of the rate.

    Returns
    -------
    EffectTable
        One row per stream x prime: ``estimate`` = outcome rate (Wilson CI, ``n`` = referrals
        with the outcome observed), plus ``referrals``, ``share_of_prime`` (the stream's share
        of the prime's referrals), ``job_entry_rate`` (any job start recorded),
        ``paid_per_participant`` and ``paid_per_job_outcome`` (pounds, all payments to date).

    Notes
    -----
    The stream is assessed by the provider after allocation, so it can differ between primes
    for the same person: differences by stream within a prime are descriptive, not causal.
    """
    from ..payments import PaymentsResult, payments

    alpha = check_alpha(alpha)
    _need(data, [stream_col, prime_col, outcome, "job_start_date"]
          + (["cpa"] if by_cpa else []))
    if len(data) == 0:
        raise DataContractError("no referrals: the data are empty", column=outcome,
                                rule="non_empty")
    y = _outcome(data, outcome)
    notbin = ~np.isnan(y) & (y != 0) & (y != 1)
    if notbin.any():
        ids = (data["person_id"].to_numpy()[notbin][:5].tolist() if "person_id" in data.columns
               else data.index[notbin][:5].tolist())
        raise DataContractError(f"{outcome!r} must be a 0/1 outcome (rate per stream)",
                                column=outcome, rule="binary", examples=ids)
    if paid is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            paid = payments(data, warn=False).referrals["total_paid"].to_numpy()
    elif isinstance(paid, PaymentsResult):
        paid = paid.referrals["total_paid"].to_numpy()
    paid = np.asarray(paid, dtype=float)
    if paid.shape != (len(data),):
        raise ParameterError("paid must have one value per row of data")
    keys = (["cpa"] if by_cpa else []) + [stream_col, prime_col]
    frame = pd.DataFrame({k: data[k].astype(str).to_numpy() for k in keys})
    known = STREAMS + sorted(set(frame[stream_col]) - set(STREAMS))
    frame[stream_col] = pd.Categorical(frame[stream_col], categories=known, ordered=True)
    frame["obs"] = ~np.isnan(y)
    frame["y"] = np.nan_to_num(y)
    frame["entry"] = data["job_start_date"].notna().to_numpy()
    frame["jo"] = data["job_outcome_date"].notna().to_numpy() if "job_outcome_date" in data \
        else np.nan
    frame["paid"] = paid
    agg = frame.groupby(keys, sort=True, observed=True).agg(
        referrals=("obs", "size"), n=("obs", "sum"), k=("y", "sum"), entry=("entry", "mean"),
        jo=("jo", "sum"), paid=("paid", "sum"))
    agg = agg.reset_index()
    prime_keys = (["cpa"] if by_cpa else []) + [prime_col]
    agg["share_of_prime"] = agg["referrals"] / agg.groupby(
        prime_keys, observed=True)["referrals"].transform("sum")
    n, k = agg["n"].to_numpy(float), agg["k"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        lo, hi = _wilson(k, np.maximum(n, 1), alpha)
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    notes = ""
    if (n == 0).any():
        notes = (f"{int((n == 0).sum())} stream x prime cells have no referral with {outcome} "
                 "observed: rate left missing")
        warnings.warn(notes, StatisticalWarning, stacklevel=2)
    term = agg[keys].astype(str).agg(" | ".join, axis=1)
    table = pd.DataFrame({
        "term": term, "estimate": est, "std_error": np.sqrt(est * (1 - est) / np.maximum(n, 1)),
        "conf_low": lo, "conf_high": hi, "n": n.astype(int),
        **{c: agg[c] for c in keys}, "referrals": agg["referrals"],
        "share_of_prime": agg["share_of_prime"], "job_entry_rate": agg["entry"],
        "paid_per_participant": agg["paid"] / agg["referrals"],
        "paid_per_job_outcome": agg["paid"] / agg["jo"].where(agg["jo"] > 0)})
    return EffectTable(table, {
        "estimator": f"{outcome} rate and payments per participant by {stream_col} and prime",
        "se_type": "binomial", "ci_method": "Wilson score",
        "design": "descriptive (the stream is assessed after allocation)", "alpha": alpha,
        **({"notes": notes} if notes else {})},
        title=f"Creaming and parking: outcomes and payments by {stream_col} and prime")
