"""The randomised allocation design: strata, allocation probabilities, balance checks.

Claimants were allocated at random to one of the primes of their CPA within each Jobcentre
Plus district; shares were equal and then, from late 2013, shifted by payment group. The design
strata are therefore district x period (x payment group when shares differ by group), with
period the quarter of referral by default so that shares are constant within a stratum.

Functions here describe and check that design; they feed notebook 01 (data checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, DesignError, ParameterError
from wpeval.results import EffectTable

FREQS = ("Q", "M", "H")


def add_period(df: pd.DataFrame, freq: str = "Q", *, column: str = "period") -> pd.DataFrame:
    """Return a copy of ``df`` with the referral period as a categorical string column.

    Parameters
    ----------
    df : DataFrame
        Needs ``referral_date`` (datetime64).
    freq : {"Q", "M", "H"}, default "Q"
        Quarter (``"2011Q3"``), month (``"2011-06"``) or half-year (``"2011H1"``).
    column : str, default "period"
        Name of the new column.

    Returns
    -------
    DataFrame
        A copy with ``column`` added (categorical; categories sorted, which is chronological).
    """
    if freq not in FREQS:
        raise ParameterError(f"freq must be one of {FREQS}, not {freq!r}")
    if "referral_date" not in df.columns:
        raise DataContractError(
            "add_period needs referral_date", column="referral_date", rule="missing_columns"
        )
    d = df["referral_date"]
    if not pd.api.types.is_datetime64_any_dtype(d):
        raise DataContractError(
            "referral_date must be datetime64 (run wpeval.validate first)",
            column="referral_date",
            rule="unparsable_date",
        )
    year = d.dt.year.to_numpy()
    month = d.dt.month.to_numpy()
    nat = d.isna().to_numpy()
    if freq == "Q":
        sub, fmt = (month - 1) // 3 + 1, "{y}Q{s}"
        per_year = 4
    elif freq == "H":
        sub, fmt = (month - 1) // 6 + 1, "{y}H{s}"
        per_year = 2
    else:
        sub, fmt = month, "{y}-{s:02d}"
        per_year = 12
    code = np.where(
        nat,
        -1,
        np.nan_to_num(year, nan=0).astype(np.int64) * per_year
        + np.nan_to_num(sub, nan=1).astype(np.int64)
        - 1,
    )
    uniq, inv = np.unique(code[~nat], return_inverse=True)
    labels = [fmt.format(y=u // per_year, s=u % per_year + 1) for u in uniq]
    codes = np.full(len(d), -1, dtype=np.int64)
    codes[~nat] = inv
    out = df.copy()
    out[column] = pd.Categorical.from_codes(codes, categories=labels)
    return out


def _with_blocks(df: pd.DataFrame, blocks: Sequence[str], freq: str) -> pd.DataFrame:
    blocks = list(blocks)
    if "period" in blocks and "period" not in df.columns:
        df = add_period(df, freq)
    missing = [b for b in blocks if b not in df.columns]
    if missing:
        raise DataContractError(
            f"block column(s) {missing} not in the data", column=missing[0], rule="missing_columns"
        )
    return df


def stratum_key(
    df: pd.DataFrame, blocks: Sequence[str] = ("district", "period"), freq: str = "Q"
) -> np.ndarray:
    """Integer code of each row's stratum (rows with a missing block value get -1).

    Parameters
    ----------
    df : DataFrame
    blocks : sequence of str, default ("district", "period")
        Columns defining the strata; ``period`` is added with :func:`add_period` if absent.
    freq : str, default "Q"
        Period frequency when ``period`` must be added.
    """
    df = _with_blocks(df, blocks, freq)
    return df.groupby(list(blocks), observed=True, sort=True).ngroup().to_numpy()


def allocation_design(
    df: pd.DataFrame,
    *,
    blocks: Sequence[str] = ("district", "period", "payment_group"),
    freq: str = "Q",
) -> pd.DataFrame:
    """The empirical allocation design: counts, shares and allocation probabilities.

    Parameters
    ----------
    df : DataFrame
        Validated referrals (``cpa``, ``prime`` and the block columns).
    blocks : sequence of str, default ("district", "period", "payment_group")
        Stratum columns (``cpa`` is added to the key; strata must nest in CPAs).
    freq : str, default "Q"
        Period frequency when ``period`` must be added.

    Returns
    -------
    DataFrame
        One row per stratum x prime of the CPA (primes with no referral in the stratum
        included with ``n = 0``): block columns, ``cpa, prime, n, n_stratum, share,
        allocation_prob, prob_source``. ``allocation_prob`` is the mean recorded
        ``allocation_prob`` (``prob_source = "recorded"``); for a prime with no row in the
        stratum it is the unassigned probability split equally among such primes
        (``"residual"``); without the column it is the observed share
        (``"estimated"``: an estimate, not the design).
    """
    df = _with_blocks(df, blocks, freq)
    key = [b for b in blocks if b != "cpa"] + ["cpa"]
    for c in ("cpa", "prime"):
        if c not in df.columns:
            raise DataContractError(
                f"allocation_design needs {c}", column=c, rule="missing_columns"
            )
    cols = key + ["prime"] + (["allocation_prob"] if "allocation_prob" in df.columns else [])
    g = df[cols].groupby(key + ["prime"], observed=True, sort=True)
    cells = g.size().rename("n").reset_index()
    if "allocation_prob" in df.columns:
        cells["allocation_prob"] = g["allocation_prob"].mean().to_numpy()
    primes = df[["cpa", "prime"]].drop_duplicates().astype(str).sort_values(["cpa", "prime"])
    strata = cells[key].drop_duplicates()
    strata_str = strata.assign(cpa=strata["cpa"].astype(str))
    grid = strata_str.merge(primes, on="cpa", how="left")
    cells_str = cells.assign(cpa=cells["cpa"].astype(str), prime=cells["prime"].astype(str))
    for b in key:
        if b != "cpa":
            grid[b] = grid[b].astype(str)
            cells_str[b] = cells_str[b].astype(str)
    out = grid.merge(cells_str, on=key + ["prime"], how="left")
    out["n"] = out["n"].fillna(0).astype(np.int64)
    skey = out.groupby(key, sort=False).ngroup().to_numpy()
    n_str = np.bincount(skey, weights=out["n"].to_numpy())
    out["n_stratum"] = n_str[skey].astype(np.int64)
    out["share"] = out["n"] / out["n_stratum"]
    if "allocation_prob" in out.columns:
        p = out["allocation_prob"].to_numpy(dtype=float)
        have = ~np.isnan(p)
        assigned = np.bincount(skey, weights=np.where(have, p, 0.0))
        n_miss = np.bincount(skey, weights=(~have).astype(float))
        resid = np.where(
            n_miss[skey] > 0, (1 - assigned[skey]) / np.maximum(n_miss[skey], 1), np.nan
        )
        out["allocation_prob"] = np.where(have, p, resid)
        out["prob_source"] = np.where(have, "recorded", "residual")
    else:
        out["allocation_prob"] = out["share"]
        out["prob_source"] = "estimated"
    return out[key + ["prime", "n", "n_stratum", "share", "allocation_prob", "prob_source"]]


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
    cells = cells.rename(columns={"n": "observed"})
    cells["expected"] = cells["n_stratum"] * cells["allocation_prob"]

    rows, con_rows = [], []
    for cpa, sub in cells.groupby("cpa", sort=True):
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
            np.sum(
                np.where(e > 0, (sub["observed"].to_numpy() - e) ** 2 / np.where(e > 0, e, 1), 0.0)
            )
        )
        pdf = int(((sub["allocation_prob"] > 0) & (sub["n_stratum"] > 0)).sum() - (ns > 0).sum())
        n_c = ns.sum()
        rows.append(
            dict(
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
        )
        var = np.diag(v)
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
    tab = pd.DataFrame(rows)
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
    tab = pd.concat([tab, pd.DataFrame([tot])], ignore_index=True)
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
