"""Within-CPA incremental cost-effectiveness of one prime against another.

Claimants were randomly allocated to the primes of their CPA within Jobcentre Plus district x
period, so for a pair of primes (A, B) both the difference in **payments per referral**
(``dC``) and the difference in **job outcomes per referral** (``dE``) are design-based
blocked differences in means (:func:`wpeval.diff_in_means` with the strata as blocks). Their
ratio ``R = dC / dE`` is the incremental cost per additional job outcome: what the programme
paid for each extra outcome the better-performing prime delivered.

Variance and covariance. Within stratum ``b`` with ``n_b`` referrals of the pair and
``w_b = n_b / N``, the blocked estimators are ``dC = sum_b w_b (Cbar_Ab - Cbar_Bb)`` and
likewise ``dE``. Their Neyman variances are ``sum_b w_b^2 (s_{C,Ab}^2/n_Ab + s_{C,Bb}^2/n_Bb)``
(estimatr's blocked ``difference_in_means``). The covariance uses the same formula with
within-cell sample *cross-products* in place of squares:
``Cov(dC, dE) = sum_b w_b^2 (s_{CE,Ab}/n_Ab + s_{CE,Bb}/n_Bb)``, with
``s_{CE,jb} = sum_i (C_i - Cbar_jb)(E_i - Ebar_jb) / (n_jb - 1)``. This is the Neyman
estimator of the covariance of two difference-in-means estimators on the same units: the
term that needs both potential outcomes of a unit, ``-S_{tauC,tauE} / n``, is dropped exactly
as ``-S_tau^2 / n`` is for the variances (it vanishes when either effect is constant). For
every linear combination ``dC - R dE`` (the quantity Fieller's set inverts) the implied
variance ``V_C - 2 R V_CE + R^2 V_E`` is then the Neyman variance of the outcome
``C - R E``, hence conservative. The 2 x 2 matrix is positive semi-definite because it is a
sum of sample covariance matrices.

Interval: the Fieller set of :func:`wpeval.value.ratio_interval.fieller` (bounded, two rays, or
the whole line when the outcome difference is not clearly non-zero), checked against R in
``tests/reference/fieller_reference.R``. A stratified bootstrap (resampling referrals within
stratum x prime) is also offered.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from wpeval.estimators.randomised import diff_in_means
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable
from wpeval.value.ratio_interval import FiellerInterval, fieller, quadrant

__all__ = ["FiellerInterval", "blocked_differences", "fieller", "icer", "quadrant"]


# ----------------------------------------------------------------------------- estimation
def _cell_moments(c: np.ndarray, e: np.ndarray, cell: np.ndarray, ncell: int):
    """Counts, means, and within-cell sums of squares / cross-products by cell."""
    n = np.bincount(cell, minlength=ncell).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc = np.bincount(cell, weights=c, minlength=ncell) / n
        me = np.bincount(cell, weights=e, minlength=ncell) / n
    dc, de = c - mc[cell], e - me[cell]
    scc = np.bincount(cell, weights=dc * dc, minlength=ncell)
    see = np.bincount(cell, weights=de * de, minlength=ncell)
    sce = np.bincount(cell, weights=dc * de, minlength=ncell)
    return n, mc, me, scc, see, sce


def blocked_differences(
    cost: np.ndarray, effect: np.ndarray, arm: np.ndarray, block: np.ndarray
) -> dict:
    """Blocked differences in means of two outcomes and their joint Neyman covariance.

    Parameters
    ----------
    cost, effect : arrays
        The two outcomes per unit (finite).
    arm : array of {0, 1}
        1 for prime A (the numerator arm), 0 for prime B (reference).
    block : array of int
        Stratum code (0..B-1); every stratum must have >= 2 units in each arm.

    Returns
    -------
    dict
        ``d_cost, d_effect, var_cost, var_effect, cov, n, n_blocks``, with
        ``d = sum_b w_b (mean_Ab - mean_Bb)``, ``w_b = n_b/N`` and the (co)variances of the
        module docstring.
    """
    cost = np.asarray(cost, float)
    effect = np.asarray(effect, float)
    arm = np.asarray(arm, np.int64)
    block = np.asarray(block, np.int64)
    B = int(block.max()) + 1 if len(block) else 0
    n, mc, me, scc, see, sce = _cell_moments(cost, effect, block * 2 + arm, 2 * B)
    n = n.reshape(B, 2)
    if (n < 2).any():
        raise DesignError("every stratum needs at least two referrals of each prime")
    mc, me = mc.reshape(B, 2), me.reshape(B, 2)
    scc, see, sce = (x.reshape(B, 2) / (n - 1) for x in (scc, see, sce))
    w = n.sum(axis=1) / n.sum()
    w2 = w * w
    return {
        "d_cost": float(np.sum(w * (mc[:, 1] - mc[:, 0]))),
        "d_effect": float(np.sum(w * (me[:, 1] - me[:, 0]))),
        "var_cost": float(np.sum(w2 * (scc / n).sum(axis=1))),
        "var_effect": float(np.sum(w2 * (see / n).sum(axis=1))),
        "cov": float(np.sum(w2 * (sce / n).sum(axis=1))),
        "n": int(n.sum()),
        "n_blocks": B,
    }


class _NoStrata(DesignError):
    """A prime pair with no stratum holding two referrals of each prime."""


def _pair_frame(
    sub: pd.DataFrame, cost: str, effect: str, prime_col: str, a: str, b: str, blocks: list[str]
) -> tuple[pd.DataFrame, dict]:
    """Rows of primes a and b in strata holding >= 2 referrals of each (others counted)."""
    pair = sub[sub[prime_col].astype(str).isin([a, b])]
    key = pair.groupby(blocks, observed=True, sort=True).ngroup().to_numpy()
    isa = (pair[prime_col].astype(str) == a).to_numpy()
    na = np.bincount(key, weights=isa, minlength=key.max() + 1 if len(key) else 0)
    nb = np.bincount(key, weights=~isa, minlength=len(na))
    ok = (na >= 2) & (nb >= 2)
    keep = ok[key]
    out = pair.loc[keep].assign(_stratum=key[keep], _arm=isa[keep].astype(np.int64))
    counts = {
        "strata_used": int(ok.sum()),
        "strata_dropped": int((~ok).sum()),
        "rows_dropped_small_strata": int((~keep).sum()),
    }
    return out, counts


def _bootstrap(c, e, arm, block, draws, seed, alpha) -> dict:
    """Stratified bootstrap of (dC, dE): resample referrals within stratum x arm."""
    rng = np.random.Generator(np.random.PCG64(seed))
    cell = block * 2 + arm
    order = np.argsort(cell, kind="stable")
    cell_s = cell[order]
    starts = np.searchsorted(cell_s, np.arange(cell.max() + 1))
    sizes = np.bincount(cell_s, minlength=cell.max() + 1)
    c_s, e_s = c[order], e[order]
    dc, de = np.empty(draws), np.empty(draws)
    for k in range(draws):
        idx = starts[cell_s] + np.floor(rng.random(len(cell_s)) * sizes[cell_s]).astype(np.int64)
        bd = blocked_differences(c_s[idx], e_s[idx], arm[order], block[order])
        dc[k], de[k] = bd["d_cost"], bd["d_effect"]
    sign = np.sign(np.median(de))
    flips = float(np.mean(np.sign(de) != sign))
    if flips > alpha / 2:  # the denominator's sign is not settled: no bounded interval
        lo, hi, kind = -math.inf, math.inf, "unbounded"
    else:
        lo, hi = np.quantile(dc / de, [alpha / 2, 1 - alpha / 2])
        kind = "bounded"
    return {
        "conf_low": float(lo),
        "conf_high": float(hi),
        "interval_kind": kind,
        "bootstrap_sign_flips": flips,
        "boot_cov": np.cov(dc, de),
    }


def _check_columns(data: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataContractError(
            f"icer needs columns {missing}", column=missing[0], rule="required_column"
        )
    for col in cols[:2]:
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise DataContractError(
                f"{col} must be numeric, got {data[col].dtype}", column=col, rule="numeric"
            )


def icer(
    data: pd.DataFrame,
    cost: str = "total_paid",
    effect: str = "job_outcome",
    *,
    cpa: str | Sequence[str] | None = None,
    blocks: Sequence[str] = ("district", "period"),
    method: str = "fieller",
    alpha: float = 0.05,
    df: float | None = None,
    draws: int = 999,
    seed: int = 20110601,
    prime_col: str = "prime",
    cpa_col: str = "cpa",
    freq: str = "Q",
) -> EffectTable:
    """Incremental cost per additional job outcome for every pair of primes within a CPA.

    Estimand: for primes A and B of a CPA, ``R = (C_A - C_B) / (E_A - E_B)``, where ``C_j``
    and ``E_j`` are the average payment per referral and job outcomes per referral had every
    referral of the strata used been allocated to prime j. Numerator and denominator are
    blocked differences in means (:func:`wpeval.diff_in_means`, blocks = strata), with the
    Neyman variances and the Neyman cross-product covariance of the module docstring.

    Parameters
    ----------
    data : DataFrame
        Referral-level rows with ``cost`` and ``effect`` (e.g. ``total_paid`` from
        :func:`wpeval.payments` and a 0/1 job-outcome flag), ``prime_col``, ``cpa_col`` and
        the block columns (``period`` is added from ``referral_date`` when absent).
    cost, effect : str
        Numeric columns; rows where either is missing are dropped and counted.
    cpa : str or list of str, optional
        CPA(s) to analyse (default all).
    blocks : sequence of str, default ("district", "period")
        Randomisation strata. Allocation shares must be constant within a stratum (after a
        market-share shift by payment group add ``"payment_group"``). Strata without two
        referrals of each prime of the pair are dropped and counted (``strata_dropped``).
    method : {"fieller", "bootstrap"}
        ``fieller``: closed-form Fieller set (bounded, exclusive or unbounded).
        ``bootstrap``: percentile interval of the ratio from a stratified bootstrap
        (resampling referrals within stratum x prime); reported as unbounded when more than
        ``alpha/2`` of the draws put the effect difference on the other side of zero.
    alpha : float, default 0.05
    df : float, optional
        t degrees of freedom for Fieller's critical value (None: normal, the default for
        the large samples of a CPA).
    draws, seed : int
        Bootstrap draws and seed (``method="bootstrap"``).
    prime_col, cpa_col : str
    freq : str, default "Q"
        Period of the strata when ``period`` must be derived.

    Returns
    -------
    EffectTable
        One row per pair: ``term`` ("A - B"), ``estimate`` (the ratio), ``std_error``
        (delta-method SE of the ratio, for reference only), ``conf_low``, ``conf_high``,
        ``interval_kind``, ``d_cost, se_cost, d_effect, se_effect, cov, corr, quadrant,
        p_effect`` (two-sided p-value of the effect difference), ``cpa, prime, reference``,
        ``n_prime, n_reference`` (referrals of each prime in the strata used),
        ``outcomes_prime, outcomes_reference`` (their summed ``effect``: job outcomes for a
        0/1 flag; the unit counts behind the estimate, for disclosure control),
        ``strata_used, strata_dropped``. The method names estimator, SE, CI and design.

    Notes
    -----
    Assumes complete randomisation within strata and no interference. A negative ratio is
    not a cost per outcome: read it with ``quadrant`` (A dominates B, or is dominated).
    """
    if method not in ("fieller", "bootstrap"):
        raise ParameterError(f"method must be 'fieller' or 'bootstrap', not {method!r}")
    blocks = list(blocks)
    if "period" in blocks and "period" not in data.columns:
        from wpeval.data.design import add_period

        data = add_period(data, freq)
    _check_columns(data, [cost, effect, prime_col, cpa_col] + blocks)
    sel = data
    if cpa is not None:
        wanted = [cpa] if isinstance(cpa, str) else list(cpa)
        sel = data[data[cpa_col].astype(str).isin(wanted)]
        if sel.empty:
            raise ParameterError(f"no rows for CPA {wanted}")
    miss = sel[[cost, effect]].isna().any(axis=1).to_numpy()
    sel = sel.loc[~miss]
    rows, skipped = [], []
    for cpa_code, sub in sel.groupby(sel[cpa_col].astype(str), sort=True):
        primes = sorted(sub[prime_col].astype(str).unique())
        for i, a in enumerate(primes):
            for b in primes[i + 1 :]:
                args = (sub, cost, effect, prime_col, a, b, blocks, method, alpha, df)
                try:
                    rows.append(_one_pair(*args, draws, seed, cpa_code))
                except _NoStrata as exc:  # counted and warned, never silently dropped
                    skipped.append(str(exc))
    if skipped:
        warnings.warn(
            f"{len(skipped)} prime pair(s) skipped: {'; '.join(skipped[:3])}",
            StatisticalWarning,
            stacklevel=2,
        )
    if not rows:
        raise DesignError("no CPA has two primes with referrals to compare")
    tab = pd.DataFrame(rows)
    ci = "Fieller (normal critical value)" if df is None else f"Fieller (t, df = {df:g})"
    if method == "bootstrap":
        ci = f"stratified bootstrap percentile ({draws} draws; unbounded if dE changes sign)"
    meth = {
        "estimator": "ratio of blocked differences in means (incremental cost per "
        "additional outcome)",
        "se_type": "Neyman (blocked) variances and cross-product covariance",
        "ci_method": ci,
        "design": f"Blocked ({' x '.join(blocks)})",
        "alpha": alpha,
        "blocks": blocks,
        "cost": cost,
        "effect": effect,
        "notes": "std_error is the delta-method SE of the ratio (for reference); the "
        "interval does not use it",
    }
    return EffectTable(
        tab,
        meth,
        title=f"Incremental cost per additional {effect}",
        extra={"rows_dropped_missing": int(miss.sum()), "pairs_skipped": skipped},
    )


def _one_pair(
    sub, cost, effect, prime_col, a, b, blocks, method, alpha, df, draws, seed, cpa_code
) -> dict:
    pair, counts = _pair_frame(sub, cost, effect, prime_col, a, b, blocks)
    if counts["strata_used"] == 0:
        raise _NoStrata(f"{cpa_code}: no stratum has two referrals of both {a} and {b}")
    pair = pair.assign(_prime=pair[prime_col].astype(str))
    res = {}
    for col in (cost, effect):  # the kit's blocked difference in means (estimatr's formula)
        res[col] = (
            diff_in_means(pair, col, "_prime", blocks="_stratum", condition1=b, condition2=a)
            .tidy()
            .iloc[0]
        )
    c = pair[cost].to_numpy(float)
    e = pair[effect].to_numpy(float)
    arm, blk = pair["_arm"].to_numpy(), pair["_stratum"].to_numpy()
    blk = np.unique(blk, return_inverse=True)[1]
    bd = blocked_differences(c, e, arm, blk)
    dC, dE = float(res[cost]["estimate"]), float(res[effect]["estimate"])
    vC, vE = float(res[cost]["std_error"]) ** 2, float(res[effect]["std_error"]) ** 2
    if not (
        np.isclose(bd["d_cost"], dC, rtol=1e-9, atol=1e-9)
        and np.isclose(bd["var_effect"], vE, rtol=1e-7, atol=1e-15)
    ):
        raise DesignError(
            f"{cpa_code} {a} - {b}: diff_in_means used another design than "
            "the Neyman blocked one (e.g. matched pairs); use larger strata"
        )
    cov = bd["cov"]
    fi = fieller(dC, dE, vC, vE, cov, alpha=alpha, df=df)
    ratio = fi.ratio
    se_r = (
        math.sqrt(max(vC - 2 * ratio * cov + ratio * ratio * vE, 0.0)) / abs(dE)
        if dE != 0
        else math.inf
    )
    row = {
        "term": f"{a} - {b}",
        "estimate": ratio,
        "std_error": se_r,
        "conf_low": fi.lower,
        "conf_high": fi.upper,
        "n": bd["n"],
        "n_prime": int(arm.sum()),
        "n_reference": int(len(arm) - arm.sum()),
        "outcomes_prime": float(e[arm == 1].sum()),
        "outcomes_reference": float(e[arm == 0].sum()),
        "interval_kind": fi.kind,
        "d_cost": dC,
        "se_cost": math.sqrt(vC),
        "d_effect": dE,
        "se_effect": math.sqrt(vE),
        "cov": cov,
        "corr": cov / math.sqrt(vC * vE) if vC > 0 and vE > 0 else math.nan,
        "quadrant": quadrant(dC, dE),
        "p_effect": float(res[effect]["p_value"]),
        "fieller_g": fi.g,
        "cpa": cpa_code,
        "prime": a,
        "reference": b,
        **counts,
    }
    if method == "bootstrap":
        boot = _bootstrap(c, e, arm, blk, int(draws), int(seed), alpha)
        row.update(
            conf_low=boot["conf_low"],
            conf_high=boot["conf_high"],
            interval_kind=boot["interval_kind"],
            bootstrap_sign_flips=boot["bootstrap_sign_flips"],
        )
    return row


class _CallableModule(type(sys.modules[__name__])):
    """``wpeval.value.icer`` is both this module and the function :func:`icer` (as
    ``wpeval.payments``): calling the module calls :func:`icer`."""

    def __call__(self, *args, **kwargs):
        return icer(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
