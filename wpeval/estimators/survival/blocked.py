"""Design-based survival contrasts between the primes of a CPA (issue 13, item 2).

Claimants were allocated at random to the primes of their CPA within each Jobcentre Plus
district x period, so a comparison of two primes is an experiment only *inside* a stratum that
holds both. :func:`compare_primes_survival` is the survival analogue of
:func:`wpeval.compare_primes`: for every CPA and every pair of its primes it contrasts the
Kaplan-Meier survival at fixed horizons and the restricted mean survival time (RMST) *within*
each stratum and combines the stratum contrasts with the design weights, with a variance that
respects the blocking, normal intervals, Holm-adjusted p-values and (optionally) a
randomisation p-value that re-draws the allocation within strata. :func:`blocked_curves` gives
the matching stratum-standardised curves (every prime of a CPA standardised to the CPA's
stratum mix), to show beside the pooled Kaplan-Meier curves.

This closes the gap noted in ``docs/assumptions.md`` S2 (pooled RMST differences compare
independent groups and ignore the randomisation strata).

Hand-written and vectorised: one Kaplan-Meier pass over all stratum x prime curves (the
distinct-time blocks of :func:`wpeval.estimators.survival.km.km_blocks`), the horizons read off
by ``bincount``, and the randomisation draws as matrix operations over (draws x rows) chunks.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.estimators.survival._blocked_cells import _CellCurves
from wpeval.estimators.survival._blocked_contrasts import (
    _add_adjusted_pvalues,
    _combine,
    _contrast_method,
    _pair_contrasts,
    _sorted_table,
    _warn,
)
from wpeval.estimators.survival._blocked_data import (
    _check_horizons,
    _check_int,
    _Data,
    _seed_sequence,
)
from wpeval.estimators.survival._blocked_randomisation import _randomisation
from wpeval.estimators.survival._blocked_standardised import _check_times, _standardised_curves
from wpeval.estimators.survival._common import check_alpha, zcrit
from wpeval.estimators.survival._curves import SurvivalCurves
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable

__all__ = ["blocked_curves", "blocked_km_arrays", "compare_primes_survival"]

ESTIMATOR = "blocked Kaplan-Meier difference"
_ADJUST = ("holm", "bonferroni", "bh", "none")


# ------------------------------------------------------------------------------ public API
def compare_primes_survival(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    cpa: str | Sequence[str] | None = None,
    blocks: Sequence[str] = ("district", "period"),
    horizons: Sequence[float] = (364, 728),
    alpha: float = 0.05,
    draws: int = 0,
    seed=None,
    min_n: int = 2,
    adjust: str = "holm",
    prime_col: str = "prime",
    cpa_col: str = "cpa",
    prob_col: str = "allocation_prob",
    freq: str = "Q",
    id_col: str | None = "person_id",
    timefix: bool = True,
    max_elements: int = 4_000_000,
) -> EffectTable:
    """Blocked (within-stratum) Kaplan-Meier and RMST contrasts between the primes of each CPA.

    Estimands (per CPA, pair of primes A, B and horizon h; time in days, 364 = 52 weeks, 728 =
    104 weeks): ``sum_s w_s [S_As(h) - S_Bs(h)]`` and ``sum_s w_s [RMST_As(h) - RMST_Bs(h)]``,
    where ``S_cs`` is the survival function (here: of the time to job entry) had the
    referrals of stratum s been allocated to prime c, ``RMST_cs(h) = int_0^h S_cs(t) dt`` (the
    mean days without the event in the first h days), and ``w_s`` the stratum's share of the
    pair's referrals over the strata used, ``(n_As + n_Bs) / sum_u (n_Au + n_Bu)`` -- the
    weights of the blocked difference in means (:func:`wpeval.compare_primes`,
    ``stratum_weight="pair"``).

    Estimator: within each stratum (``cpa`` x ``blocks``, by default Jobcentre Plus district x
    quarter) the Kaplan-Meier curve of each prime (as :func:`wpeval.kaplan_meier`, Greenwood
    variance) and its area to h (as :func:`wpeval.rmst`, R ``survfit`` ``rmean``); the
    contrast is ``tau = sum_s w_s (Q_As - Q_Bs)`` for ``Q = S(h)`` or ``RMST(h)``.

    Variance (respects the blocking): ``Var(tau) = sum_s w_s^2 [V_As + V_Bs]`` with, for
    ``S(h)``, ``V = S(h)^2 sum_{t_j <= h} d_j / (Y_j (Y_j - d_j))`` (Greenwood) and, for the
    RMST, ``V = sum_{t_j <= h} A_j^2 d_j / (Y_j (Y_j - d_j))``, ``A_j = int_{t_j}^h S``
    (Klein & Moeschberger 2003, eq. 4.5.2; R ``survmean``); a term with ``Y_j = d_j`` (the
    curve drops to 0) counts 0, as R's RMST variance. Normal (Wald) intervals
    ``tau -/+ z SE`` and two-sided p-values for ``tau = 0``; ``p_adjusted_cpa`` adjusts
    (``adjust``, Holm by default) over every row of a CPA (pairs x quantities),
    ``p_adjusted_cpa_quantity`` over the pairs of a CPA for one quantity.

    Assumptions: complete randomisation of the referrals to the primes within each stratum
    with constant shares (if ``prob_col`` varies within stratum x prime -- the 2013 market-share
    shift moved shares by payment group -- add ``payment_group`` to ``blocks``; a
    StatisticalWarning is given otherwise); strata independent (allocations and outcomes of
    different strata independent, so the stratum variances add); within each stratum and prime,
    censoring independent of the event time, so the Kaplan-Meier curve is consistent (here other
    exits from the programme and the extract date censor job entry: the estimand is the net
    survival of job entry with those exits removed, under that assumption); the Greenwood and
    RMST variances are large-sample within each stratum: in the coverage benchmark
    (``benchmarks/coverage_survival.py``, 500 synthetic programmes) the 95% intervals cover
    94.6-95.1% with a median of 16-190 referrals per prime and stratum, but about 93% in a CPA
    whose strata hold a median of 4 referrals per prime (the SEs there are ~7% too small).
    No interference between referrals.

    Strata: a stratum enters a pair's contrast only if it holds both primes (the others are
    counted in ``n_dropped``) with at least ``min_n`` referrals each (else ``n_dropped_small``,
    StatisticalWarning). For horizon h a stratum is also dropped from the h quantities when
    none of the pair's referrals is still followed at h (duration >= h for nobody; e.g. recent
    quarters cut by the extract date): ``n_dropped_horizon``. These rules use only the design
    counts and the pair's pooled follow-up, so they are the same for every re-randomisation.
    When one prime's curve in a stratum ends before h with someone censored last (no one of
    that prime at risk at h while the other prime still is) the curve is carried flat to h, as
    R ``survfit`` / ``rmst`` do; these strata are counted in ``n_extended`` (warning). The
    weights are renormalised over the strata used by each quantity.

    Randomisation p-value (``draws > 0``): the prime labels A / B are permuted within each
    stratum used (the number of A in every stratum fixed, as the design fixes it given the
    pair's referrals), ``draws`` times, and the statistic -- the blocked difference ``tau``
    itself, not studentised -- is recomputed with the same weights. ``p_randomisation =
    (1 + #{|tau*| >= |tau|}) / (draws + 1)`` tests the sharp null that the allocated prime
    changes no one's (duration, event) (Fisher; valid for any number of draws, Phipson & Smyth
    2010); it is not a test of the weak null of equal average curves. Seeds: one child of
    ``numpy.random.SeedSequence(seed)`` per pair, in table order; all quantities of a pair share
    the draws. Cost is O(draws x rows log rows): about 0.05 s per draw per million rows of a
    pair, e.g. ~3 minutes for 1,000 draws over every pair of 1.9 million attached referrals.

    Parameters
    ----------
    data : DataFrame
        Referral-level data: ``cpa``, ``prime``, the block columns (``period`` is derived from
        ``referral_date`` by :func:`wpeval.data.design.add_period` when absent), the duration and
        event columns.
    duration : str
        Time (days) from the start of the clock (e.g. attachment) to the event or censoring,
        >= 0. Rows with a missing duration, event, prime, CPA or block are dropped and counted.
    event : str
        1 (or True) = event observed at ``duration``, 0 = censored.
    cpa : str or list of str, optional
        CPA code(s) to analyse (default: every CPA).
    blocks : sequence of str, default ("district", "period")
        Randomisation strata within a CPA.
    horizons : sequence of float, default (364, 728)
        Horizons h (days) for ``S(h)`` and ``RMST(h)``.
    alpha : float, default 0.05
        1 - confidence level.
    draws : int, default 0
        Randomisation draws for ``p_randomisation`` (0: not computed, NaN).
    seed : int, numpy SeedSequence or None
        Root of the randomisation seeds (None: fresh entropy, recorded in ``extra``).
    min_n : int, default 2
        Referrals each prime needs in a stratum for the stratum to be used.
    adjust : {"holm", "bonferroni", "bh", "none"}, default "holm"
        Adjustment of ``p_adjusted_cpa`` and ``p_adjusted_cpa_quantity`` (and of
        ``p_randomisation_adjusted_cpa``).
    prime_col, cpa_col : str
        Column names of the prime and the CPA.
    prob_col : str, default "allocation_prob"
        Allocation probability of the prime received, only checked (constant within stratum x
        prime) when present.
    freq : str, default "Q"
        Period frequency when ``period`` is derived.
    id_col : str, optional
        Column giving example rows in error messages.
    timefix : bool, default True
        Merge near-tied times as R (``aeqSurv``).
    max_elements : int, default 4,000,000
        Size of the (draws x rows) chunks of the randomisation draws (memory bound).

    Returns
    -------
    EffectTable
        One row per CPA x pair x quantity: ``term`` ("Prime A - Prime B: S(364)"), the standard
        columns, and ``cpa, prime_a, prime_b, quantity ("survival" / "rmst"), horizon,
        horizon_weeks, n_strata_used, n_dropped, n_dropped_small, n_dropped_horizon,
        n_extended, estimate_a, estimate_b`` (the weighted S or RMST of each prime),
        ``p_adjusted_cpa, p_adjusted_cpa_quantity, p_randomisation,
        p_randomisation_adjusted_cpa``. ``extra``: strata used / dropped per CPA and pair,
        rows dropped, the randomisation seed.
    """
    alpha = check_alpha(alpha)
    H = _check_horizons(horizons)
    draws = _check_int(draws, "draws", 0)
    min_n = _check_int(min_n, "min_n", 2)
    max_elements = _check_int(max_elements, "max_elements", 1)
    if adjust not in _ADJUST:
        raise ParameterError(f"adjust must be one of {_ADJUST}, not {adjust!r}")
    root = _seed_sequence(seed)
    dd = _Data(
        data,
        duration,
        event,
        cpa,
        blocks,
        prime_col,
        cpa_col,
        freq,
        id_col,
        timefix,
        "compare_primes_survival",
        prob_col,
    )
    if dd.prob_varies:
        warnings.warn(
            f"{prob_col!r} varies within stratum x prime: the allocation shares are not constant "
            "in the strata given; add 'payment_group' to blocks",
            StatisticalWarning,
            stacklevel=2,
        )
    P = len(dd.primes)
    cell = dd.stratum * P + dd.pcode
    cc = _CellCurves(dd.duration, dd.event, cell, dd.n_strata * P)
    rows, strata_info, perms = _pair_contrasts(dd, cc, H, min_n, alpha)
    tab = pd.DataFrame(rows)
    if tab.empty or not np.isfinite(tab["estimate"].to_numpy(dtype=float)).any():
        raise DataContractError(
            "no contrast could be estimated: no stratum holds two primes with "
            f"at least {min_n} referrals each",
            column=prime_col,
            rule="design_support",
        )
    tab = _sorted_table(tab)
    _warn(tab, min_n)
    p_rand, seed_info = _randomisation(dd, perms, H, draws, root, max_elements, tab)
    tab["p_randomisation"] = p_rand
    _add_adjusted_pvalues(tab, adjust)
    method = _contrast_method(ESTIMATOR, dd, alpha, adjust, H, min_n, draws, cpa_col)
    return EffectTable(
        tab,
        method,
        title=f"Blocked survival contrasts between primes: {duration}",
        extra={
            "strata": strata_info,
            "n_input": dd.n_input,
            "n_dropped_rows": dd.n_dropped,
            "n_timefix": dd.n_timefix,
            "n_strata": int(dd.n_strata),
            "prob_varies": dd.prob_varies,
            **seed_info,
        },
    )


def blocked_km_arrays(duration, event, block, is_a, horizons=(364, 728), alpha=0.05, min_n=2):
    """The blocked contrasts of :func:`compare_primes_survival` for one pair, from arrays.

    Used by the design diagnosis (:mod:`wpeval.inference.replicate`), which has the arrays
    already; same estimator, variance and stratum rules (no timefix, no input checks).

    Parameters
    ----------
    duration, event : ndarray
        Times (>= 0) and 0/1 events.
    block : ndarray of int
        Stratum codes 0..K-1.
    is_a : ndarray of bool
        True for prime A, False for prime B (estimate = A - B).
    horizons : sequence of float
    alpha : float
    min_n : int
        Referrals each prime needs in a stratum.

    Returns
    -------
    dict
        ``{("surv" or "rmst", h): {"estimate", "std_error", "conf_low", "conf_high",
        "p_value", "n_strata_used", ...}}``.
    """
    H = _check_horizons(horizons)
    block = np.asarray(block, dtype=np.int64)
    K = int(block.max()) + 1
    cell = block * 2 + np.where(np.asarray(is_a, dtype=bool), 0, 1)
    cc = _CellCurves(
        np.asarray(duration, dtype=np.float64), np.asarray(event, dtype=np.float64), cell, 2 * K
    )
    n = cc.n.reshape(K, 2)
    usable = (n >= min_n).all(axis=1)
    ia, ib = np.arange(K) * 2, np.arange(K) * 2 + 1
    out = {}
    for h in H:
        q = cc.at(h)
        used = usable & ((q["at_risk"][ia] + q["at_risk"][ib]) > 0)
        size = n.sum(axis=1) * used
        for kind in ("surv", "rmst"):
            if not used.any():
                out[(kind, float(h))] = {"estimate": np.nan, "n_strata_used": 0}
                continue
            var = "var_surv" if kind == "surv" else "var_rmst"
            r = _combine(q[kind][ia], q[kind][ib], q[var][ia], q[var][ib], size / size.sum(), alpha)
            r["n_strata_used"] = int(used.sum())
            out[(kind, float(h))] = r
    return out


def blocked_curves(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    cpa: str | Sequence[str] | None = None,
    blocks: Sequence[str] = ("district", "period"),
    times: Sequence[float] | None = None,
    alpha: float = 0.05,
    min_n: int = 2,
    prime_col: str = "prime",
    cpa_col: str = "cpa",
    freq: str = "Q",
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> SurvivalCurves:
    """Stratum-standardised Kaplan-Meier curves of each prime of each CPA.

    Estimand: ``S_c(t) = sum_s w_s S_cs(t)`` for every prime c of a CPA, with ``w_s = n_s /
    sum_u n_u`` the share of the CPA's referrals in stratum s over the strata used (all
    primes' referrals counted): every prime's curve is standardised to the *same* stratum mix,
    so differences between the curves are the design-based contrasts of
    :func:`compare_primes_survival` (with CPA rather than pair weights), free of the
    differences in stratum mix that the pooled curves of :func:`wpeval.kaplan_meier` carry
    when allocation shares changed over time.

    Estimator: the weighted sum of the within-stratum Kaplan-Meier curves; pointwise variance
    ``sum_s w_s^2 S_cs(t)^2 G_cs(t)`` (Greenwood sum ``G``; a term with ``Y = d`` counts 0);
    plain normal pointwise interval clipped to [0, 1]. Strata used: those holding every prime
    of the CPA with at least ``min_n`` referrals each (the others are counted in
    ``extra["strata"]``); beyond a stratum curve's last time its last value is carried (R
    ``survfit`` ``extend``). Assumptions as :func:`compare_primes_survival`.

    Parameters
    ----------
    data, duration, event, cpa, blocks, prime_col, cpa_col, freq, id_col, timefix :
        As :func:`compare_primes_survival`.
    times : sequence of float, optional
        Times at which the curves are evaluated (default: every distinct event time of the CPA
        and 0).
    alpha : float, default 0.05
        1 - confidence level of the pointwise intervals.
    min_n : int, default 2
        Referrals every prime needs in a stratum for the stratum to be used.

    Returns
    -------
    SurvivalCurves
        ``table``: ``curve, cpa, prime, time, n_risk, n_event, n_censor`` (summed over the
        strata used), ``surv, std_err, se_cumhaz (= std_err / surv), conf_low, conf_high``;
        ``curves``: ``curve, cpa, prime, n, events, n_strata``. ``.survival_at()``,
        ``.median()`` and the survival plots work as for :func:`wpeval.kaplan_meier`.
    """
    alpha = check_alpha(alpha)
    min_n = _check_int(min_n, "min_n", 1)
    grid = _check_times(times)
    dd = _Data(
        data,
        duration,
        event,
        cpa,
        blocks,
        prime_col,
        cpa_col,
        freq,
        id_col,
        timefix,
        "blocked_curves",
    )
    P = len(dd.primes)
    cell = dd.stratum * P + dd.pcode
    cc = _CellCurves(dd.duration, dd.event, cell, dd.n_strata * P)
    tables, curves, strata_info = _standardised_curves(dd, cc, grid, min_n, zcrit(alpha))
    if not tables:
        raise DataContractError(
            f"no CPA has a stratum holding all its primes with at least {min_n} referrals each",
            column=prime_col,
            rule="design_support",
        )
    method = {
        "estimator": "stratum-standardised Kaplan-Meier (weighted sum of within-stratum curves)",
        "se_type": "Greenwood within strata, sum_s w_s^2 Var(S_cs(t))",
        "ci_method": f"pointwise {100 * (1 - alpha):g}% plain normal, clipped to [0, 1]",
        "design": f"randomised within {cpa_col} x {' x '.join(dd.blocks)} strata; weights = "
        "the CPA's stratum shares (strata holding every prime)",
        "alpha": alpha,
        "blocks": dd.blocks,
        "min_n": min_n,
        "notes": "n_risk / n_event / n_censor summed over the strata used",
    }
    return SurvivalCurves(
        table=pd.concat(tables, ignore_index=True),
        curves=pd.DataFrame(curves),
        method=method,
        title=f"Stratum-standardised Kaplan-Meier: {duration}",
        extra={
            "strata": strata_info,
            "n_input": dd.n_input,
            "n_dropped_rows": dd.n_dropped,
            "n_timefix": dd.n_timefix,
        },
    )
