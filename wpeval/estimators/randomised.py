"""Design-based estimators of the effect of a randomised allocation (issue 4).

Claimants were allocated at random to a prime within Jobcentre Plus district x period, so a
prime comparison is a randomised experiment with blocks. The functions here are the
experimental-design estimators of R's estimatr, reimplemented on sufficient statistics
(counts and sums by block x arm, cluster totals) so that 2M referrals take well under a
second and never need an N x N matrix or a dense block-dummy design:

- :func:`diff_in_means` -- unblocked (Welch), blocked (Neyman), matched pairs, clustered (CR2)
  and block-clustered differences in means, as ``estimatr::difference_in_means``;
- :func:`horvitz_thompson` -- inverse-probability (Horvitz-Thompson) estimator with
  Young's-inequality variance, as ``estimatr::horvitz_thompson``;
- :func:`lin_adjusted` -- Lin (2013) regression adjustment with HC2 errors, as
  ``estimatr::lm_lin`` (blocks enter as centred dummies interacted with treatment);
- :func:`iv_effect` -- complier average causal effect by two-stage least squares with HC2
  errors, as ``estimatr::iv_robust``.

Why hand-written: estimatr is R; in Python, statsmodels/linearmodels give HC errors only for a
dense design (1,000 strata x 2 arms of dummies at 2M rows is ~30 GB), have no blocked or
matched-pair Neyman estimator, no Horvitz-Thompson estimator and no closed-form CR2
Bell-McCaffrey degrees of freedom. Every function is checked against estimatr in
``tests/reference/estimatr_reference.R`` (frozen values beside it).

All functions take a DataFrame and column names and return an
:class:`~wpeval.results.EffectTable` whose ``method`` names the estimator, SE type, CI method
and design. The compared conditions follow estimatr: with a two-valued ``treatment`` and no
``condition1``/``condition2`` the estimate is (larger value) - (smaller value).
Rows with a missing outcome, treatment, block or cluster are dropped and counted in
``extra["dropped"]``.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable
from wpeval.estimators import se as _se
from wpeval.estimators._blocked import block_cell_stats, neyman_from_cells

# input preparation lives in ._prep; the names are re-exported here for older callers
from wpeval._prepare import (Prepared, as_list, block_examples, cell_stats, check_alpha,  # noqa: F401
                    check_weights, covariate_matrix, drop_missing_cov, examples, flag_nonfinite,
                    group_codes, method_dict, need_columns, numeric, parse_conditions, prepare,
                    result_row, subset, t_inference, term_name)

__all__ = ["diff_in_means", "horvitz_thompson", "lin_adjusted", "iv_effect"]


# ------------------------------------------------------------------------------ design checks
def _check_clusters(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Treatment constant within clusters and clusters nested in blocks; returns the arm and
    block (or 0) of each cluster."""
    cl, C = p.cluster, p.n_clusters
    n_g = np.bincount(cl, minlength=C)
    z_g = np.bincount(cl, weights=p.z, minlength=C)
    mixed = (z_g > 0) & (z_g < n_g)
    if mixed.any():
        raise DesignError("All units within a cluster must have the same treatment condition "
                          f"({int(mixed.sum())} mixed clusters), e.g. person_ids "
                          f"{examples(p.frame, np.isin(cl, np.flatnonzero(mixed)[:5]))}")
    blk = np.zeros(C, dtype=np.int64)
    if p.block is not None:
        key = np.unique(cl * p.n_blocks + p.block)
        per_cluster = np.bincount(key // p.n_blocks, minlength=C)
        if (per_cluster > 1).any():
            bad = np.flatnonzero(per_cluster > 1)
            raise DesignError("All clusters must be contained within blocks; e.g. person_ids "
                              f"{examples(p.frame, np.isin(cl, bad[:5]))}")
        blk[cl] = p.block
    return (z_g > 0).astype(np.int8), blk


# ------------------------------------------------------------------------------ estimators
def _dim_unblocked(p: Prepared):
    y, z = p.y, p.z
    cnt, mean, ss, dev = cell_stats(y, z.astype(np.int64), 2)
    n0, n1 = cnt
    if n0 == 0 or n1 == 0:
        raise DesignError("both conditions must be present")
    tau = mean[1] - mean[0]
    if p.cluster is None:
        if n0 < 2 or n1 < 2:
            raise DesignError("every arm needs at least two units for a difference-in-means "
                              f"standard error (n = {int(n1)}, {int(n0)})")
        se, df = _se.welch(n1, n0, ss[1] / (n1 - 1), ss[0] / (n0 - 1))
        return tau, se, df, "Standard", "Neyman (Welch)", "t (Welch-Satterthwaite df)"
    arm_g, _ = _check_clusters(p)
    if min(np.sum(arm_g == 1), np.sum(arm_g == 0)) < 2:
        raise DesignError("each arm needs at least two clusters for a CR2 standard error")
    rs = np.bincount(p.cluster, weights=dev, minlength=p.n_clusters)
    n_g = np.bincount(p.cluster, minlength=p.n_clusters)
    se, df = _se.cr2_difference(rs, n_g, arm_g, n1, n0)
    return tau, se, df, "Clustered", "CR2 (clubSandwich/estimatr)", "t (Bell-McCaffrey df)"


def _dim_blocked(p: Prepared, drop_incomplete: bool):
    B = p.n_blocks
    cnt, mean, ss, dev = block_cell_stats(p.y, p.z, p.block, B)
    empty = (cnt == 0).any(axis=1)
    if not drop_incomplete and (cnt.sum(axis=1) == 1).any():
        raise DesignError("All blocks must have multiple units (or clusters); e.g. person_ids "
                          f"{block_examples(p, np.flatnonzero(cnt.sum(axis=1) == 1))}")
    if empty.any():
        bad = np.flatnonzero(empty)
        if not drop_incomplete:
            raise DesignError(
                f"{len(bad)} block(s) lack one of the two conditions (estimatr: 'Must have "
                "units with both treatment conditions within each block'); pass "
                f"drop_incomplete_blocks=True to drop them; e.g. person_ids "
                f"{block_examples(p, bad)}")
        n_rows = int(cnt[bad].sum())
        warnings.warn(f"dropped {len(bad)} block(s) ({n_rows} rows) without both conditions",
                      StatisticalWarning, stacklevel=3)
        p = subset(p, ~np.isin(p.block, bad))
        p.dropped["incomplete_blocks"] = len(bad)
        p.dropped["rows_in_incomplete_blocks"] = n_rows
        if p.n_blocks == 0:
            raise DesignError("no block has both conditions")
        B = p.n_blocks
        cnt, mean, ss, dev = block_cell_stats(p.y, p.z, p.block, B)
    arm_g = blk_g = None
    if p.cluster is not None:
        arm_g, blk_g = _check_clusters(p)
        size = np.bincount(blk_g, minlength=B)
    else:
        size = cnt.sum(axis=1)
    if (size == 1).any():
        raise DesignError("All blocks must have multiple units (or clusters); e.g. person_ids "
                          f"{block_examples(p, np.flatnonzero(size == 1))}")
    pair = bool((size == 2).any())
    if pair and B < 2:
        raise DesignError("a single block of two units (or clusters): the matched-pairs "
                          "variance needs at least two pairs; e.g. person_ids "
                          f"{block_examples(p, np.arange(B))}")
    if pair and (size > 2).any():
        warnings.warn("Some blocks have two units/clusters while other blocks have more. As "
                      "standard variance estimates cannot be computed within blocks with two "
                      "units, the matched-pairs variance estimator is used (as estimatr).",
                      StatisticalWarning, stacklevel=3)
    if not pair and (cnt == 1).any():
        raise DesignError("If the design is not pair-matched, every block must have at least "
                          "two treated and two control units (estimatr); e.g. person_ids "
                          f"{block_examples(p, np.flatnonzero((cnt == 1).any(axis=1)))}")
    tau_b = mean[:, 1] - mean[:, 0]
    n_b = cnt.sum(axis=1)
    N = n_b.sum()
    w = n_b / N
    tau = float(np.sum(w * tau_b))
    if pair:
        if p.cluster is None:
            se, df = _se.matched_pair(tau_b, tau)
            return p, tau, se, df, "Matched-pair", "matched pairs (Imai 2008)", "t (df = J - 1)"
        se, df = _se.matched_pair_clustered(tau_b, n_b, tau)
        return (p, tau, se, df, "Matched-pair clustered", "matched pairs clustered "
                "(Imai, King & Nall 2009)", "t (df = J - 1)")
    if p.cluster is None:
        tau, se, df = neyman_from_cells(cnt, mean, ss)
        return p, tau, se, df, "Blocked", "Neyman (blocked)", "t (df = N - 2 blocks)"
    rs = np.bincount(p.cluster, weights=dev, minlength=p.n_clusters)
    n_g = np.bincount(p.cluster, minlength=p.n_clusters).astype(float)
    wg = _se._cr2_weights(n_g, cnt[blk_g, arm_g])
    var_b = np.bincount(blk_g, weights=(wg * rs) ** 2, minlength=B)
    se = float(np.sqrt(np.sum(w ** 2 * var_b)))
    return (p, tau, se, float(p.n_clusters - 2 * B), "Block-clustered",
            "CR2 within blocks, Neyman combination", "t (df = clusters - 2 blocks)")


def _prob_varies(prob, p: Prepared) -> bool:
    """Does the probability of the received condition vary within block x arm?"""
    cell = (p.block * 2 if p.block is not None else 0) + p.z
    n = max(int(cell.max()) + 1, 2)
    cnt, mean, ss, _ = cell_stats(prob, np.asarray(cell, dtype=np.int64), n)
    return bool(np.nanmax(np.sqrt(ss / np.maximum(cnt, 1))) > 1e-9)


def diff_in_means(data: pd.DataFrame, outcome: str, treatment: str, *, blocks=None,
                  clusters=None, condition_prob: str | None = None, alpha: float = 0.05,
                  condition1=None, condition2=None,
                  drop_incomplete_blocks: bool = False) -> EffectTable:
    """Difference in means for a randomised two-arm comparison (``estimatr::difference_in_means``).

    Estimand: the average treatment effect of ``condition2`` versus ``condition1`` in the
    sample (SATE); with blocks, the block-size weighted average of within-block effects.

    Designs and variances (identical to estimatr 1.0, see ``tests/reference``):

    - *Standard* (no blocks, no clusters): ``mean_2 - mean_1``; Neyman/Welch
      ``se = sqrt(s2^2/n2 + s1^2/n1)``, Welch-Satterthwaite df.
    - *Blocked*: ``tau = sum_b (n_b/N) tau_b``; ``se = sqrt(sum_b (n_b/N)^2
      (s2b^2/n2b + s1b^2/n1b))``; df = N - 2 x blocks. Needs two units per arm per block.
    - *Matched-pair*: as soon as one block has exactly two units (clusters), estimatr uses the
      matched-pairs variance ``sum_b (tau_b - tau)^2 / (J (J-1))`` for every block (df = J -
      1), warning when other blocks are larger; replicated here (StatisticalWarning). A block
      with a single unit, or (not pair-matched) an arm with one unit, is a DesignError, as in
      estimatr.
    - *Clustered*: OLS on ``[1, t]`` with CR2 standard errors and Bell-McCaffrey df
      (closed form, :func:`wpeval.estimators.se.cr2_difference`).
    - *Block-clustered*: CR2 within each block, combined as the blocked case; df = clusters -
      2 x blocks. *Matched-pair clustered*: Imai-King-Nall variance.

    Assumptions: complete randomisation within blocks (or of clusters), no interference; the
    variances are conservative for the SATE (exact under a constant effect).

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        Numeric (or bool) outcome column; rows with a missing outcome are dropped and counted.
    treatment : str
        Column with the allocated condition (any values: primes, 0/1, bool).
    blocks : str or list of str, optional
        Randomisation strata (e.g. ``["district", "period"]``; ``period`` is derived as the
        quarter of ``referral_date`` by :func:`wpeval.data.design.add_period` when absent, in
        every function of this module and in ``randomisation_test``).
    clusters : str or list of str, optional
        Unit of assignment when whole clusters were allocated.
    condition_prob : str, optional
        Column with each unit's probability of the condition it received. If it varies
        within a block x arm (unblocked: within an arm), the simple difference in means is
        biased, and :func:`horvitz_thompson` (with ``simple=True``) is used instead; the
        method records the switch. If constant it only documents the design.
    alpha : float, default 0.05
        1 - confidence level.
    condition1, condition2 : optional
        The conditions compared (estimate = condition2 - condition1); default the two sorted
        values of ``treatment``. Required when ``treatment`` has more than two values.
    drop_incomplete_blocks : bool, default False
        Drop (count and warn) blocks lacking one of the conditions instead of raising.

    Returns
    -------
    EffectTable
        One row: ``term, estimate, std_error, statistic, p_value, conf_low, conf_high, df, n``
        plus ``outcome, condition1, condition2, n_blocks, n_clusters``; ``extra["dropped"]``.
    """
    alpha = check_alpha(alpha)
    p = prepare(data, outcome, treatment, blocks=blocks, clusters=clusters,
                condition1=condition1, condition2=condition2,
                extra=[condition_prob] if condition_prob else [])
    if condition_prob is not None:
        prob = numeric(p.frame, condition_prob)
        if np.isnan(prob).any():
            raise DataContractError("condition_prob has missing values", column=condition_prob,
                                    rule="not_null", examples=examples(p.frame, np.isnan(prob)))
        if _prob_varies(prob, p):
            if clusters is not None:
                raise DesignError("allocation probabilities vary within blocks and clusters "
                                  "are given: the clustered Horvitz-Thompson estimator is not "
                                  "implemented")
            res = horvitz_thompson(data, outcome, treatment, blocks=blocks,
                                   condition_prob=condition_prob, simple=True, alpha=alpha,
                                   condition1=condition1, condition2=condition2)
            meth = dict(res.method)
            meth["notes"] = ("diff_in_means switched to Horvitz-Thompson because "
                             f"{condition_prob!r} varies within block x arm. "
                             + meth.get("notes", ""))
            return EffectTable(res.table, meth, res.title, res.extra)
    if p.block is None:
        tau, se, df, design, se_type, ci = _dim_unblocked(p)
    else:
        p, tau, se, df, design, se_type, ci = _dim_blocked(p, drop_incomplete_blocks)
    tab = result_row(term_name(treatment, p.cond1, p.cond2), tau, se, df, len(p.y), alpha,
                     outcome=outcome, condition1=p.cond1, condition2=p.cond2,
                     n_blocks=p.n_blocks if p.block is not None else np.nan,
                     n_clusters=p.n_clusters if p.cluster is not None else np.nan)
    meth = method_dict("difference in means", se_type, ci, design, alpha=alpha,
                       blocks=as_list(blocks) or None, clusters=as_list(clusters) or None,
                       reference="estimatr::difference_in_means")
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"Difference in means: {outcome}",
                       extra={"dropped": p.dropped})


# ------------------------------------------------------------------------------ HT
def horvitz_thompson(data: pd.DataFrame, outcome: str, treatment: str, *, blocks=None,
                     condition_prob: str | None = None, simple: bool | None = None,
                     se_type: str = "youngs", alpha: float = 0.05, condition1=None,
                     condition2=None) -> EffectTable:
    """Horvitz-Thompson (inverse-probability) estimator (``estimatr::horvitz_thompson``).

    Estimand: the SATE of condition2 vs condition1. With ``p_i`` the probability that unit i
    receives condition2: ``tau = (sum_{treated} y_i/p_i - sum_{control} y_i/(1-p_i)) / N``
    (blocked: the block estimates weighted by ``n_b / N``). Unbiased for any known
    assignment probabilities, unlike the difference in means.

    Variance (estimatr's defaults, replicated exactly and without an N x N matrix):

    - no blocks, ``simple`` None/True (Bernoulli assignment): Young's-inequality bound
      ``se = sqrt(sum_T (y/p)^2 + sum_C (y/(1-p))^2) / N``; ``se_type="constant"`` gives
      estimatr's constant-effects variance instead;
    - no blocks, ``simple=False``, or blocks (estimatr's default there): complete
      randomisation within each block with probability ``p_b`` (constant within block), the
      Young's bound with the exact joint inclusion probabilities
      (:func:`wpeval.estimators.se.ht_youngs_complete`), ``se = sqrt(sum_b (n_b/N)^2 V_b)``;
    - blocks with ``simple=True`` (a wpeval extension for probabilities that vary within a
      block, e.g. by payment group): the Bernoulli bound within each block.

    Inference is normal (estimatr uses no df for HT).

    Parameters
    ----------
    data : DataFrame
    outcome, treatment : str
        Outcome (numeric) and allocated-condition columns.
    blocks : str or list of str, optional
        Randomisation strata.
    condition_prob : str, optional
        Probability of the condition each unit *received* (the data contract's
        ``allocation_prob``); converted to P(condition2) = p or 1 - p, which assumes two arms.
        Default: the share of units in condition2 (overall, or per block).
    simple : bool, optional
        Bernoulli (True) or complete (False) assignment; default True without blocks and
        complete within blocks (estimatr).
    se_type : {"youngs", "constant"}, default "youngs"
        ``"constant"`` only without blocks and with simple assignment (as estimatr).
    alpha : float, default 0.05
    condition1, condition2 : optional
        Compared conditions (as :func:`diff_in_means`).

    Returns
    -------
    EffectTable
    """
    alpha = check_alpha(alpha)
    if se_type not in ("youngs", "constant"):
        raise ParameterError(f"se_type must be 'youngs' or 'constant', not {se_type!r}")
    p = prepare(data, outcome, treatment, blocks=blocks, condition1=condition1,
                condition2=condition2, extra=[condition_prob] if condition_prob else [])
    y, z = p.y, p.z
    N = len(y)
    prob_source = "estimated (share in condition2)"
    if condition_prob is not None:
        recv = numeric(p.frame, condition_prob)
        bad = ~((recv > 0) & (recv < 1))
        if bad.any():
            raise DataContractError("probabilities must be strictly between 0 and 1 for a "
                                    "two-arm Horvitz-Thompson estimator", column=condition_prob,
                                    rule="probability_range", examples=examples(p.frame, bad))
        p2 = np.where(z == 1, recv, 1.0 - recv)
        check_weights(y, p2, p.frame, condition_prob)
        prob_source = f"column {condition_prob!r} (probability of the condition received)"
    else:
        p2 = None
    notes = ""
    if p.block is None:
        if p2 is None:
            p2 = np.full(N, z.mean())
        if simple is None:
            simple = True
        Y1 = np.where(z == 1, y / p2, 0.0)
        Y0 = np.where(z == 0, y / (1.0 - p2), 0.0)
        tau = (Y1.sum() - Y0.sum()) / N
        if simple:
            if se_type == "youngs":
                se = _se.ht_youngs_simple(Y1[z == 1], Y0[z == 0], N)
            else:
                se = _se.ht_constant_simple(y, z, p2, tau)
            design, se_name = "Standard (simple random assignment)", f"HT {se_type} (simple)"
        else:
            if se_type == "constant":
                raise ParameterError("se_type='constant' is only supported for simple random "
                                     "designs (as estimatr)")
            if np.ptp(p2) > 1e-12:
                raise DesignError("treatment probabilities must be fixed for complete "
                                  "randomised designs")
            k1, k0 = int(z.sum()), int(N - z.sum())
            v = _se.ht_youngs_complete(Y1.sum(), (Y1 ** 2).sum(), k1, Y0.sum(),
                                       (Y0 ** 2).sum(), k0, p2[0], N)
            se = _ht_se(np.array([v]), np.array([float(N)]))[0]
            design, se_name = "Standard (complete random assignment)", "HT youngs (complete)"
    else:
        if se_type == "constant":
            raise ParameterError("se_type='constant' is not available with blocks (estimatr)")
        B, b = p.n_blocks, p.block
        n_b = np.bincount(b, minlength=B).astype(float)
        if p2 is None:
            share = np.bincount(b, weights=z, minlength=B) / n_b
            bad = np.flatnonzero((share == 0) | (share == 1))
            if len(bad):
                raise DesignError(f"{len(bad)} block(s) hold only one condition, so the "
                                  "estimated probability is 0 or 1 and Horvitz-Thompson is "
                                  "undefined there; drop or merge them, or give "
                                  f"condition_prob; e.g. person_ids {block_examples(p, bad)}")
            p2 = share[b]
        if simple is None:
            simple = False
        if not simple:
            _, _, ss, _ = cell_stats(p2, b, B)
            if np.nanmax(ss) > 1e-12:
                raise DesignError("treatment probabilities must be fixed within blocks for a "
                                  "block-randomised design (estimatr); add the variable the "
                                  "probabilities depend on (e.g. payment_group) to blocks, or "
                                  "pass simple=True for the Bernoulli variance bound")
        with np.errstate(divide="ignore", invalid="ignore"):
            Y1 = np.where(z == 1, y / p2, 0.0)
            Y0 = np.where(z == 0, y / (1.0 - p2), 0.0)
        s1 = np.bincount(b, weights=Y1, minlength=B)
        s0 = np.bincount(b, weights=Y0, minlength=B)
        q1 = np.bincount(b, weights=Y1 ** 2, minlength=B)
        q0 = np.bincount(b, weights=Y0 ** 2, minlength=B)
        tau_b = (s1 - s0) / n_b
        w = n_b / N
        tau = float(np.sum(w * tau_b))
        if simple:
            v_b = q1 + q0
            design, se_name = "Blocked (simple assignment within blocks)", "HT youngs (simple)"
            notes = "Bernoulli variance bound within blocks (wpeval extension)"
        else:
            k1 = np.bincount(b, weights=z, minlength=B)
            pr_b = np.bincount(b, weights=p2, minlength=B) / n_b
            v_b = _se.ht_youngs_complete(s1, q1, k1, s0, q0, n_b - k1, pr_b, n_b)
            design = "Blocked (complete random assignment within blocks)"
            se_name = "HT youngs (complete)"
        se_b = _ht_se(np.atleast_1d(v_b), n_b)
        se = float(np.sqrt(np.sum(w ** 2 * se_b ** 2)))
    tab = result_row(term_name(treatment, p.cond1, p.cond2), tau, se, None, N, alpha,
                     outcome=outcome, condition1=p.cond1, condition2=p.cond2,
                     n_blocks=p.n_blocks if p.block is not None else np.nan)
    meth = method_dict("Horvitz-Thompson", se_name, "normal", design, alpha=alpha,
                       blocks=as_list(blocks) or None, probabilities=prob_source,
                       reference="estimatr::horvitz_thompson", notes=notes or None)
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"Horvitz-Thompson: {outcome}",
                       extra={"dropped": p.dropped})


def _ht_se(v, n):
    """sqrt(v)/n with a warning (never a silent NaN) where the variance bound is negative."""
    v = np.asarray(v, dtype=float)
    if (v < 0).any():
        warnings.warn(f"{int((v < 0).sum())} block(s) have a negative Horvitz-Thompson "
                      "variance estimate (estimatr: 'Variance below 0'); the standard error "
                      "is NaN", StatisticalWarning, stacklevel=3)
    with np.errstate(invalid="ignore"):
        return np.where(v >= 0, np.sqrt(np.maximum(v, 0)) / n, np.nan)


# ------------------------------------------------------------------------------ covariates
def _demean(W, cell, ncell):
    """Within-cell demeaned columns and the cell means (n_cell x k)."""
    cnt = np.bincount(cell, minlength=ncell).astype(float)
    means = np.column_stack([np.bincount(cell, weights=W[:, j], minlength=ncell)
                             for j in range(W.shape[1])]) / cnt[:, None]
    return W - means[cell], means


def _rms(W):
    """Column root mean squares, computed on columns scaled by their largest absolute value
    so that tiny (1e-200) or large values neither underflow nor overflow."""
    top = np.max(np.abs(W), axis=0) if len(W) else np.zeros(W.shape[1])
    safe = np.where(top > 0, top, 1.0)
    return top * np.sqrt(np.mean((W / safe) ** 2, axis=0)) if len(W) else top


def _pinv_rank(W, ref=None):
    """Scaled pseudo-inverse of W'W and its rank (columns with no within-cell variation are
    collinear with the cell dummies and get weight 0, as R's QR drops them).

    A column counts as varying within cells when its within-cell root mean square exceeds
    1e-10 times its root mean square in ``ref`` (the columns before demeaning): a relative
    test, so the result does not depend on the covariates' units (an absolute threshold
    dropped a covariate measured in small units, e.g. x * 1e-12)."""
    if W.shape[1] == 0:
        return np.zeros((0, 0)), 0, W
    sd = _rms(W)
    base = _rms(W if ref is None else ref)
    keep = (sd > 1e-10 * base) & (sd > 0)
    Ws = np.where(keep, W / np.where(keep, sd, 1.0), 0.0)
    G = Ws.T @ Ws
    rank = int(np.linalg.matrix_rank(G, hermitian=True, tol=1e-9 * max(1.0, np.max(np.diag(G)))))
    Ginv = np.linalg.pinv(G, rcond=1e-10, hermitian=True)
    return Ginv, rank, Ws


_HC = ("HC0", "HC1", "HC2", "HC3")


def _check_hc(lev, n: int, rank: int, se_type: str, what: str, p: Prepared) -> None:
    """DesignError when the HC variance is undefined: no residual degrees of freedom, or
    (HC2 / HC3) observations with leverage one, which a rare covariate level or a
    saturated model produces (R gives NaN or Inf there)."""
    if n - rank <= 0:
        raise DesignError(f"{what}: {n} rows for {rank} parameters leave no residual degrees "
                          "of freedom; use fewer covariates (or covariate levels) or more data")
    if se_type in ("HC2", "HC3"):
        one = np.asarray(lev) > 1 - 1e-8
        if one.any():
            raise DesignError(f"{what}: {int(one.sum())} row(s) have leverage one (a covariate "
                              f"level or cell held by them alone), so the {se_type} variance "
                              "is undefined; merge rare covariate levels or use se_type='HC0' "
                              f"or 'HC1'; e.g. person_ids {examples(p.frame, one)}")


def lin_adjusted(data: pd.DataFrame, outcome: str, treatment: str,
                 covariates: Sequence[str] | str | None, *, blocks=None, alpha: float = 0.05,
                 condition1=None, condition2=None, se_type: str = "HC2") -> EffectTable:
    """Lin (2013) covariate-adjusted effect estimate (``estimatr::lm_lin``).

    Model: OLS of ``y`` on ``[1, t, Xc, t * Xc]`` where ``Xc`` are the covariates centred at
    their sample means; the coefficient on ``t`` estimates the SATE. With ``blocks`` the
    block dummies are added to the covariates (centred and interacted, like ``lm_lin`` with
    ``~ x + factor(block)``), i.e. one intercept per block x arm cell.

    Computation (why hand-written: 1,000 block dummies interacted at 2M rows is a ~30 GB dense
    design): by Frisch-Waugh-Lovell the covariate slopes ``theta`` come from the covariates
    demeaned within block x arm cells; the effect is
    ``tau = sum_b (n_b/N) [(ybar_b1 - Wbar_b1 theta) - (ybar_b0 - Wbar_b0 theta)]`` (the
    average over the sample of the fitted contrast, which is the ``t`` coefficient because the
    covariates are centred), a linear function ``sum_i l_i y_i`` of the outcomes.

    Variance: ``se^2 = sum_i l_i^2 e_i^2 / (1 - h_ii)`` (HC2) with leverage
    ``h_ii = 1/n_cell + w_i'(W'W)^+ w_i``; identical to HC2 from the full design. df =
    N - rank (t reference, as estimatr). HC0, HC1 and HC3 are available through
    ``se_type``. Assumes complete randomisation (within blocks); consistent and not less
    precise asymptotically than the difference in means.

    Parameters
    ----------
    data : DataFrame
    outcome, treatment : str
        Outcome (numeric) and allocated-condition columns.
    covariates : list of str or str
        Pre-treatment covariates (numeric, bool, or categorical: dummies for each level but
        the first). Rows with a missing covariate are dropped and counted. May be empty if
        ``blocks`` is given.
    blocks : str or list of str, optional
        Randomisation strata (as centred, interacted dummies).
    alpha : float, default 0.05
    condition1, condition2 : optional
        Compared conditions (as :func:`diff_in_means`).
    se_type : {"HC2", "HC0", "HC1", "HC3"}, default "HC2"

    Returns
    -------
    EffectTable
    """
    alpha = check_alpha(alpha)
    if se_type not in _HC:
        raise ParameterError(f"se_type must be one of {_HC}, not {se_type!r}")
    covariates = as_list(covariates)
    if not covariates and blocks is None:
        raise ParameterError("lin_adjusted needs covariates (or blocks)")
    p = prepare(data, outcome, treatment, blocks=blocks, condition1=condition1,
                condition2=condition2, extra=covariates)
    X, names = covariate_matrix(p.frame, covariates)
    p, X = drop_missing_cov(p, X)
    K = p.n_blocks if p.block is not None else 1
    cell = (p.block * 2 if p.block is not None else 0) + p.z.astype(np.int64)
    ncell = 2 * K
    cnt = np.bincount(cell, minlength=ncell).astype(float)
    if (cnt < 2).any():
        bad = np.flatnonzero((cnt < 2).reshape(K, 2).any(axis=1))
        raise DesignError("every block x arm cell needs at least two units for Lin's "
                          "estimator with HC2 errors (leverage 1 otherwise); e.g. person_ids "
                          f"{block_examples(p, bad)}")
    Xc = X - X.mean(axis=0) if X.shape[1] else X
    W = np.hstack([Xc, Xc * p.z[:, None]]) if X.shape[1] else Xc
    Wt, Wbar = _demean(W, cell, ncell) if W.shape[1] else (W, np.zeros((ncell, 0)))
    Ginv, r, Ws = _pinv_rank(Wt, ref=W)
    y = p.y
    ybar = np.bincount(cell, weights=y, minlength=ncell) / cnt
    n_b = cnt.reshape(K, 2).sum(axis=1)
    N = n_b.sum()
    wb = n_b / N
    if Ws.shape[1]:
        scale = _rms(Wt)
        scale = np.where(scale > 0, scale, 1.0)
        WbarS = Wbar / scale
        theta = Ginv @ (Ws.T @ y)
        fitted = ybar[cell] + Ws @ theta
        adj = ybar - WbarS @ theta
        g = (wb[:, None] * (WbarS.reshape(K, 2, -1)[:, 1, :] - WbarS.reshape(K, 2, -1)[:, 0, :])
             ).sum(axis=0)
        proj = Ws @ Ginv
        lev = 1.0 / cnt[cell] + np.einsum("ij,ij->i", proj, Ws)
        ell_cov = proj @ g
    else:
        fitted = ybar[cell]
        adj = ybar
        lev = 1.0 / cnt[cell]
        ell_cov = 0.0
    a = adj.reshape(K, 2)
    tau = float(np.sum(wb * (a[:, 1] - a[:, 0])))
    sign = np.where(p.z == 1, 1.0, -1.0)
    bidx = p.block if p.block is not None else np.zeros(len(y), dtype=np.int64)
    ell = wb[bidx] * sign / cnt[cell] - ell_cov
    resid = y - fitted
    rank = ncell + r
    _check_hc(lev, int(N), rank, se_type, "lin_adjusted", p)
    se = _se.hc_linear_functional(ell, resid, lev, se_type, rank)
    df = float(N - rank)
    tab = result_row(term_name(treatment, p.cond1, p.cond2), tau, se, df, int(N), alpha,
                     outcome=outcome, condition1=p.cond1, condition2=p.cond2,
                     n_blocks=p.n_blocks if p.block is not None else np.nan)
    design = "Blocked (block dummies centred and interacted)" if p.block is not None \
        else "Standard"
    meth = method_dict("Lin (2013) regression adjustment", se_type, "t (df = N - rank)", design,
                       alpha=alpha, covariates=names, blocks=as_list(blocks) or None,
                       reference="estimatr::lm_lin")
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"Lin-adjusted effect: {outcome}",
                       extra={"dropped": p.dropped, "rank": int(rank),
                              "collinear_columns": int(W.shape[1] - r)})


# ------------------------------------------------------------------------------ IV
def iv_effect(data: pd.DataFrame, outcome: str, treatment: str, received: str, *,
              covariates: Sequence[str] | str | None = None, blocks=None, alpha: float = 0.05,
              condition1=None, condition2=None, se_type: str = "HC2") -> EffectTable:
    """Complier average causal effect by two-stage least squares (``estimatr::iv_robust``).

    Estimand: the effect of *receiving* (e.g. ``attached``) among compliers, with the
    random allocation (``treatment`` = condition2 vs condition1) as instrument. Assumes
    randomised allocation, exclusion (allocation affects outcomes only through receipt) and
    monotonicity (Imbens & Angrist 1994).

    Model: ``y = a + b d + c'x + e`` with ``d`` instrumented by ``z``; 2SLS
    ``beta = (Xhat'X)^-1 Xhat'y`` where ``Xhat`` are the first-stage fitted regressors.
    Variance: ``(Xhat'Xhat)^-1 Xhat' Omega Xhat (Xhat'Xhat)^-1`` with structural residuals
    ``e = y - X beta`` and ``Omega`` of type ``se_type``; HC2 uses the leverage of
    ``Xhat`` (estimatr's default). linearmodels' ``IV2SLS(...).fit(cov_type="robust")`` is
    HC0 (``debiased=True``: HC1), reproduced here by ``se_type="HC0"``/``"HC1"``; the
    default HC2 matches estimatr (checked in the reference tests). df = N - k (t reference,
    as estimatr). With ``blocks``, stratum fixed effects are swept out (within-block
    demeaning) and the leverage adds ``1/n_b``. Hand-written because linearmodels has no
    HC2 and its fixed-effect IV needs the dense dummy matrix.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Numeric outcome.
    treatment : str
        Random allocation (the instrument), any two-valued column.
    received : str
        Treatment received (numeric or bool, e.g. ``attached``).
    covariates : list of str, optional
        Exogenous covariates (numeric, bool or categorical).
    blocks : str or list of str, optional
        Strata included as fixed effects.
    alpha : float, default 0.05
    condition1, condition2 : optional
        Allocation conditions (instrument = 1 for condition2).
    se_type : {"HC2", "HC0", "HC1", "HC3"}, default "HC2"

    Returns
    -------
    EffectTable
        The ``received`` term; ``extra["first_stage"]`` holds the first-stage coefficient
        of the instrument, its HC standard error and F statistic (weak instrument warning if
        F < 10).
    """
    alpha = check_alpha(alpha)
    if se_type not in _HC:
        raise ParameterError(f"se_type must be one of {_HC}, not {se_type!r}")
    covariates = as_list(covariates)
    if not isinstance(received, str):
        raise ParameterError("received must be a column name")
    p = prepare(data, outcome, treatment, blocks=blocks, condition1=condition1,
                condition2=condition2, extra=[received] + covariates)
    d = numeric(p.frame, received)
    C, names = covariate_matrix(p.frame, covariates)
    M = np.column_stack([d, C]) if C.shape[1] else d[:, None]
    p, M = drop_missing_cov(p, M, "missing_received_or_covariate")
    y, z = p.y, p.z.astype(float)
    N = len(y)
    d, C = M[:, 0], M[:, 1:]
    Xm = np.column_stack([d, C])
    Zm = np.column_stack([z, C])
    lev0 = 0.0
    if p.block is not None:
        B = p.n_blocks
        nb = np.bincount(p.block, minlength=B).astype(float)
        if (nb < 2).any():
            raise DesignError("every block needs at least two units for fixed effects")
        y = y - (np.bincount(p.block, weights=y, minlength=B) / nb)[p.block]
        Xm, _ = _demean(Xm, p.block, B)
        Zm, _ = _demean(Zm, p.block, B)
        lev0 = 1.0 / nb[p.block]
        k_extra = B
    else:
        Xm = np.column_stack([np.ones(N), Xm])
        Zm = np.column_stack([np.ones(N), Zm])
        k_extra = 0
    if np.ptp(Zm[:, 0 if p.block is not None else 1]) == 0:
        raise DesignError("the instrument does not vary (after fixed effects)")
    if np.ptp(Xm[:, 0 if p.block is not None else 1]) == 0:
        raise DesignError(f"{received!r} (treatment received) does not vary"
                          + (" within blocks" if p.block is not None else "")
                          + ": the complier effect is not identified")
    # work on columns scaled to unit root mean square: 2SLS is equivariant to the units of
    # the regressors, but pinv / lstsq cut-offs are relative to the largest singular value,
    # so unscaled columns in very different units (a covariate in pence, d * 1e-12) would
    # be treated as collinear and silently dropped
    sx, sz = _rms(Xm), _rms(Zm)
    sx, sz = np.where(sx > 0, sx, 1.0), np.where(sz > 0, sz, 1.0)
    Xs, Zs = Xm / sx, Zm / sz
    pi, *_ = np.linalg.lstsq(Zs, Xs, rcond=None)
    Xhat = Zs @ pi
    bread = np.linalg.pinv(Xhat.T @ Xhat)
    beta = bread @ (Xhat.T @ y)
    resid = y - Xs @ beta
    k = Xm.shape[1] + k_extra
    lev = lev0 + np.einsum("ij,jk,ik->i", Xhat, bread, Xhat)
    _check_hc(lev, N, k, se_type, "iv_effect", p)
    V = _se.hc_vcov(Xhat, resid, bread, se_type, leverage=lev, rank=k)
    j = 0 if p.block is not None else 1
    est, se = float(beta[j] / sx[j]), float(np.sqrt(V[j, j]) / sx[j])
    # first stage: d on the instruments
    zb = np.linalg.pinv(Zs.T @ Zs)
    fs = zb @ (Zs.T @ Xs[:, j])
    fres = Xs[:, j] - Zs @ fs
    flev = lev0 + np.einsum("ij,jk,ik->i", Zs, zb, Zs)
    fV = _se.hc_vcov(Zs, fres, zb, se_type, leverage=flev, rank=Zm.shape[1] + k_extra)
    unit = sx[j] / sz[j]
    f_coef, f_se = float(fs[j] * unit), float(np.sqrt(fV[j, j]) * unit)
    f_stat = float(fs[j] ** 2 / fV[j, j]) if fV[j, j] > 0 else np.inf
    if f_stat < 10:
        warnings.warn(f"weak instrument: first-stage F = {f_stat:.2f} < 10; the CACE and its "
                      "interval are unreliable", StatisticalWarning, stacklevel=2)
    df = float(N - k)
    tab = result_row(received, est, se, df, N, alpha, outcome=outcome, instrument=treatment,
                     condition1=p.cond1, condition2=p.cond2)
    meth = method_dict("instrumental variables (2SLS): complier average causal effect", se_type,
                       "t (df = N - k)", "Blocked (fixed effects)" if p.block is not None
                       else "Standard", alpha=alpha, covariates=names or None,
                       blocks=as_list(blocks) or None, reference="estimatr::iv_robust")
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"CACE of {received}: {outcome}",
                       extra={"dropped": p.dropped,
                              "first_stage": {"coef": f_coef, "std_error": f_se,
                                              "F": f_stat}})
