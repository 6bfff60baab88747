"""Contract effects: each contract against its CPA average, from comparisons inside
randomisation strata, with a Neyman variance and the full within-CPA covariance."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.ranking._input import _check_alpha, _prepare
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable, ci_normal


def _effects(data, outcome, cpa_col, prime_col, blocks, reference):
    """Core of :func:`contract_effects`: (table, covariance, info)."""
    if reference not in ("stratum", "equal"):
        raise ParameterError("reference must be 'stratum' or 'equal'")
    blocks = [blocks] if isinstance(blocks, str) else list(blocks)
    if not blocks or any(not isinstance(b, str) for b in blocks):
        raise ParameterError("blocks must be a non-empty sequence of column names")
    work, n_missing = _prepare(data, outcome, [cpa_col, prime_col, *blocks])
    n_all = len(work)
    agg, raw = _cells(work, outcome, cpa_col, prime_col, blocks)
    agg, n_small_rows, n_one_arm_rows, n_one_arm_strata = _comparable(agg, raw, blocks)
    cov = _covariances(agg, reference)
    tab, V = _estimates(agg, cov, raw)
    info = {
        "n_rows_used": int(agg["n"].sum()),
        "n_rows_with_outcome": n_all,
        "n_dropped_missing_outcome": n_missing,
        "n_dropped_singleton_cells": n_small_rows,
        "n_dropped_single_prime_strata": n_one_arm_rows,
        "n_single_prime_strata": n_one_arm_strata,
        "n_strata": int(agg["stratum"].nunique()),
    }
    return tab, V, info


def _cells(work, outcome, cpa_col, prime_col, blocks):
    """Size, mean and variance of the outcome in each CPA x stratum x prime cell, and each
    contract's size and raw rate over all its rows."""
    agg = (
        work.groupby([cpa_col, *blocks, prime_col], observed=True, sort=True)[outcome]
        .agg(n="size", mean="mean", var="var")
        .reset_index()
    )
    agg = agg.rename(columns={cpa_col: "cpa", prime_col: "prime"})
    agg["cpa"], agg["prime"] = agg["cpa"].astype(str), agg["prime"].astype(str)
    raw = work.groupby([cpa_col, prime_col], observed=True, sort=True)[outcome].agg(
        ["size", "mean"]
    )
    raw.index = pd.MultiIndex.from_arrays(
        [raw.index.get_level_values(i).astype(str) for i in range(2)]
    )
    return agg, raw


def _comparable(agg, raw, blocks):
    """The cells that take part in within-stratum comparisons: cells of one referral and
    strata with a single prime are dropped (counted, with a warning). Refuses data where no
    stratum compares primes or where a contract shares no stratum with another prime."""
    # arms of one person have no variance: treat the prime as absent from that stratum
    small = agg["n"] < 2
    n_small_rows = int(agg.loc[small, "n"].sum())
    agg = agg.loc[~small].copy()
    agg["stratum"] = agg.groupby(["cpa", *blocks], observed=True, sort=True).ngroup()
    agg["k"] = agg.groupby("stratum")["prime"].transform("size")
    one_arm = agg["k"] < 2
    n_one_arm_strata = int(agg.loc[one_arm, "stratum"].nunique())
    n_one_arm_rows = int(agg.loc[one_arm, "n"].sum())
    agg = agg.loc[~one_arm].copy()
    if agg.empty:
        raise DesignError(
            "no stratum holds two or more primes with at least 2 referrals each; "
            "within-CPA comparisons are impossible"
        )
    if n_small_rows or n_one_arm_rows:
        warnings.warn(
            f"contract effects: dropped {n_small_rows} referrals in prime x stratum "
            f"cells of size 1 and {n_one_arm_rows} referrals in {n_one_arm_strata} "
            "strata with a single prime",
            StatisticalWarning,
            stacklevel=4,
        )
    lost = set(map(tuple, raw.index)) - set(zip(agg["cpa"], agg["prime"]))
    if lost:
        raise DesignError(
            f"contracts {sorted(lost)[:5]} share no stratum with another prime "
            f"of their CPA; their effect relative to the CPA is not identified"
        )
    return agg, n_small_rows, n_one_arm_rows, n_one_arm_strata


def _covariances(agg, reference):
    """Adds each cell's deviation from its stratum's reference mean ``d`` and its contract's
    stratum weight ``W`` to ``agg`` (in place); returns the covariances of the contracts'
    weighted deviations, indexed by CPA, prime and prime."""
    g = agg.groupby("stratum")
    agg["n_s"] = g["n"].transform("sum")
    agg["a"] = agg["n"] / agg["n_s"] if reference == "stratum" else 1.0 / agg["k"]
    agg["u"] = agg["var"] / agg["n"]  # Var(arm mean)
    agg["d"] = agg["mean"] - (agg["a"] * agg["mean"]).groupby(agg["stratum"]).transform("sum")
    agg["S"] = (agg["a"] ** 2 * agg["u"]).groupby(agg["stratum"]).transform("sum")
    agg["W"] = agg["n_s"] / agg.groupby(["cpa", "prime"])["n_s"].transform("sum")
    # all (j, k) pairs of primes sharing a stratum: Cov(d_sj, d_sk)
    left = agg[["stratum", "cpa", "prime", "a", "u", "S", "W"]]
    pairs = left.merge(left[["stratum", "prime", "a", "u", "W"]], on="stratum", suffixes=("", "_k"))
    same = pairs["prime"] == pairs["prime_k"]
    cov_s = np.where(
        same,
        pairs["S"] + (1 - 2 * pairs["a"]) * pairs["u"],
        pairs["S"] - pairs["a"] * pairs["u"] - pairs["a_k"] * pairs["u_k"],
    )
    pairs["c"] = pairs["W"] * pairs["W_k"] * cov_s
    cov = pairs.groupby(["cpa", "prime", "prime_k"], sort=True)["c"].sum()

    return cov


def _estimates(agg, cov, raw):
    """Each contract's effect (weighted deviation from the reference), with its standard
    error, raw rate and sizes, and the covariance matrix of the effects. Refuses a zero
    standard error."""
    agg["Wd"] = agg["W"] * agg["d"]
    tab = agg.groupby(["cpa", "prime"], sort=True).agg(
        estimate=("Wd", "sum"), n=("n", "sum"), n_strata=("stratum", "nunique")
    )
    tab = tab.reset_index()
    terms = list(zip(tab["cpa"], tab["prime"]))
    pos = {t: i for i, t in enumerate(terms)}
    V = np.zeros((len(terms), len(terms)))
    for (c, j, k), val in cov.items():
        V[pos[(c, j)], pos[(c, k)]] = val
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    if np.any(se <= 0):
        bad = [f"{c}: {p}" for (c, p), s in zip(terms, se) if s <= 0]
        raise DesignError(
            f"standard error is zero for {bad[:5]} (outcome constant within "
            "every stratum); no uncertainty can be stated"
        )
    tab["std_error"] = se
    tab["rate"] = [float(raw.loc[t, "mean"]) for t in terms]
    tab["n_all"] = [int(raw.loc[t, "size"]) for t in terms]
    return tab, V


def _effect_method(outcome, blocks, reference, alpha):
    ref = (
        "the stratum mean (primes weighted by their allocation shares)"
        if reference == "stratum"
        else "the unweighted mean of the primes in the stratum"
    )
    return {
        "estimator": "block-adjusted contrast of each contract with its CPA average",
        "se_type": "Neyman (stratified, conservative), full within-CPA covariance",
        "ci_method": "normal",
        "design": f"randomised within {' x '.join(blocks)} strata",
        "alpha": alpha,
        "blocks": list(blocks),
        "outcome": outcome,
        "reference": reference,
        "notes": (
            f"Within each stratum: prime mean minus {ref}; averaged over the strata the "
            "prime appears in, weighted by stratum size."
        ),
    }


def contract_effects(
    data: pd.DataFrame,
    outcome: str,
    *,
    cpa_col: str = "cpa",
    prime_col: str = "prime",
    blocks=("district", "period"),
    reference: str = "stratum",
    alpha: float = 0.05,
) -> EffectTable:
    """Effect of each contract relative to its CPA average, from within-stratum comparisons.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data (one row per referral). Not modified.
    outcome : str
        Numeric outcome column (e.g. ``"job_outcome_24m"``, 0/1). Rows where it is missing
        are dropped and counted (``extra["n_dropped_missing_outcome"]``).
    cpa_col, prime_col : str
        Columns naming the contract package area and the prime.
    blocks : sequence of str
        Columns defining the randomisation strata within a CPA. ``"period"`` is derived as the
        quarter of ``referral_date`` when absent. Add ``"payment_group"`` when allocation
        shares differ by payment group (after the 2013 market-share shift).
    reference : {"stratum", "equal"}
        The "CPA average" inside a stratum: the stratum mean (primes weighted by their
        shares ``n_sk / n_s``; the default) or the unweighted mean of the primes present.
        The two coincide under equal allocation.
    alpha : float
        1 - confidence level of the normal intervals.

    Returns
    -------
    EffectTable
        One row per contract: ``term`` ("CPA01: Prime A"), ``estimate``, ``std_error``,
        ``statistic``/``p_value`` (H0: no different from the CPA average), ``conf_low``,
        ``conf_high``, ``n`` (referrals used), plus ``cpa``, ``prime``, ``rate`` (raw
        outcome mean), ``n_strata``. ``extra["covariance"]`` holds each CPA's covariance
        matrix of the effects.

    Notes
    -----
    Estimand: ``theta_j = sum_s W_s (mu_sj - sum_k a_sk mu_sk)``, with ``mu_sk`` the mean
    potential outcome in stratum ``s`` under allocation to prime ``k``, ``a_sk`` the reference
    weights and ``W_s = n_s / sum n_s`` over the strata where ``j`` is present.

    Variance (Neyman, conditional on arm sizes, strata independent): with
    ``u_sk = s^2_sk / n_sk`` (sample variance, ddof 1) and ``S_s = sum_k a_sk^2 u_sk``,
    ``Var(d_sj) = S_s + (1 - 2 a_sj) u_sj`` and, for ``j != k``,
    ``Cov(d_sj, d_sk) = S_s - a_sj u_sj - a_sk u_sk``; ``Var(theta_j) = sum_s W_s^2 Var(d_sj)``.
    Conservative under complete randomisation within strata (Neyman 1923).

    Assumptions: complete random allocation within each stratum with fixed shares (use finer
    ``blocks`` when shares vary inside a stratum); no interference between referrals.
    Prime x stratum cells of one referral (no variance) are treated as absent, and strata
    left with one prime are dropped; both are counted and warned about.
    """
    alpha = _check_alpha(alpha)
    blocks = (blocks,) if isinstance(blocks, str) else tuple(blocks)
    tab, V, info = _effects(data, outcome, cpa_col, prime_col, blocks, reference)
    out = _tidy_effects(tab, alpha)
    extra = dict(info, covariance=_cov_blocks(tab, V))
    return EffectTable(
        out,
        _effect_method(outcome, blocks, reference, alpha),
        title=f"Contract effects on {outcome} relative to the CPA average",
        extra=extra,
    )


def _tidy_effects(tab: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "term": tab["cpa"] + ": " + tab["prime"],
            "estimate": tab["estimate"],
            "std_error": tab["std_error"],
        }
    )
    out["statistic"] = out["estimate"] / out["std_error"]
    out["p_value"] = 2 * stats.norm.sf(np.abs(out["statistic"]))
    out["conf_low"], out["conf_high"] = ci_normal(out["estimate"], out["std_error"], alpha)
    out["n"] = tab["n"].astype(int)
    for c in ("cpa", "prime", "rate", "n_strata"):
        out[c] = tab[c].to_numpy()
    return out


def _cov_blocks(tab, V) -> dict:
    out = {}
    for cpa, idx in tab.groupby("cpa", sort=True).indices.items():
        out[cpa] = {"primes": list(tab["prime"].iloc[idx]), "matrix": V[np.ix_(idx, idx)]}
    return out


# ------------------------------------------------------------------- empirical Bayes
