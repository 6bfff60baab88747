"""Randomisation (Fisher) inference for a blocked two-arm comparison, vectorised.

Under the sharp null ``H0: y_i(1) = y_i(0) + tau0`` for every unit, the adjusted outcomes
``u_i = y_i - tau0 z_i`` are fixed, and re-randomising the treatment *within blocks* (the
number treated in each block held at its observed value, as the design did) gives the exact
null distribution of any statistic. The p-value compares the observed statistic with that
distribution; inverting the test over ``tau0`` gives a confidence interval under the
constant-additive-effect model.

Speed (why hand-written: ``pyfixest``'s ``ritest`` permutes without strata and refits a
regression per draw; R's ``ri2`` is R): the statistics only need, for each block and draw,
the sums over the re-randomised treated set of a few columns (``y``, ``z``; for the
studentised statistic also ``y^2`` and ``y z``). Those are drawn per block, for all draws at
once:

- outcomes with few distinct values (binary job outcomes, small counts): the treated set's
  composition is multivariate hypergeometric over the distinct ``(y, z)`` values, drawn by
  sequential ``Generator.hypergeometric`` calls vectorised over blocks x draws;
- otherwise: each draw's treated set is the ``m_b`` units with the smallest uniform
  32-bit keys (``np.partition``: O(n)), resampled in the rare case of a tie at the cut; the
  sums are a (draws x n_b) @ (n_b x q) product. Draws are chunked so memory stays bounded.

Both give exact draws from the randomisation distribution (the samplers live in
:mod:`wpeval.inference._draws`, which can also split the draws into seeded batches run on
Dask workers: ``batches=``, ``backend=``). When the number of distinct
assignments ``prod_b C(n_b, m_b)`` is at most ``draws`` they are all enumerated instead.
Because the statistics are assembled from per-block sums, the statistic for any ``tau0`` is a
closed-form function of the same draws (the blocked difference in means is linear in
``tau0``), which makes test inversion cheap.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import (
    Prepared,
    as_list,
    check_alpha,
    check_seed,
    examples,
    flag_nonfinite,
    numeric,
    prepare,
    subset,
    term_name,
)
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.inference import _draws
from wpeval.inference._draws import RandomisationDraws
from wpeval.inference.multiplicity import romano_wolf
from wpeval.results import EffectTable

__all__ = ["randomisation_test", "RandomisationDraws"]

STATISTICS = ("diff_in_means", "t")
ALTERNATIVES = ("two-sided", "greater", "less")


def _count_ge(null: np.ndarray, obs: np.ndarray, alternative: str) -> np.ndarray:
    # ties up to rounding count as "at least as extreme"; the tolerance is relative to the
    # size of the statistics (an absolute floor made p = 1 for outcomes in small units)
    with np.errstate(invalid="ignore"):
        size = np.maximum(np.abs(obs), np.nanmax(np.abs(null), axis=0, initial=0.0))
    tol = 1e-9 * np.where(np.isfinite(size), size, 0.0)
    if alternative == "two-sided":
        return (np.abs(null) >= np.abs(obs) - tol).sum(axis=0)
    if alternative == "greater":
        return (null >= obs - tol).sum(axis=0)
    return (null <= obs + tol).sum(axis=0)


def _pvalue(acc, obs_acc, tau0, alternative, exact):
    null = acc.stat(tau0)
    obs = obs_acc.stat(tau0)[0]
    cnt = _count_ge(null, obs, alternative)
    D = null.shape[0]
    return (cnt / D if exact else (1 + cnt) / (D + 1)), cnt, null, obs


def _invert(acc, obs_acc, k, est, scale, alpha, alternative, exact):
    """Confidence limits {tau0 : p(tau0) > alpha} by bracketing and bisection from the
    estimate (where p = 1)."""

    def p_at(t):
        pv, *_ = _pvalue(acc, obs_acc, t, alternative, exact)
        return pv[k]

    limits = []
    for sign in (-1.0, 1.0):
        if (alternative == "greater" and sign > 0) or (alternative == "less" and sign < 0):
            limits.append(sign * np.inf)
            continue
        unit = max(scale, abs(est)) if np.isfinite(scale) else abs(est)
        unit = unit if unit > 0 else 1.0  # constant outcome: a degenerate distribution
        inside = est
        step = scale if np.isfinite(scale) and scale > 0 else 1e-8 * unit
        outside = None
        for _ in range(60):
            cand = est + sign * step
            if p_at(cand) <= alpha:
                outside = cand
                break
            inside, step = cand, step * 2
        if outside is None:
            warnings.warn(
                "randomisation confidence interval is unbounded on one side (too "
                "few distinct assignments for this alpha)",
                StatisticalWarning,
                stacklevel=3,
            )
            limits.append(sign * np.inf)
            continue
        for _ in range(200):
            mid = 0.5 * (inside + outside)
            if abs(outside - inside) <= 1e-10 * unit:
                break
            if p_at(mid) > alpha:
                inside = mid
            else:
                outside = mid
        limits.append(inside)
    return limits[0], limits[1]


def randomisation_test(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    treatment: str,
    *,
    blocks=None,
    statistic: str = "diff_in_means",
    draws: int = 1000,
    seed=None,
    alternative: str = "two-sided",
    ci: bool = True,
    null_value: float = 0.0,
    alpha: float = 0.05,
    condition1=None,
    condition2=None,
    exact: bool | None = None,
    drop_incomplete_blocks: bool = False,
    max_elements: int = 8_000_000,
    batches: int | None = None,
    backend="serial",
    scheduler: str | None = None,
    n_workers: int | None = None,
) -> EffectTable:
    """Stratified randomisation test of the sharp null ``y_i(1) = y_i(0) + null_value``.

    Re-randomises ``treatment`` within ``blocks`` (block sizes and numbers treated fixed:
    complete randomisation within blocks, as the allocation design) and compares the
    observed statistic with its randomisation distribution.

    Statistic: ``"diff_in_means"``, the blocked difference in means
    ``sum_b (n_b/N)(mean_b1 - mean_b0)`` (unblocked: the plain difference), or ``"t"``, that
    difference divided by its Neyman standard error (studentised: also valid for the weak
    null asymptotically, Wu & Ding 2021; needs two units per arm per block).

    p-value: Monte Carlo ``p = (1 + #{d : T*_d >= T_obs}) / (D + 1)`` (``|T|`` for
    two-sided), which is a valid p-value for any D (Phipson & Smyth 2010); Monte Carlo
    standard error ``sqrt(phat (1 - phat) / D)`` with ``phat = #{...}/D``. When
    ``prod_b C(n_b, m_b) <= draws`` (or ``exact=True``) every assignment is enumerated and
    ``p = #{T* >= T_obs} / #assignments`` exactly (Monte Carlo SE 0).

    Confidence interval: the set of ``tau0`` whose sharp null is not rejected at ``alpha``,
    found by bracketing and bisection from the estimate, with the *same* draws for every
    ``tau0`` (assumes a constant additive effect; Rosenbaum 2002, ch. 2).

    Parameters
    ----------
    data : DataFrame
    outcome : str or list of str
        Numeric outcome(s). Several outcomes share the same re-randomisations, so the joint
        null draws (``extra["null_stats"]``) support Romano-Wolf adjustment (the table then
        has ``p_romano_wolf``). Rows with any missing outcome are dropped and counted.
    treatment : str
        Allocated condition (two conditions compared, as :func:`wpeval.diff_in_means`).
    blocks : str or list of str, optional
        Randomisation strata; every block needs both conditions.
    statistic : {"diff_in_means", "t"}, default "diff_in_means"
    draws : int, default 1000
        Monte Carlo re-randomisations.
    seed : int or numpy Generator, optional
        Random seed (results depend on it and on the sampler chosen, see ``extra``).
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
    ci : bool, default True
        Invert the test for a confidence interval.
    null_value : float, default 0.0
        ``tau0`` of the sharp null tested by ``p_value``.
    alpha : float, default 0.05
        1 - confidence level of the interval.
    condition1, condition2 : optional
        Compared conditions.
    exact : bool, optional
        Force (True) or forbid (False) enumeration; default: enumerate when the number of
        assignments is at most ``draws``.
    drop_incomplete_blocks : bool, default False
        Drop (count and warn) blocks lacking a condition (or, for ``"t"``, with fewer than
        two units in an arm) instead of raising DesignError.
    max_elements : int, default 8,000,000
        Memory bound: keys drawn per chunk (draws x block size).
    batches : int, optional
        Split the draws into this many batches, batch i seeded by the i-th child of
        ``numpy.random.SeedSequence(seed)``, so they can run in parallel on ``backend``. The
        draws depend on ``batches`` (not on the backend or the number of workers); default
        one stream in this process.
    backend : {"serial", "dask"} or distributed.Client, default "serial"
        Where the batches run (:func:`wpeval.inference.backend.map_tasks`); Dask workers
        receive the sorted design arrays once.
    scheduler : str, optional
        Dask scheduler address (default ``$WPEVAL_DASK_SCHEDULER``, else a LocalCluster).
    n_workers : int, optional
        LocalCluster workers.

    Returns
    -------
    EffectTable
        One row per outcome: ``estimate`` (observed difference in means), ``std_error`` (SD of
        the null distribution of the difference in means), ``statistic``, ``p_value``,
        ``conf_low``, ``conf_high``, ``n``, ``mc_se``. ``extra``: ``draws``, ``exact``,
        ``n_assignments``, ``sampler``, ``mc_se``, ``null_summary``, ``null_stats`` (D x K
        null statistics at ``null_value``), ``observed_stats``, ``alternative``, ``dropped``.
    """
    outcomes = as_list(outcome)
    alpha = _check_arguments(
        outcomes, statistic, alternative, draws, alpha, seed, batches, max_elements, null_value
    )
    p, ys = _outcome_matrix(data, outcomes, treatment, blocks, condition1, condition2)
    p = _check_blocks(p, statistic, drop_incomplete_blocks)
    if len(p.y) != len(ys):  # blocks dropped: rebuild the outcome matrix from kept rows
        ys = np.column_stack([p.y] + [numeric(p.frame, o) for o in outcomes[1:]])
    K = len(outcomes)
    stud = statistic == "t"
    des = _draws.Design(p, ys, stud)
    acc, sampler, is_exact, n_assign = _null_draws(
        des, K, stud, draws, exact, seed, batches, max_elements, backend, scheduler, n_workers
    )
    obs_acc = _draws.observed(des, K, stud)
    pv, cnt, null, obs = _pvalue(acc, obs_acc, null_value, alternative, is_exact)
    D = null.shape[0]
    phat = cnt / D
    mc_se = np.zeros(K) if is_exact else np.sqrt(phat * (1 - phat) / D)
    est = obs_acc.A[0]
    null_dim = acc.A - null_value * acc.Bz[:, None]
    sd = null_dim.std(axis=0, ddof=1) if D > 1 else np.full(K, np.nan)
    lo = np.full(K, np.nan)
    hi = np.full(K, np.nan)
    if ci:
        for k in range(K):
            lo[k], hi[k] = _invert(acc, obs_acc, k, est[k], sd[k], alpha, alternative, is_exact)
    terms = outcomes if K > 1 else [term_name(treatment, p.cond1, p.cond2)]
    tab = pd.DataFrame(
        {
            "term": terms,
            "estimate": est,
            "std_error": sd,
            "statistic": obs,
            "p_value": pv,
            "conf_low": lo,
            "conf_high": hi,
            "n": len(p.y),
            "outcome": outcomes,
            "mc_se": mc_se,
        }
    )
    if K > 1:
        tab["p_romano_wolf"] = romano_wolf(
            obs, null, alternative=alternative, plus_one=not is_exact
        )
    summary = _null_summary(null, outcomes)
    meth = _methods(statistic, null_value, ci, blocks, des, alpha, alternative, is_exact)
    extra = {
        "draws": int(D),
        "exact": is_exact,
        "n_assignments": n_assign,
        "sampler": sampler,
        "mc_se": mc_se,
        "null_summary": summary,
        "null_stats": null,
        "observed_stats": obs,
        "alternative": alternative,
        "null_value": null_value,
        "seed": seed if isinstance(seed, int) else None,
        "dropped": p.dropped,
    }
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"Randomisation test: {', '.join(outcomes)}", extra=extra)


def _check_arguments(
    outcomes, statistic, alternative, draws, alpha, seed, batches, max_elements, null_value
) -> float:
    """Refuse arguments of :func:`randomisation_test` outside their documented range; returns
    the checked ``alpha``."""
    if not outcomes:
        raise ParameterError("give at least one outcome")
    if statistic not in STATISTICS:
        raise ParameterError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if alternative not in ALTERNATIVES:
        raise ParameterError(f"alternative must be one of {ALTERNATIVES}")
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ParameterError(f"draws must be a positive integer, got {draws!r}")
    alpha = check_alpha(alpha)
    check_seed(seed)
    if batches is not None and (
        not isinstance(batches, (int, np.integer)) or batches < 1 or batches > draws
    ):
        raise ParameterError(f"batches must be an integer from 1 to draws, got {batches!r}")
    if not isinstance(max_elements, (int, np.integer)) or max_elements < 1:
        raise ParameterError(f"max_elements must be a positive integer, got {max_elements!r}")
    if (
        isinstance(null_value, bool)
        or not isinstance(null_value, (int, float, np.number))
        or not np.isfinite(null_value)
    ):
        raise ParameterError(f"null_value must be a finite number, got {null_value!r}")
    return alpha


def _outcome_matrix(data, outcomes, treatment, blocks, condition1, condition2):
    """The prepared comparison and the ``n x K`` outcome matrix, rows with any outcome missing
    dropped (and counted)."""
    p = prepare(
        data,
        outcomes[0],
        treatment,
        blocks=blocks,
        condition1=condition1,
        condition2=condition2,
        extra=outcomes[1:],
    )
    ys = np.column_stack([p.y] + [numeric(p.frame, o) for o in outcomes[1:]])
    miss = np.isnan(ys).any(axis=1)
    if miss.any():
        p = subset(p, ~miss)
        p.dropped["missing_outcome"] = p.dropped.get("missing_outcome", 0) + int(miss.sum())
        ys = ys[~miss]
    if len(ys) == 0:
        raise DesignError(f"no rows with every outcome observed ({outcomes}): nothing to test")
    return p, ys


def _null_draws(
    des, K, stud, draws, exact, seed, batches, max_elements, backend, scheduler, n_workers
):
    """The randomisation distribution: every assignment when there are few enough (or
    ``exact=True``), else Monte Carlo draws in one stream or in seeded batches. Returns the
    accumulated block sums, the sampler's description, whether it is exact and the number of
    assignments (None when not enumerated)."""
    n_assign = _draws.n_assignments(
        des.n, des.m, draws if exact is None else (10**7 if exact else 0)
    )
    if exact and n_assign is None:
        raise ParameterError("exact=True but there are more than 10^7 assignments")
    if n_assign is not None:
        acc, sampler, is_exact = _draws.enumerate_all(des, K, stud), "enumeration", True
    elif batches is None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        acc, sampler = _draws.sample(des, K, int(draws), rng, stud, int(max_elements))
        is_exact = False
    else:
        acc, sampler = _draws.sample_batches(
            des,
            K,
            int(draws),
            seed,
            stud,
            int(max_elements),
            int(batches),
            backend,
            scheduler,
            n_workers,
        )
        sampler += f", {int(batches)} batches"
        is_exact = False
    return acc, sampler, is_exact, n_assign


def _null_summary(null, outcomes) -> dict:
    """Mean, SD, quantiles and range of each outcome's null statistics."""
    q = np.quantile(null, [0.025, 0.5, 0.975], axis=0)
    return {
        o: {
            "mean": float(null[:, k].mean()),
            "sd": float(null[:, k].std(ddof=1)) if null.shape[0] > 1 else None,
            "q025": float(q[0, k]),
            "median": float(q[1, k]),
            "q975": float(q[2, k]),
            "min": float(null[:, k].min()),
            "max": float(null[:, k].max()),
        }
        for k, o in enumerate(outcomes)
    }


def _methods(statistic, null_value, ci, blocks, des, alpha, alternative, is_exact) -> dict:
    """The methods record of the result table."""
    design = (
        f"complete randomisation within {' x '.join(as_list(blocks))} blocks ({des.B} blocks)"
        if blocks is not None
        else "complete randomisation"
    )
    pformula = (
        "#{T* >= T_obs} / #assignments (exact)"
        if is_exact
        else "(1 + #{T* >= T_obs}) / (draws + 1)"
    )
    return {
        "estimator": f"randomisation test ({statistic}), sharp null tau = {null_value}",
        "se_type": "SD of the randomisation distribution of the difference in means",
        "ci_method": ("test inversion (constant additive effect)" if ci else "none"),
        "design": design,
        "alpha": alpha,
        "alternative": alternative,
        "p_value": pformula,
        "blocks": as_list(blocks) or None,
    }


def _check_blocks(p: Prepared, statistic: str, drop: bool):
    block = p.block if p.block is not None else np.zeros(len(p.y), dtype=np.int64)
    B = int(block.max()) + 1
    cnt = np.bincount(block * 2 + p.z, minlength=2 * B).reshape(B, 2)
    need = 2 if statistic == "t" else 1
    bad = (cnt < need).any(axis=1)
    if bad.any() and drop and p.block is not None and not bad.all():
        rows = np.isin(block, np.flatnonzero(bad))
        warnings.warn(
            f"dropped {int(bad.sum())} block(s) ({int(rows.sum())} rows) with fewer "
            f"than {need} unit(s) in an arm",
            StatisticalWarning,
            stacklevel=3,
        )
        q = subset(p, ~rows)
        q.dropped["incomplete_blocks"] = int(bad.sum())
        q.dropped["rows_in_incomplete_blocks"] = int(rows.sum())
        return q
    if bad.any():
        ids = examples(p.frame, np.isin(block, np.flatnonzero(bad)[:5]))
        raise DesignError(
            f"{int(bad.sum())} block(s) have fewer than {need} unit(s) in an arm "
            f"(statistic {statistic!r}); pass drop_incomplete_blocks=True or "
            f"merge strata; e.g. person_ids {ids}"
        )
    return p
