"""Horvitz-Thompson (inverse-probability) estimator with Young's-inequality variance, as
``estimatr::horvitz_thompson``."""

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
    check_weights,
    examples,
    flag_nonfinite,
    method_dict,
    numeric,
    prepare,
    result_row,
    term_name,
)
from wpeval.estimators import se as _se
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable


def horvitz_thompson(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    blocks=None,
    condition_prob: str | None = None,
    simple: bool | None = None,
    se_type: str = "youngs",
    alpha: float = 0.05,
    condition1=None,
    condition2=None,
) -> EffectTable:
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
    p = prepare(
        data,
        outcome,
        treatment,
        blocks=blocks,
        condition1=condition1,
        condition2=condition2,
        extra=[condition_prob] if condition_prob else [],
    )
    p2, prob_source = _received_probabilities(p, condition_prob)
    if p.block is None:
        tau, se, design, se_name, notes = _ht_unblocked(p, p2, simple, se_type)
    else:
        tau, se, design, se_name, notes = _ht_blocked(p, p2, simple, se_type)
    tab = result_row(
        term_name(treatment, p.cond1, p.cond2),
        tau,
        se,
        None,
        len(p.y),
        alpha,
        outcome=outcome,
        condition1=p.cond1,
        condition2=p.cond2,
        n_blocks=p.n_blocks if p.block is not None else np.nan,
    )
    meth = method_dict(
        "Horvitz-Thompson",
        se_name,
        "normal",
        design,
        alpha=alpha,
        blocks=as_list(blocks) or None,
        probabilities=prob_source,
        reference="estimatr::horvitz_thompson",
        notes=notes or None,
    )
    meth = flag_nonfinite(tab, meth)
    return EffectTable(
        tab, meth, title=f"Horvitz-Thompson: {outcome}", extra={"dropped": p.dropped}
    )


def _received_probabilities(p: Prepared, condition_prob: str | None):
    """P(condition2) per row from the probability of the condition received, or None (then
    estimated from the shares), and a description of the source."""
    if condition_prob is None:
        return None, "estimated (share in condition2)"
    recv = numeric(p.frame, condition_prob)
    bad = ~((recv > 0) & (recv < 1))
    if bad.any():
        raise DataContractError(
            "probabilities must be strictly between 0 and 1 for a "
            "two-arm Horvitz-Thompson estimator",
            column=condition_prob,
            rule="probability_range",
            examples=examples(p.frame, bad),
        )
    p2 = np.where(p.z == 1, recv, 1.0 - recv)
    check_weights(p.y, p2, p.frame, condition_prob)
    return p2, f"column {condition_prob!r} (probability of the condition received)"


def _ht_unblocked(p: Prepared, p2, simple, se_type):
    """Estimate and SE without blocks: Bernoulli (simple) or complete assignment."""
    y, z = p.y, p.z
    N = len(y)
    if p2 is None:
        p2 = np.full(N, z.mean())
    simple = True if simple is None else simple
    Y1 = np.where(z == 1, y / p2, 0.0)
    Y0 = np.where(z == 0, y / (1.0 - p2), 0.0)
    tau = (Y1.sum() - Y0.sum()) / N
    if simple:
        if se_type == "youngs":
            se = _se.ht_youngs_simple(Y1[z == 1], Y0[z == 0], N)
        else:
            se = _se.ht_constant_simple(y, z, p2, tau)
        return tau, se, "Standard (simple random assignment)", f"HT {se_type} (simple)", ""
    if se_type == "constant":
        raise ParameterError(
            "se_type='constant' is only supported for simple random designs (as estimatr)"
        )
    if np.ptp(p2) > 1e-12:
        raise DesignError("treatment probabilities must be fixed for complete randomised designs")
    k1, k0 = int(z.sum()), int(N - z.sum())
    v = _se.ht_youngs_complete(Y1.sum(), (Y1**2).sum(), k1, Y0.sum(), (Y0**2).sum(), k0, p2[0], N)
    se = _ht_se(np.array([v]), np.array([float(N)]))[0]
    return tau, se, "Standard (complete random assignment)", "HT youngs (complete)", ""


def _block_probabilities(p: Prepared, p2, n_b, simple):
    """P(condition2) per row within blocks (the block share when not given), checked to be
    constant within blocks for complete assignment."""
    B, b = p.n_blocks, p.block
    if p2 is None:
        share = np.bincount(b, weights=p.z, minlength=B) / n_b
        bad = np.flatnonzero((share == 0) | (share == 1))
        if len(bad):
            raise DesignError(
                f"{len(bad)} block(s) hold only one condition, so the "
                "estimated probability is 0 or 1 and Horvitz-Thompson is "
                "undefined there; drop or merge them, or give "
                f"condition_prob; e.g. person_ids {block_examples(p, bad)}"
            )
        p2 = share[b]
    if not simple:
        _, _, ss, _ = cell_stats(p2, b, B)
        if np.nanmax(ss) > 1e-12:
            raise DesignError(
                "treatment probabilities must be fixed within blocks for a "
                "block-randomised design (estimatr); add the variable the "
                "probabilities depend on (e.g. payment_group) to blocks, or "
                "pass simple=True for the Bernoulli variance bound"
            )
    return p2


def _ht_blocked(p: Prepared, p2, simple, se_type):
    """Block estimates weighted by n_b / N, with the per-block Young's bound."""
    if se_type == "constant":
        raise ParameterError("se_type='constant' is not available with blocks (estimatr)")
    y, z, B, b = p.y, p.z, p.n_blocks, p.block
    n_b = np.bincount(b, minlength=B).astype(float)
    simple = False if simple is None else simple
    p2 = _block_probabilities(p, p2, n_b, simple)
    with np.errstate(divide="ignore", invalid="ignore"):
        Y1 = np.where(z == 1, y / p2, 0.0)
        Y0 = np.where(z == 0, y / (1.0 - p2), 0.0)
    s1 = np.bincount(b, weights=Y1, minlength=B)
    s0 = np.bincount(b, weights=Y0, minlength=B)
    q1 = np.bincount(b, weights=Y1**2, minlength=B)
    q0 = np.bincount(b, weights=Y0**2, minlength=B)
    w = n_b / len(y)
    tau = float(np.sum(w * (s1 - s0) / n_b))
    notes = ""
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
    se = float(np.sqrt(np.sum(w**2 * se_b**2)))
    return tau, se, design, se_name, notes


def _ht_se(v, n):
    """sqrt(v)/n with a warning (never a silent NaN) where the variance bound is negative."""
    v = np.asarray(v, dtype=float)
    if (v < 0).any():
        warnings.warn(
            f"{int((v < 0).sum())} block(s) have a negative Horvitz-Thompson "
            "variance estimate (estimatr: 'Variance below 0'); the standard error "
            "is NaN",
            StatisticalWarning,
            stacklevel=3,
        )
    with np.errstate(invalid="ignore"):
        return np.where(v >= 0, np.sqrt(np.maximum(v, 0)) / n, np.nan)
