"""The league table: contract effects, shrinkage, rank sets and funnel flags in one table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wpeval._prepare import check_seed
from wpeval.estimators.ranking._input import _check_alpha
from wpeval.estimators.ranking.effects import _cov_blocks, _effect_method, _effects, _tidy_effects
from wpeval.estimators.ranking.rank_sets import rank_confidence_sets
from wpeval.estimators.ranking.shrinkage import eb_shrink
from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.results import EffectTable, ci_normal


def league_table(
    data: pd.DataFrame,
    outcome: str,
    *,
    cpa_col: str = "cpa",
    prime_col: str = "prime",
    blocks=("district", "period"),
    alpha: float = 0.05,
    shrinkage: str | None = "eb",
    tau2_method: str = "reml",
    rank_ci: str = "mrsw",
    critical: str = "maxt",
    draws: int = 2000,
    seed=None,
    reference: str = "stratum",
    higher_is_better: bool = True,
) -> EffectTable:
    """League table of contracts within their CPA, with every source of uncertainty shown.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data (not modified).
    outcome : str
        Outcome column, e.g. ``"job_outcome_24m"`` (missing values dropped and counted).
    cpa_col, prime_col : str
        Contract columns.
    blocks : sequence of str
        Randomisation strata within a CPA (``period`` derived from ``referral_date``).
    alpha : float
        1 - level of the effect intervals, posterior intervals and rank sets.
    shrinkage : {"eb", None}
        Empirical-Bayes shrinkage of the contract effects (pooled over all contracts) or none.
    tau2_method : {"reml", "dl"}
        Between-contract variance estimator (see :func:`eb_shrink`).
    rank_ci : {"mrsw", "bootstrap"}
        Rank confidence sets (see :func:`rank_confidence_sets`); "bootstrap" is approximate.
    critical : {"maxt", "holm"}
        MRSW critical values.
    draws : int
        Simulation draws for the rank sets.
    seed : int, optional
        Seed for the draws.
    reference : {"stratum", "equal"}
        CPA average within a stratum (see :func:`contract_effects`).
    higher_is_better : bool
        Rank 1 = highest effect (True for job outcomes).

    Returns
    -------
    EffectTable
        Per contract: the tidy columns for the raw effect (estimate = ``raw_effect``), and
        ``cpa, prime, raw_effect, shrunk_effect, posterior_sd, shrunk_low, shrunk_high, rank,
        rank_low, rank_high`` (within the CPA), ``rank_national, rank_national_low,
        rank_national_high`` (all contracts, effects relative to their CPA averages),
        ``n``, ``rate``, ``n_strata``. ``extra`` holds tau^2, mu, Q, the row counts and the
        covariance blocks.

    Notes
    -----
    Estimand and variance of the effects as :func:`contract_effects`. Shrinkage treats the
    contract effects as independent draws from N(mu, tau^2); effects within a CPA are in
    fact negatively correlated (with two primes and equal shares, one is minus the other),
    which the shrinkage ignores and the rank sets (which use the full covariance) do not.
    Ranks and rank sets are for the raw (unshrunk) effects, as in MRSW.
    """
    alpha = _check_alpha(alpha)
    check_seed(seed)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)):
        raise ParameterError(f"draws must be an integer, got {draws!r}")
    if shrinkage not in ("eb", None, "none"):
        raise ParameterError("shrinkage must be 'eb' or None")
    blocks = (blocks,) if isinstance(blocks, str) else tuple(blocks)
    tab, V, info = _effects(data, outcome, cpa_col, prime_col, blocks, reference)
    out = _tidy_effects(tab, alpha)
    out["raw_effect"] = out["estimate"]
    extra = dict(info)
    if shrinkage == "eb":
        if len(out) < 5:
            warnings.warn(
                f"tau^2 estimated from only {len(out)} contracts", StatisticalWarning, stacklevel=2
            )
        sh = eb_shrink(out["estimate"], out["std_error"], tau2_method=tau2_method)
        out["shrunk_effect"], out["posterior_sd"] = sh.posterior_mean, sh.posterior_sd
        out["shrunk_low"], out["shrunk_high"] = ci_normal(sh.posterior_mean, sh.posterior_sd, alpha)
        out["shrinkage_weight"] = sh.weight
        extra.update(tau2=sh.tau2, tau2_method=sh.tau2_method, mu=sh.mu, mu_se=sh.mu_se, Q=sh.Q)
        shrink_txt = (
            f"empirical-Bayes normal-normal shrinkage (tau^2 by {sh.tau2_method}, "
            "pooled over all contracts; posterior SD includes the uncertainty of mu)"
        )
    else:
        for c in ("shrunk_effect", "posterior_sd", "shrunk_low", "shrunk_high"):
            out[c] = np.nan
        shrink_txt = "no shrinkage"
    rng = np.random.default_rng(seed)
    kw = dict(
        alpha=alpha,
        method=rank_ci,
        critical=critical,
        draws=draws,
        seed=rng,
        higher_is_better=higher_is_better,
    )
    within = rank_confidence_sets(out["estimate"], V, groups=out["cpa"], **kw)
    national = rank_confidence_sets(out["estimate"], V, **kw)
    out["rank"], out["rank_low"], out["rank_high"] = (
        within["rank"],
        within["rank_low"],
        within["rank_high"],
    )
    for c in ("rank", "rank_low", "rank_high"):
        out[c.replace("rank", "rank_national")] = national[c]
    rank_txt = (
        f"MRSW (2023) marginal rank confidence sets, step-down with {critical} "
        "critical values (coverage guaranteed)"
        if rank_ci == "mrsw"
        else "parametric bootstrap of ranks (approximate; can undercover for close effects)"
    )
    method = _effect_method(outcome, blocks, reference, alpha)
    method.update(
        estimator=method["estimator"] + "; " + shrink_txt + "; " + rank_txt,
        ci_method="normal (effects); normal posterior (shrunk); " + rank_txt.split(",")[0],
        shrinkage=shrinkage or "none",
        rank_ci=rank_ci,
        critical=critical,
        draws=int(draws),
        seed=seed if isinstance(seed, (int, type(None))) else "generator",
        notes=method["notes"]
        + (
            " What published star ratings and league tables never showed: each rank comes "
            f"with a {100 * (1 - alpha):g}% confidence set; a set covering every position "
            "means the data cannot order that contract. Rows dropped: "
            f"{info['n_dropped_missing_outcome']} with a missing outcome, "
            f"{info['n_dropped_singleton_cells'] + info['n_dropped_single_prime_strata']} "
            "in cells/strata without a comparison."
        ),
    )
    extra["covariance"] = _cov_blocks(tab, V)
    return EffectTable(
        out, method, title=f"League table: {outcome}, contracts within CPA", extra=extra
    )
