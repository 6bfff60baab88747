"""The randomised allocation design: strata, allocation probabilities, balance checks.

Claimants were allocated at random to one of the primes of their CPA within each Jobcentre
Plus district; shares were equal and then, from late 2013, shifted by payment group. The design
strata are therefore district x period (x payment group when shares differ by group), with
period the quarter of referral by default so that shares are constant within a stratum.

Functions here describe that design; the checks that the allocation followed it
(:func:`allocation_balance`, :func:`covariate_balance`) are in :mod:`wpeval.data.balance`.
They feed notebook 01 (data checks).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError

FREQS = ("Q", "M", "H")

# the balance checks live in wpeval.data.balance; still importable from here
_BALANCE = ("AllocationBalance", "allocation_balance", "covariate_balance")


def __getattr__(name: str):
    if name in _BALANCE:
        from wpeval.data import balance

        return getattr(balance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
