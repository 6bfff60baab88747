"""Multiple-testing adjustments: Bonferroni, Holm, Benjamini-Hochberg and the Romano-Wolf
step-down procedure on randomisation (or other null) draws.

Why hand-written although ``statsmodels.stats.multitest.multipletests`` has the first three:
wpeval adjusts within *groups* (per CPA and overall, in one call), must refuse missing
p-values loudly (``multipletests`` propagates NaN through the sorted cumulative operations
and silently corrupts the other adjusted values), and puts Romano-Wolf, which no Python
library offers for permutation draws, behind the same interface. The results are checked
against ``multipletests`` and hand-worked examples in ``tests/inference/test_multiplicity.py``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError

__all__ = ["adjust_pvalues", "romano_wolf", "METHODS"]

METHODS = ("bonferroni", "holm", "bh", "romano-wolf", "none")
_ALIASES = {
    "fdr_bh": "bh",
    "benjamini-hochberg": "bh",
    "bh": "bh",
    "holm": "holm",
    "bonferroni": "bonferroni",
    "romano-wolf": "romano-wolf",
    "romano_wolf": "romano-wolf",
    "rw": "romano-wolf",
    "none": "none",
}


def _bonferroni(p: np.ndarray) -> np.ndarray:
    return np.minimum(p * len(p), 1.0)


def _holm(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]  # largest first
    ranks = m - np.arange(m)  # rank of each p in ascending order
    adj = np.minimum.accumulate(p[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def romano_wolf(
    observed_stats, null_stats, *, alternative: str = "two-sided", plus_one: bool = True
) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values from draws of the statistics under the null.

    Procedure (Romano & Wolf 2005, Econometrica 73:1237; 2016, Stat. Prob. Letters
    113:38, algorithm with p-values): with ``t_k = |T_k|`` (two-sided; ``T_k`` for
    "greater", ``-T_k`` for "less") order the hypotheses so that
    ``t_(1) >= ... >= t_(K)``. For step j let ``M*_d(j) = max_{l >= j} t*_{d,(l)}`` be the
    largest null draw over the hypotheses not yet rejected; then
    ``p_(j) = (1 + #{d : M*_d(j) >= t_(j)}) / (D + 1)`` (or ``#{...}/D`` without
    ``plus_one``, e.g. for exact enumeration) and the adjusted p-values are made monotone,
    ``p_adj_(j) = max(p_(j), p_adj_(j-1))``. Controls the family-wise error rate and,
    unlike Holm, uses the dependence between the statistics.

    Parameters
    ----------
    observed_stats : (K,) array
        Observed test statistics. Statistics on different scales should be studentised
        (e.g. ``randomisation_test(..., statistic="t")``) so that no single one dominates
        the maximum.
    null_stats : (D, K) array
        Joint draws of the statistics under the null, from the *same* randomisations
        (e.g. ``extra["null_stats"]`` of :func:`wpeval.randomisation_test` with several
        outcomes). Bootstrap draws of estimates must be centred at the estimates first.
    alternative : {"two-sided", "greater", "less"}
    plus_one : bool, default True
        Use the ``(1 + count)/(D + 1)`` correction for Monte Carlo draws.

    Returns
    -------
    (K,) array of adjusted p-values.
    """
    obs = np.asarray(observed_stats, dtype=float).ravel()
    null = np.asarray(null_stats, dtype=float)
    if null.ndim == 1:
        null = null[:, None]
    if null.ndim != 2 or null.shape[1] != len(obs):
        raise ParameterError(f"null_stats must have shape (draws, {len(obs)}), got {null.shape}")
    if not (np.isfinite(obs).all() and np.isfinite(null).all()):
        raise ParameterError("observed_stats and null_stats must be finite")
    if alternative == "two-sided":
        t, tn = np.abs(obs), np.abs(null)
    elif alternative == "greater":
        t, tn = obs, null
    elif alternative == "less":
        t, tn = -obs, -null
    else:
        raise ParameterError("alternative must be 'two-sided', 'greater' or 'less'")
    D, K = null.shape
    order = np.argsort(-t, kind="stable")
    # running max over the not-yet-rejected hypotheses, from the least significant upwards
    tail_max = np.maximum.accumulate(tn[:, order[::-1]], axis=1)[:, ::-1]
    # ties up to rounding, relative to the size of the statistics (not an absolute floor,
    # which would count every draw for statistics in small units)
    size = np.maximum(np.abs(t[order]), np.max(np.abs(tn), axis=0, initial=0.0)[order])
    tol = 1e-12 * size
    counts = (tail_max >= (t[order] - tol)[None, :]).sum(axis=0)
    p = (1 + counts) / (D + 1) if plus_one else counts / D
    p = np.minimum(np.maximum.accumulate(p), 1.0)
    out = np.empty(K)
    out[order] = p
    return out


def adjust_pvalues(
    pvalues,
    method: str = "holm",
    *,
    groups: Sequence | None = None,
    null_stats=None,
    observed_stats=None,
    alternative: str = "two-sided",
    plus_one: bool = True,
):
    """Adjust p-values for multiple testing.

    Methods (m = number of tests in the family, ``p_(1) <= ... <= p_(m)``):

    - ``"bonferroni"``: ``min(1, m p)`` (FWER);
    - ``"holm"``: ``p_adj_(j) = min(1, max_{i <= j} (m - i + 1) p_(i))`` (FWER, Holm 1979);
    - ``"bh"``: ``p_adj_(j) = min(1, min_{i >= j} m p_(i) / i)`` (FDR under independence
      or positive dependence, Benjamini & Hochberg 1995);
    - ``"romano-wolf"``: step-down on joint null draws (:func:`romano_wolf`); needs
      ``null_stats`` and ``observed_stats`` (or pass the EffectTable of a multi-outcome
      :func:`wpeval.randomisation_test` as ``pvalues``);
    - ``"none"``: unchanged.

    Parameters
    ----------
    pvalues : array-like, Series, or EffectTable
        Unadjusted p-values (no NaN), or a randomisation-test result.
    method : str, default "holm"
        One of :data:`METHODS` (aliases: ``"fdr_bh"``, ``"benjamini-hochberg"``, ``"rw"``).
    groups : array-like, optional
        Family labels: adjust within each group separately (e.g. the CPA of each contrast).
        Not with Romano-Wolf.
    null_stats : (D, K) array, optional
        Romano-Wolf only.
    observed_stats : (K,) array, optional
        Romano-Wolf only.
    alternative : {"two-sided", "greater", "less"}
        Romano-Wolf only.
    plus_one : bool, default True
        Romano-Wolf only: ``(1 + count)/(D + 1)``.

    Returns
    -------
    ndarray (or Series with the input's index when a Series was given).
    """
    key = _ALIASES.get(str(method).lower()) if isinstance(method, str) else None
    if key is None:
        raise ParameterError(f"method must be one of {METHODS}, not {method!r}")
    if hasattr(pvalues, "extra") and hasattr(pvalues, "table"):  # EffectTable
        res = pvalues
        if key == "romano-wolf":
            if null_stats is None:
                null_stats = res.extra.get("null_stats")
            if observed_stats is None:
                observed_stats = res.extra.get("observed_stats")
            alternative = res.extra.get("alternative", alternative)
            plus_one = not res.extra.get("exact", False)
        pvalues = res.table["p_value"].to_numpy()
    index = pvalues.index if isinstance(pvalues, pd.Series) else None
    p = np.asarray(pvalues, dtype=float).ravel()
    if np.isnan(p).any():
        raise ParameterError(
            f"{int(np.isnan(p).sum())} p-value(s) are missing; drop or "
            "explain them before adjusting (a NaN would corrupt the family)"
        )
    if ((p < 0) | (p > 1)).any():
        raise ParameterError("p-values must lie in [0, 1]")
    if key == "romano-wolf":
        if groups is not None:
            raise ParameterError(
                "groups are not supported with Romano-Wolf; pass the draws of one family"
            )
        if null_stats is None or observed_stats is None:
            raise ParameterError("Romano-Wolf needs null_stats (draws x tests) and observed_stats")
        out = romano_wolf(observed_stats, null_stats, alternative=alternative, plus_one=plus_one)
        if len(out) != len(p):
            raise ParameterError("observed_stats and pvalues have different lengths")
    else:
        fn = {"bonferroni": _bonferroni, "holm": _holm, "bh": _bh, "none": lambda x: x.copy()}[key]
        if groups is None:
            out = fn(p) if len(p) else p.copy()
        else:
            g = np.asarray(groups, dtype=object).ravel()
            if len(g) != len(p):
                raise ParameterError("groups must have one label per p-value")
            out = np.empty_like(p)
            codes, _ = pd.factorize(pd.Series(g), sort=False)
            if (codes < 0).any():
                raise ParameterError("groups has missing labels")
            for c in np.unique(codes):
                m = codes == c
                out[m] = fn(p[m])
    return pd.Series(out, index=index) if index is not None else out
