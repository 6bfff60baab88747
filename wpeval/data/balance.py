"""Balance checks of the randomised allocation: did it follow the design?

:func:`allocation_balance` tests the counts allocated to each prime against the design
probabilities (a design-based chi-square test per CPA and overall, with each contract's
observed and expected share); :func:`covariate_balance` gives standardised mean differences of
covariates between each prime and the others, raw and within randomisation blocks. The design
itself (periods, strata, allocation probabilities) is in :mod:`wpeval.data.design`, which still
re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.data.design import _with_blocks, allocation_design
from wpeval.exceptions import DesignError, ParameterError
from wpeval.results import EffectTable

__all__ = ["AllocationBalance", "allocation_balance", "covariate_balance"]


@dataclass(frozen=True)
class AllocationBalance:
    """Observed vs expected allocation.

    Attributes
    ----------
    cells : DataFrame
        Stratum x prime: ``observed, expected, allocation_prob`` (plus keys).
    contracts : DataFrame
        Per contract: ``cpa, prime, observed, expected, share_observed, share_expected,
        diff, std_error`` (share difference and its design SE).
    tests : EffectTable
        One term per CPA and ``"overall"``: the design-based chi-square test.
    """

    cells: pd.DataFrame
    contracts: pd.DataFrame
    tests: EffectTable

    def tidy(self) -> pd.DataFrame:
        return self.tests.tidy()

    def _repr_html_(self) -> str:
        return self.tests._repr_html_()


def allocation_balance(
    df: pd.DataFrame,
    design: pd.DataFrame | None = None,
    *,
    blocks: Sequence[str] = ("district", "period", "payment_group"),
    freq: str = "Q",
) -> AllocationBalance:
    """Test whether the allocation to primes matches the design probabilities.

    Estimand / test: under the design, within stratum s the counts allocated to the ``k``
    primes of the CPA are multinomial(n_s, p_s). Summing over the CPA's strata,
    ``D = sum_s (O_s - n_s p_s)`` has mean 0 and covariance
    ``V = sum_s n_s (diag(p_s) - p_s p_s')``; the statistic ``D' V^- D`` (first ``k-1``
    primes, so V is invertible) is asymptotically chi-square with ``k-1`` df as the number of
    referrals grows, even when the strata are small (it aggregates before squaring). The
    overall statistic sums the CPA statistics (independent CPAs), with summed df. A stratum
    level Pearson statistic ``sum (O - E)^2 / E`` with ``sum_s (k_s - 1)`` df is reported too
    (``pearson_*`` columns); it is sensitive to misallocation that cancels across strata but
    its chi-square approximation needs expected counts of about 5 or more.

    Parameters
    ----------
    df : DataFrame
        Validated referrals.
    design : DataFrame, optional
        Allocation probabilities with the block columns, ``prime`` and ``allocation_prob``
        (e.g. ``SyntheticProgramme.design``). Default: the recorded ``allocation_prob``
        (:func:`allocation_design`); without it, equal shares among the CPA's primes are
        tested.
    blocks : sequence of str, default ("district", "period", "payment_group")
    freq : str, default "Q"

    Returns
    -------
    AllocationBalance
    """
    from scipy import stats

    df = _with_blocks(df, blocks, freq)
    cells = allocation_design(df, blocks=blocks, freq=freq)
    key = [b for b in blocks if b != "cpa"] + ["cpa"]
    cells, source = _with_probabilities(cells, design, blocks, key)
    cells = cells.rename(columns={"n": "observed"})
    cells["expected"] = cells["n_stratum"] * cells["allocation_prob"]

    rows, con_rows = [], []
    for cpa, sub in cells.groupby("cpa", sort=True):
        row, contracts = _cpa_test(cpa, sub, key, stats)
        rows.append(row)
        con_rows += contracts
    tab = pd.DataFrame(rows)
    tab = pd.concat([tab, pd.DataFrame([_overall(tab, stats)])], ignore_index=True)
    tests = EffectTable(
        tab,
        method=dict(
            estimator="design-based chi-square test of allocation counts (aggregated over strata)",
            se_type="multinomial design variance",
            ci_method="none",
            design=f"blocked by {' x '.join(key)}; probabilities: {source}",
            notes="estimate = statistic (chi-square); pearson_* = stratum-level Pearson test",
        ),
        title="Allocation balance: observed vs expected allocation by CPA",
    )
    return AllocationBalance(cells=cells, contracts=pd.DataFrame(con_rows), tests=tests)


def _with_probabilities(cells: pd.DataFrame, design, blocks, key) -> tuple[pd.DataFrame, str]:
    """The allocation probability of each stratum x prime cell and where it comes from: the
    design table when given, else the recorded ``allocation_prob``, else equal shares."""
    if design is not None:
        need = [b for b in blocks if b != "cpa"] + ["prime", "allocation_prob"]
        miss = [c for c in need if c not in design.columns]
        if miss:
            raise ParameterError(f"design lacks columns {miss}")
        des = design[need].copy()
        for c in need[:-1]:
            des[c] = des[c].astype(str)
        cells = cells.drop(columns=["allocation_prob", "prob_source"]).merge(
            des, on=need[:-1], how="left"
        )
        if cells["allocation_prob"].isna().any():
            bad = cells.loc[cells["allocation_prob"].isna(), need[:-1]].iloc[0].to_dict()
            raise DesignError(f"design has no allocation probability for {bad}")
        source = "design table"
    elif (cells["prob_source"] == "estimated").all():
        k = cells.groupby(key, sort=False)["prime"].transform("size")
        cells["allocation_prob"] = 1.0 / k
        source = "equal shares assumed (no allocation_prob)"
    else:
        source = "recorded allocation_prob"
    return cells, source


def _cpa_test(cpa, sub: pd.DataFrame, key, stats) -> tuple[dict, list[dict]]:
    """One CPA's aggregated chi-square test and stratum-level Pearson test (the test row) and
    each contract's observed and expected share with its design SE (the contract rows)."""
    primes = sorted(sub["prime"].unique())
    k = len(primes)
    if k < 2:
        raise DesignError(f"CPA {cpa} has one prime only: nothing to test")
    j = pd.Categorical(sub["prime"], categories=primes).codes
    s = sub.groupby(key, sort=False).ngroup().to_numpy()
    ns = np.bincount(s, weights=sub["observed"].to_numpy())
    p = np.zeros((ns.size, k))
    p[s, j] = sub["allocation_prob"].to_numpy()
    o = np.zeros((ns.size, k))
    o[s, j] = sub["observed"].to_numpy()
    dvec = (o - ns[:, None] * p).sum(axis=0)
    v = np.diag((ns[:, None] * p).sum(axis=0)) - (p * ns[:, None]).T @ p
    stat = float(dvec[:-1] @ np.linalg.solve(v[:-1, :-1], dvec[:-1]))
    e = sub["expected"].to_numpy()
    pear = float(
        np.sum(np.where(e > 0, (sub["observed"].to_numpy() - e) ** 2 / np.where(e > 0, e, 1), 0.0))
    )
    pdf = int(((sub["allocation_prob"] > 0) & (sub["n_stratum"] > 0)).sum() - (ns > 0).sum())
    n_c = ns.sum()
    row = dict(
        term=str(cpa),
        estimate=stat,
        statistic=stat,
        df=k - 1,
        p_value=float(stats.chi2.sf(stat, k - 1)),
        n=int(n_c),
        pearson_stat=pear,
        pearson_df=pdf,
        pearson_p=float(stats.chi2.sf(pear, pdf)) if pdf > 0 else np.nan,
    )
    var = np.diag(v)
    con_rows = []
    for jj, prime in enumerate(primes):
        ob, ex = o[:, jj].sum(), (ns * p[:, jj]).sum()
        con_rows.append(
            dict(
                cpa=str(cpa),
                prime=prime,
                observed=int(ob),
                expected=ex,
                share_observed=ob / n_c,
                share_expected=ex / n_c,
                diff=(ob - ex) / n_c,
                std_error=np.sqrt(var[jj]) / n_c,
            )
        )
    return row, con_rows


def _overall(tab: pd.DataFrame, stats) -> dict:
    """The overall row: the CPA statistics and df summed (independent CPAs)."""
    tot = dict(
        term="overall",
        estimate=tab["statistic"].sum(),
        statistic=tab["statistic"].sum(),
        df=int(tab["df"].sum()),
        n=int(tab["n"].sum()),
        pearson_stat=tab["pearson_stat"].sum(),
        pearson_df=int(tab["pearson_df"].sum()),
    )
    tot["p_value"] = float(stats.chi2.sf(tot["statistic"], tot["df"]))
    tot["pearson_p"] = float(stats.chi2.sf(tot["pearson_stat"], tot["pearson_df"]))
    return tot


def covariate_balance(
    df: pd.DataFrame,
    covariates: Sequence[str],
    *,
    within: Sequence[str] = ("cpa",),
    blocks: Sequence[str] = ("district", "period", "payment_group"),
    freq: str = "Q",
) -> pd.DataFrame:
    """Standardised mean differences of covariates between each prime and the other primes.

    Within each ``within`` group (a CPA by default), for prime j: raw SMD
    ``(mean_j - mean_rest) / s`` and block-adjusted SMD ``(mean_j(x~) - mean_rest(x~)) / s``
    where ``x~ = x - mean of x in the row's block`` (blocks: district x period x payment
    group), which is centred at (about) 0 under randomisation within blocks even when allocation
    shares differ between blocks; ``s = sqrt((var_j + var_rest) / 2)`` of the raw covariate
    (variances with divisor n).
    Categorical covariates become one indicator per level (``"sex=M"``); booleans 0/1.
    Rows with a missing covariate are left out for that covariate.

    Parameters
    ----------
    df : DataFrame
        Validated referrals.
    covariates : sequence of str
        Covariate columns.
    within : sequence of str, default ("cpa",)
        Groups inside which primes are compared.
    blocks : sequence of str, default ("district", "period", "payment_group")
        Randomisation blocks for the adjustment.
    freq : str, default "Q"

    Returns
    -------
    DataFrame
        ``*within, prime, covariate, n_prime, n_rest, mean_prime, mean_rest, smd_raw,
        smd_adjusted``.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    miss = [c for c in covariates if c not in df.columns]
    if miss:
        raise ParameterError(f"covariates not in the data: {miss}")
    df = _with_blocks(df, blocks, freq)
    within = list(within)
    w = df.groupby(within, observed=True, sort=True).ngroup().to_numpy()
    b = df.groupby(list(blocks) + within, observed=True, sort=False).ngroup().to_numpy()
    wp = df.groupby(within + ["prime"], observed=True, sort=True)
    cell = wp.ngroup().to_numpy()
    cell_keys = wp.size().reset_index()[within + ["prime"]]
    cell_w = np.zeros(len(cell_keys), dtype=np.int64)
    cell_w[cell] = w
    xs = {}
    for c in covariates:
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            for lev in sorted(s.dropna().unique(), key=str):
                xs[f"{c}={lev}"] = np.where(s.isna(), np.nan, (s == lev).astype(float))
        else:
            xs[c] = pd.to_numeric(s.astype("float64"), errors="coerce").to_numpy()
    out = []
    nb, nw, nc = b.max() + 1, w.max() + 1, len(cell_keys)
    for name, x in xs.items():
        ok = ~np.isnan(x)
        x0 = np.where(ok, x, 0.0)
        okf = ok.astype(float)
        bm = np.bincount(b, weights=x0, minlength=nb) / np.maximum(
            np.bincount(b, weights=okf, minlength=nb), 1
        )
        xt = np.where(ok, x - bm[b], 0.0)
        sums = {
            k: np.bincount(idx, weights=v, minlength=m)
            for k, idx, v, m in (
                ("n_c", cell, okf, nc),
                ("x_c", cell, x0, nc),
                ("xx_c", cell, x0 * x0, nc),
                ("t_c", cell, xt, nc),
                ("n_w", w, okf, nw),
                ("x_w", w, x0, nw),
                ("xx_w", w, x0 * x0, nw),
                ("t_w", w, xt, nw),
            )
        }
        n_j = sums["n_c"]
        n_r = sums["n_w"][cell_w] - n_j
        with np.errstate(invalid="ignore", divide="ignore"):
            m_j = sums["x_c"] / n_j
            m_r = (sums["x_w"][cell_w] - sums["x_c"]) / n_r
            v_j = sums["xx_c"] / n_j - m_j**2
            v_r = (sums["xx_w"][cell_w] - sums["xx_c"]) / n_r - m_r**2
            sd = np.sqrt((v_j + v_r) / 2)
            t_j = sums["t_c"] / n_j
            t_r = (sums["t_w"][cell_w] - sums["t_c"]) / n_r
            smd_raw = np.where(sd > 0, (m_j - m_r) / sd, 0.0)
            smd_adj = np.where(sd > 0, (t_j - t_r) / sd, 0.0)
        o = cell_keys.copy()
        o["covariate"] = name
        o["n_prime"], o["n_rest"] = n_j.astype(np.int64), n_r.astype(np.int64)
        o["mean_prime"], o["mean_rest"] = m_j, m_r
        o["smd_raw"], o["smd_adjusted"] = smd_raw, smd_adj
        out.append(o)
    res = pd.concat(out, ignore_index=True)
    for c in within + ["prime"]:
        res[c] = res[c].astype(str)
    return res
