"""Marginal confidence sets for ranks (Mogstad, Romano, Shaikh & Wilhelm 2023) or a parametric
bootstrap of ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.ranking._input import _check_alpha
from wpeval.exceptions import DesignError, ParameterError


def _point_ranks(est, groups, sign):
    r = np.empty(len(est), dtype=int)
    for idx in groups:
        e = sign * est[idx]
        r[idx] = 1 + (e[None, :] > e[:, None]).sum(axis=1)
    return r


def rank_confidence_sets(
    estimate,
    cov,
    *,
    groups=None,
    alpha: float = 0.05,
    method: str = "mrsw",
    critical: str = "maxt",
    draws: int = 2000,
    seed=None,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Marginal confidence sets for the rank of each estimate (rank 1 = best).

    Parameters
    ----------
    estimate : array-like, shape (p,)
        Estimates to rank.
    cov : array-like, shape (p,) or (p, p)
        Their variances, or the covariance matrix (entries across groups are ignored).
    groups : array-like, shape (p,), optional
        Rank within each group (e.g. CPA); default one group.
    alpha : float
        Each set covers the true rank with probability >= 1 - alpha ("mrsw").
    method : {"mrsw", "bootstrap"}
        ``"mrsw"``: Mogstad, Romano, Shaikh & Wilhelm (2023, Review of Economic Studies),
        marginal sets. For unit ``j`` the 2(p-1) one-sided hypotheses ``theta_k <= theta_j``
        and ``theta_k >= theta_j`` are tested with a step-down procedure controlling the
        family-wise error at ``alpha``; with ``N-`` units significantly better and ``N+``
        significantly worse, the set is ``[1 + N-, p - N+]``. Coverage is guaranteed
        (asymptotically, given normal estimates with the stated covariance).
        ``"bootstrap"``: parametric bootstrap of ranks -- draw ``N(est, cov)``, rank each
        draw, take the ``alpha/2`` and ``1 - alpha/2`` quantiles. Approximate only: it can
        undercover badly when true effects are close or tied.
    critical : {"maxt", "holm"}
        MRSW critical values: ``"maxt"`` simulates the maximum of the studentised
        differences from ``N(0, cov)`` (``draws`` draws; MRSW's proposal), ``"holm"`` uses
        Bonferroni-Holm ``z_{1 - alpha/m}`` (no simulation, more conservative).
    draws : int
        Simulation draws (``maxt`` and ``bootstrap``).
    seed : int or numpy.random.Generator, optional
        Randomness for the draws.
    higher_is_better : bool
        Rank 1 is the largest estimate when True.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 + number of strictly better estimates), ``rank_low``,
        ``rank_high``, ``n_ranked`` (units in the group), in input order.
    """
    est = np.asarray(estimate, dtype=float)
    p = len(est)
    alpha = _check_alpha(alpha)
    V = np.asarray(cov, dtype=float)
    V = np.diag(V) if V.ndim == 1 else V
    if (
        est.ndim != 1
        or V.shape != (p, p)
        or not np.all(np.isfinite(V))
        or not np.all(np.isfinite(est))
    ):
        raise ParameterError("estimate must be (p,), cov (p,) or (p, p), all finite")
    if method not in ("mrsw", "bootstrap") or critical not in ("maxt", "holm"):
        raise ParameterError("method must be 'mrsw' or 'bootstrap'; critical 'maxt' or 'holm'")
    if int(draws) < 100 and (method == "bootstrap" or critical == "maxt"):
        raise ParameterError("draws must be >= 100")
    rng = np.random.default_rng(seed)
    sign = 1.0 if higher_is_better else -1.0
    labels = (
        np.zeros(p, dtype=int) if groups is None else pd.factorize(np.asarray(groups), sort=True)[0]
    )
    idx_groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    rank = _point_ranks(est, idx_groups, sign)
    low = np.ones(p, dtype=int)
    high = np.empty(p, dtype=int)
    size = np.empty(p, dtype=int)
    for idx in idx_groups:
        k = len(idx)
        size[idx], high[idx] = k, k
        if k == 1:
            continue
        e = sign * est[idx]
        Vg = V[np.ix_(idx, idx)]
        sims = None
        if method == "bootstrap" or critical == "maxt":
            sims = sign * rng.multivariate_normal(np.zeros(k), Vg, size=int(draws), method="eigh")
        if method == "bootstrap":
            d = sims + e
            rk = 1 + (d[:, None, :] > d[:, :, None]).sum(axis=2)
            low[idx] = np.quantile(rk, alpha / 2, axis=0, method="lower")
            high[idx] = np.quantile(rk, 1 - alpha / 2, axis=0, method="higher")
            continue
        var = np.diag(Vg)
        for a, j in enumerate(idx):
            others = np.array([b for b in range(k) if b != a])
            s = np.sqrt(var[others] + var[a] - 2 * Vg[others, a])
            if np.any(s <= 0):
                raise DesignError("a difference between two estimates has zero variance")
            t = (e[others] - e[a]) / s
            tstat = np.concatenate([t, -t])  # "k better than j", "k worse than j"
            z = None
            if sims is not None:
                zk = (sims[:, others] - sims[:, [a]]) / s
                z = np.concatenate([zk, -zk], axis=1)
            active = np.ones(2 * (k - 1), dtype=bool)
            while active.any():
                if critical == "holm":
                    c = stats.norm.isf(alpha / active.sum())
                else:
                    c = np.quantile(z[:, active].max(axis=1), 1 - alpha)
                new = active & (tstat > c)
                if not new.any():
                    break
                active &= ~new
            rejected = ~active
            low[j] = 1 + rejected[: k - 1].sum()
            high[j] = k - rejected[k - 1 :].sum()
    return pd.DataFrame({"rank": rank, "rank_low": low, "rank_high": high, "n_ranked": size})


# ------------------------------------------------------------------------------ funnel
