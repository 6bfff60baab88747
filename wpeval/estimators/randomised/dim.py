"""Difference in means: unblocked (Welch), blocked (Neyman), matched pairs, clustered (CR2)
and block-clustered, as ``estimatr::difference_in_means``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wpeval._prepare import (
    Prepared,
    as_list,
    block_examples,
    cell_stats,
    check_alpha,
    examples,
    flag_nonfinite,
    method_dict,
    numeric,
    prepare,
    result_row,
    subset,
    term_name,
)
from wpeval.estimators import se as _se
from wpeval.estimators._blocked import block_cell_stats, neyman_from_cells
from wpeval.estimators.randomised.ht import horvitz_thompson
from wpeval.estimators.se import dim as _se_dim
from wpeval.exceptions import DataContractError, DesignError, StatisticalWarning
from wpeval.results import EffectTable


# ------------------------------------------------------------------------------ design checks
def _check_clusters(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Treatment constant within clusters and clusters nested in blocks; returns the arm and
    block (or 0) of each cluster."""
    cl, C = p.cluster, p.n_clusters
    n_g = np.bincount(cl, minlength=C)
    z_g = np.bincount(cl, weights=p.z, minlength=C)
    mixed = (z_g > 0) & (z_g < n_g)
    if mixed.any():
        raise DesignError(
            "All units within a cluster must have the same treatment condition "
            f"({int(mixed.sum())} mixed clusters), e.g. person_ids "
            f"{examples(p.frame, np.isin(cl, np.flatnonzero(mixed)[:5]))}"
        )
    blk = np.zeros(C, dtype=np.int64)
    if p.block is not None:
        key = np.unique(cl * p.n_blocks + p.block)
        per_cluster = np.bincount(key // p.n_blocks, minlength=C)
        if (per_cluster > 1).any():
            bad = np.flatnonzero(per_cluster > 1)
            raise DesignError(
                "All clusters must be contained within blocks; e.g. person_ids "
                f"{examples(p.frame, np.isin(cl, bad[:5]))}"
            )
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
            raise DesignError(
                "every arm needs at least two units for a difference-in-means "
                f"standard error (n = {int(n1)}, {int(n0)})"
            )
        se, df = _se.welch(n1, n0, ss[1] / (n1 - 1), ss[0] / (n0 - 1))
        return tau, se, df, "Standard", "Neyman (Welch)", "t (Welch-Satterthwaite df)"
    arm_g, _ = _check_clusters(p)
    if min(np.sum(arm_g == 1), np.sum(arm_g == 0)) < 2:
        raise DesignError("each arm needs at least two clusters for a CR2 standard error")
    rs = np.bincount(p.cluster, weights=dev, minlength=p.n_clusters)
    n_g = np.bincount(p.cluster, minlength=p.n_clusters)
    se, df = _se.cr2_difference(rs, n_g, arm_g, n1, n0)
    return tau, se, df, "Clustered", "CR2 (clubSandwich/estimatr)", "t (Bell-McCaffrey df)"


def _complete_blocks(p: Prepared, drop_incomplete: bool):
    """The blocks with both conditions and their cell statistics ``(p, B, cnt, mean, ss,
    dev)``: a block lacking a condition is refused, or dropped with a warning when
    ``drop_incomplete``; a block of one unit is refused."""
    B = p.n_blocks
    cnt, mean, ss, dev = block_cell_stats(p.y, p.z, p.block, B)
    empty = (cnt == 0).any(axis=1)
    if not drop_incomplete and (cnt.sum(axis=1) == 1).any():
        raise DesignError(
            "All blocks must have multiple units (or clusters); e.g. person_ids "
            f"{block_examples(p, np.flatnonzero(cnt.sum(axis=1) == 1))}"
        )
    if empty.any():
        bad = np.flatnonzero(empty)
        if not drop_incomplete:
            raise DesignError(
                f"{len(bad)} block(s) lack one of the two conditions (estimatr: 'Must have "
                "units with both treatment conditions within each block'); pass "
                f"drop_incomplete_blocks=True to drop them; e.g. person_ids "
                f"{block_examples(p, bad)}"
            )
        n_rows = int(cnt[bad].sum())
        warnings.warn(
            f"dropped {len(bad)} block(s) ({n_rows} rows) without both conditions",
            StatisticalWarning,
            stacklevel=4,
        )
        p = subset(p, ~np.isin(p.block, bad))
        p.dropped["incomplete_blocks"] = len(bad)
        p.dropped["rows_in_incomplete_blocks"] = n_rows
        if p.n_blocks == 0:
            raise DesignError("no block has both conditions")
        B = p.n_blocks
        cnt, mean, ss, dev = block_cell_stats(p.y, p.z, p.block, B)
    return p, B, cnt, mean, ss, dev


def _pairing(p: Prepared, B: int, cnt):
    """Whether the design is pair-matched (some block of two units or clusters), with the
    clusters' arm and block (None without clusters). Refuses blocks of one unit, a single
    pair, and unpaired blocks with one unit in an arm; warns when pairs mix with larger
    blocks (the matched-pairs variance is then used, as estimatr)."""
    arm_g = blk_g = None
    if p.cluster is not None:
        arm_g, blk_g = _check_clusters(p)
        size = np.bincount(blk_g, minlength=B)
    else:
        size = cnt.sum(axis=1)
    if (size == 1).any():
        raise DesignError(
            "All blocks must have multiple units (or clusters); e.g. person_ids "
            f"{block_examples(p, np.flatnonzero(size == 1))}"
        )
    pair = bool((size == 2).any())
    if pair and B < 2:
        raise DesignError(
            "a single block of two units (or clusters): the matched-pairs "
            "variance needs at least two pairs; e.g. person_ids "
            f"{block_examples(p, np.arange(B))}"
        )
    if pair and (size > 2).any():
        warnings.warn(
            "Some blocks have two units/clusters while other blocks have more. As "
            "standard variance estimates cannot be computed within blocks with two "
            "units, the matched-pairs variance estimator is used (as estimatr).",
            StatisticalWarning,
            stacklevel=4,
        )
    if not pair and (cnt == 1).any():
        raise DesignError(
            "If the design is not pair-matched, every block must have at least "
            "two treated and two control units (estimatr); e.g. person_ids "
            f"{block_examples(p, np.flatnonzero((cnt == 1).any(axis=1)))}"
        )
    return pair, arm_g, blk_g


def _dim_blocked(p: Prepared, drop_incomplete: bool):
    p, B, cnt, mean, ss, dev = _complete_blocks(p, drop_incomplete)
    pair, arm_g, blk_g = _pairing(p, B, cnt)
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
        return (
            p,
            tau,
            se,
            df,
            "Matched-pair clustered",
            "matched pairs clustered (Imai, King & Nall 2009)",
            "t (df = J - 1)",
        )
    if p.cluster is None:
        tau, se, df = neyman_from_cells(cnt, mean, ss)
        return p, tau, se, df, "Blocked", "Neyman (blocked)", "t (df = N - 2 blocks)"
    rs = np.bincount(p.cluster, weights=dev, minlength=p.n_clusters)
    n_g = np.bincount(p.cluster, minlength=p.n_clusters).astype(float)
    wg = _se_dim._cr2_weights(n_g, cnt[blk_g, arm_g])
    var_b = np.bincount(blk_g, weights=(wg * rs) ** 2, minlength=B)
    se = float(np.sqrt(np.sum(w**2 * var_b)))
    return (
        p,
        tau,
        se,
        float(p.n_clusters - 2 * B),
        "Block-clustered",
        "CR2 within blocks, Neyman combination",
        "t (df = clusters - 2 blocks)",
    )


def _prob_varies(prob, p: Prepared) -> bool:
    """Does the probability of the received condition vary within block x arm?"""
    cell = (p.block * 2 if p.block is not None else 0) + p.z
    n = max(int(cell.max()) + 1, 2)
    cnt, mean, ss, _ = cell_stats(prob, np.asarray(cell, dtype=np.int64), n)
    return bool(np.nanmax(np.sqrt(ss / np.maximum(cnt, 1))) > 1e-9)


def diff_in_means(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    blocks=None,
    clusters=None,
    condition_prob: str | None = None,
    alpha: float = 0.05,
    condition1=None,
    condition2=None,
    drop_incomplete_blocks: bool = False,
) -> EffectTable:
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
    p = prepare(
        data,
        outcome,
        treatment,
        blocks=blocks,
        clusters=clusters,
        condition1=condition1,
        condition2=condition2,
        extra=[condition_prob] if condition_prob else [],
    )
    if condition_prob is not None:
        prob = numeric(p.frame, condition_prob)
        if np.isnan(prob).any():
            raise DataContractError(
                "condition_prob has missing values",
                column=condition_prob,
                rule="not_null",
                examples=examples(p.frame, np.isnan(prob)),
            )
        if _prob_varies(prob, p):
            if clusters is not None:
                raise DesignError(
                    "allocation probabilities vary within blocks and clusters "
                    "are given: the clustered Horvitz-Thompson estimator is not "
                    "implemented"
                )
            res = horvitz_thompson(
                data,
                outcome,
                treatment,
                blocks=blocks,
                condition_prob=condition_prob,
                simple=True,
                alpha=alpha,
                condition1=condition1,
                condition2=condition2,
            )
            meth = dict(res.method)
            meth["notes"] = (
                "diff_in_means switched to Horvitz-Thompson because "
                f"{condition_prob!r} varies within block x arm. " + meth.get("notes", "")
            )
            return EffectTable(res.table, meth, res.title, res.extra)
    if p.block is None:
        tau, se, df, design, se_type, ci = _dim_unblocked(p)
    else:
        p, tau, se, df, design, se_type, ci = _dim_blocked(p, drop_incomplete_blocks)
    tab = result_row(
        term_name(treatment, p.cond1, p.cond2),
        tau,
        se,
        df,
        len(p.y),
        alpha,
        outcome=outcome,
        condition1=p.cond1,
        condition2=p.cond2,
        n_blocks=p.n_blocks if p.block is not None else np.nan,
        n_clusters=p.n_clusters if p.cluster is not None else np.nan,
    )
    meth = method_dict(
        "difference in means",
        se_type,
        ci,
        design,
        alpha=alpha,
        blocks=as_list(blocks) or None,
        clusters=as_list(clusters) or None,
        reference="estimatr::difference_in_means",
    )
    meth = flag_nonfinite(tab, meth)
    return EffectTable(
        tab, meth, title=f"Difference in means: {outcome}", extra={"dropped": p.dropped}
    )


# ------------------------------------------------------------------------------ HT
