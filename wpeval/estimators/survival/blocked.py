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

import itertools
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from wpeval._prepare import group_codes
from wpeval.estimators.survival._common import as_list, check_alpha, prepare, zcrit
from wpeval.estimators.survival._curves import SurvivalCurves
from wpeval.estimators.survival.km import km_blocks
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues
from wpeval.results import EffectTable

__all__ = ["blocked_curves", "blocked_km_arrays", "compare_primes_survival"]

ESTIMATOR = "blocked Kaplan-Meier difference"
_ADJUST = ("holm", "bonferroni", "bh", "none")
#: randomisation draws: 40 random bits below the stratum code in one int64 sort key
_RAND_BITS = 40


# ------------------------------------------------------------------------------ helpers
def _group_cumsum(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Cumulative sum within runs of ``code`` (copied from the private helper of
    :mod:`wpeval.estimators.survival.km`, which this module must not edit)."""
    return pd.Series(x).groupby(code, sort=False).cumsum().to_numpy()


def _check_horizons(horizons) -> np.ndarray:
    try:
        h = np.atleast_1d(np.asarray(horizons, dtype=float))
    except (TypeError, ValueError):
        raise ParameterError(f"horizons must be positive numbers, got {horizons!r}") from None
    if h.ndim != 1 or len(h) == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ParameterError(f"horizons must be positive finite numbers, got {horizons!r}")
    return np.unique(h)


def _check_int(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _seed_sequence(seed) -> np.random.SeedSequence:
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ParameterError(
        f"seed must be None, a non-negative integer or a numpy SeedSequence, got {seed!r}"
    )


def _labels_sorted(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted string labels of the values present."""
    codes, uniq = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), [str(u) for u in uniq]


class _Data:
    """Validated arrays: durations, events, prime / stratum codes, CPA of each stratum."""

    def __init__(
        self,
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
        what,
        prob_col=None,
    ):
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        blocks = as_list(blocks)
        if not blocks:
            raise ParameterError("blocks must name at least one stratum column")
        for c in [prime_col, cpa_col, *blocks]:
            if not isinstance(c, str):
                raise ParameterError(f"column names must be strings, got {c!r}")
        if "period" in blocks and "period" not in data.columns:
            from wpeval.data.design import add_period

            if "referral_date" not in data.columns:
                raise DataContractError(
                    "blocks include 'period', which is derived from referral_date; "
                    "the data have neither",
                    column="referral_date",
                    rule="missing_columns",
                )
            data = add_period(data, freq)
        if cpa is not None:
            if cpa_col not in data.columns:
                raise DataContractError(
                    f"column {cpa_col!r} is not in the data", column=cpa_col, rule="column_present"
                )
            wanted = as_list(cpa)
            have = set(data[cpa_col].dropna().astype(str).unique())
            missing = [c for c in wanted if str(c) not in have]
            if missing:
                raise ParameterError(f"CPA(s) {missing} not in the data")
            data = data[data[cpa_col].astype(str).isin([str(c) for c in wanted]).to_numpy()]
        used = list(dict.fromkeys([prime_col, cpa_col, *blocks]))
        prep = prepare(data, duration, event, used=used, id_col=id_col, what=what, timefix=timefix)
        frame = prep.frame
        self.duration = prep.duration
        self.event = prep.event.astype(np.float64)
        self.pcode, self.primes = _labels_sorted(frame[prime_col])
        self.stratum, self.n_strata = group_codes(frame, [cpa_col, *blocks])
        ccode, self.cpas = _labels_sorted(frame[cpa_col])
        s_cpa = np.full(self.n_strata, -1, dtype=np.int64)
        s_cpa[self.stratum] = ccode
        self.s_cpa = s_cpa
        self.blocks = blocks
        self.n_input, self.n_dropped, self.n_timefix = prep.n_input, prep.n_dropped, prep.n_timefix
        self.prob_varies = False
        if prob_col is not None and prob_col in frame.columns:
            pr = pd.to_numeric(frame[prob_col], errors="coerce").to_numpy(dtype=float)
            P = len(self.primes)
            cell = self.stratum * P + self.pcode
            ok = np.isfinite(pr)
            cnt = np.bincount(cell[ok], minlength=self.n_strata * P)
            mean = np.bincount(cell[ok], weights=pr[ok], minlength=self.n_strata * P)
            mean = mean / np.maximum(cnt, 1)
            self.prob_varies = bool(ok.any() and np.max(np.abs(pr[ok] - mean[cell[ok]])) > 1e-9)


# ------------------------------------------------------------------------------ KM by cell
class _CellCurves:
    """Kaplan-Meier curves of every cell (stratum x prime) in one pass, with what the horizons
    need: the survival, the finite Greenwood sum, the area under the curve to each distinct
    time, and the RMST variance sums ``sum hh``, ``sum hh a``, ``sum hh a^2``."""

    def __init__(self, duration, event, code, n_code):
        b = km_blocks(duration, event, code)
        c, t, s = b["code"], b["time"], b["surv"]
        new = np.ones(len(c), dtype=bool)
        new[1:] = c[1:] != c[:-1]
        s_prev = np.where(new, 1.0, np.concatenate([[1.0], s[:-1]]))
        t_prev = np.where(new, 0.0, np.concatenate([[0.0], t[:-1]]))
        area = _group_cumsum(s_prev * (t - t_prev), c)  # integral of S from 0 to t_j
        hh = b["hh"]  # d / (Y (Y - d)) where Y > d, else 0 (R survmean)
        self.code, self.time, self.surv = c, t, s
        self.area = area
        self.gw = _group_cumsum(hh, c)
        self.h1 = _group_cumsum(hh * area, c)
        self.h2 = _group_cumsum(hh * area**2, c)
        self.n_event = b["n_event"]
        self.n_risk = b["n_risk"]
        self.n_at = b["n_at"]
        self.first = np.searchsorted(c, np.arange(n_code), side="left")
        self.n_code = n_code
        self.duration, self.cell = duration, code
        self.n = np.bincount(code, minlength=n_code)

    def at(self, h: float) -> dict:
        """Survival, Greenwood variance, RMST and its variance of every cell at horizon h.

        ``S(h)``; ``Var S(h) = S(h)^2 sum_{t_j <= h, Y_j > d_j} d_j / (Y_j (Y_j - d_j))``;
        ``RMST(h) = int_0^h S``; ``Var RMST(h) = sum_{t_j <= h} A_j^2 hh_j`` with
        ``A_j = int_{t_j}^h S = RMST(h) - a_j`` (R ``survmean``; Klein & Moeschberger 4.5.2),
        expanded as ``R^2 sum hh - 2 R sum hh a + sum hh a^2``. ``at_risk``: rows with
        duration >= h; ``determined``: someone at risk at h or the curve already 0.
        """
        cnt = np.bincount(self.code[self.time <= h], minlength=self.n_code)
        has = cnt > 0
        last = np.where(has, self.first + cnt - 1, 0)
        S = np.where(has, self.surv[last], 1.0)
        G = np.where(has, self.gw[last], 0.0)
        R = np.where(has, self.area[last] + S * (h - self.time[last]), h)
        VR = np.where(has, R**2 * G - 2 * R * self.h1[last] + self.h2[last], 0.0)
        at_risk = np.bincount(
            self.cell, weights=(self.duration >= h).astype(float), minlength=self.n_code
        )
        return {
            "surv": S,
            "var_surv": S**2 * G,
            "rmst": R,
            "var_rmst": np.maximum(VR, 0.0),
            "at_risk": at_risk,
            "determined": (at_risk > 0) | (S <= 0),
        }


# ------------------------------------------------------------------------------ permutation
class _PairPermutation:
    """Re-randomisation of the A / B labels within strata for one pair, vectorised.

    The pair's rows in the strata used are sorted by (stratum, time). For every draw the A
    labels are a uniformly random subset of each stratum of the observed size (the rows with
    the ``m_s`` smallest random keys; keys are ``stratum << 40 | 40 random bits``, one int64
    sort, ties of the random bits within a stratum have probability ~ n_s^2 / 2^41), and the
    at-risk counts and events of A at every event time are differences of cumulative sums
    along the sorted rows, so a chunk of draws is a handful of (draws x rows) array operations.
    The statistics are the blocked differences (not studentised) with the observed weights.
    """

    def __init__(self, duration, event, stratum, is_a, horizons, weights):
        order = np.lexsort((duration, stratum))
        self.t = duration[order]
        self.ev = event[order]
        self.st = stratum[order]
        self.a_obs = is_a[order].astype(np.float64)
        n = len(order)
        K = int(self.st.max()) + 1 if n else 0
        self.K = K
        self.s_start = np.searchsorted(self.st, np.arange(K), side="left")
        self.s_end = np.searchsorted(self.st, np.arange(K), side="right")
        self.m_a = np.bincount(self.st, weights=self.a_obs, minlength=K)
        # distinct (stratum, time) cells, keep those with an event at or before the last horizon
        brk = np.flatnonzero((np.diff(self.st) != 0) | (np.diff(self.t) != 0)) + 1
        starts = np.concatenate([[0], brk]).astype(np.int64)
        ends = np.concatenate([brk, [n]]).astype(np.int64)
        d_tot = np.add.reduceat(self.ev, starts) if n else np.zeros(0)
        keep = (d_tot > 0) & (self.t[starts] <= horizons.max())
        self.j_start, self.j_end = starts[keep], ends[keep]
        self.j_d = d_tot[keep]
        self.j_st = self.st[self.j_start]
        self.j_t = self.t[self.j_start]
        self.j_y = (self.s_end[self.j_st] - self.j_start).astype(np.float64)
        self.j_first = np.searchsorted(self.j_st, np.arange(K), side="left")
        self.j_new = np.ones(len(self.j_st), dtype=bool)
        self.j_new[1:] = self.j_st[1:] != self.j_st[:-1]
        self.horizons = horizons
        self.weights = weights  # (H, K) for both S(h) and RMST(h)
        self.last = []
        for h in horizons:
            cnt = np.bincount(self.j_st[self.j_t <= h], minlength=K)
            self.last.append((cnt > 0, np.where(cnt > 0, self.j_first + cnt - 1, 0)))
        # position of each sorted row inside its stratum
        self.pos = np.arange(n) - self.s_start[self.st]
        self.key_hi = self.st.astype(np.int64) << _RAND_BITS

    def _grouped(self, x: np.ndarray) -> np.ndarray:
        """Cumulative sum along axis 1 within the strata of the event cells."""
        c = np.cumsum(x, axis=1)
        off = np.zeros_like(c)
        first = self.j_first[self.j_st]
        prev = first - 1
        has_prev = prev >= 0
        off[:, has_prev] = c[:, prev[has_prev]]
        return c - off

    def stats(self, lab: np.ndarray) -> np.ndarray:
        """Statistics (draws x (S(h)..., RMST(h)...)) for a (draws x rows) 0/1 label matrix."""
        D = lab.shape[0]
        z = np.zeros((D, 1))
        ca = np.concatenate([z, np.cumsum(lab, axis=1)], axis=1)
        ce = np.concatenate([z, np.cumsum(lab * self.ev, axis=1)], axis=1)
        y_a = ca[:, self.s_end[self.j_st]] - ca[:, self.j_start]
        d_a = ce[:, self.j_end] - ce[:, self.j_start]
        out_s, out_r = [], []
        curves = []
        for y, d in ((y_a, d_a), (self.j_y - y_a, self.j_d - d_a)):
            zero = (d >= y) & (y > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                lf = np.where((y > 0) & ~zero, np.log1p(-d / np.where(y > 0, y, 1.0)), 0.0)
            S = np.exp(self._grouped(lf)) * (self._grouped(zero.astype(np.float64)) == 0)
            s_prev = np.where(self.j_new, 1.0, np.concatenate([np.ones((D, 1)), S[:, :-1]], 1))
            t_prev = np.where(self.j_new, 0.0, np.concatenate([[0.0], self.j_t[:-1]]))
            area = self._grouped(s_prev * (self.j_t - t_prev))
            curves.append((S, area))
        for k, h in enumerate(self.horizons):
            has, last = self.last[k]
            vals = []
            for S, area in curves:
                Sh = np.where(has, S[:, last], 1.0)
                Rh = np.where(has, area[:, last] + Sh * (h - self.j_t[last]), h)
                vals.append((Sh, Rh))
            w = self.weights[k]
            out_s.append((vals[0][0] - vals[1][0]) @ w)
            out_r.append((vals[0][1] - vals[1][1]) @ w)
        return np.column_stack(out_s + out_r)

    def draws(self, n_draws: int, rng: np.random.Generator, max_elements: int) -> np.ndarray:
        n = len(self.t)
        chunk = max(1, int(max_elements) // max(n, 1))
        flag = (self.pos < self.m_a[self.st]).astype(np.float64)
        out = []
        done = 0
        while done < n_draws:
            D = min(chunk, n_draws - done)
            keys = self.key_hi[None, :] | rng.integers(0, 1 << _RAND_BITS, size=(D, n))
            order = np.argsort(keys, axis=1)
            lab = np.empty((D, n))
            np.put_along_axis(lab, order, np.broadcast_to(flag, (D, n)), axis=1)
            out.append(self.stats(lab))
            done += D
        return np.concatenate(out, axis=0)


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
    at = [cc.at(h) for h in H]
    n = cc.n.reshape(dd.n_strata, P)
    rows, strata_info, perms = [], [], []
    for ci, cpa_label in enumerate(dd.cpas):
        ss = np.flatnonzero(dd.s_cpa == ci)
        have = n[ss] > 0
        cp = np.flatnonzero(have.any(axis=0))
        for a, b in itertools.combinations(cp, 2):
            na, nb = n[ss, a], n[ss, b]
            present = (na > 0) & (nb > 0)
            usable = (na >= min_n) & (nb >= min_n)
            info = {
                "cpa": cpa_label,
                "prime_a": dd.primes[a],
                "prime_b": dd.primes[b],
                "n_strata_cpa": int(len(ss)),
                "n_dropped": int((~present).sum()),
                "n_dropped_small": int((present & ~usable).sum()),
            }
            weights = np.zeros((len(H), len(ss)))
            for k, h in enumerate(H):
                q = at[k]
                ia, ib = ss * P + a, ss * P + b
                reach = (q["at_risk"][ia] + q["at_risk"][ib]) > 0
                used = usable & reach
                ext = used & ~(q["determined"][ia] & q["determined"][ib])
                size = (na + nb) * used
                info[f"n_used_{h:g}"] = int(used.sum())
                info[f"n_dropped_horizon_{h:g}"] = int((usable & ~reach).sum())
                info[f"n_extended_{h:g}"] = int(ext.sum())
                if size.sum() > 0:
                    weights[k] = size / size.sum()
                for kind in ("surv", "rmst"):
                    rows.append(
                        _row(q, kind, ia, ib, weights[k], used, h, alpha, info, ext, na, nb, usable)
                    )
            strata_info.append(info)
            perms.append((ci, a, b, ss, usable, weights))
    tab = pd.DataFrame(rows)
    if tab.empty or not np.isfinite(tab["estimate"].to_numpy(dtype=float)).any():
        raise DataContractError(
            "no contrast could be estimated: no stratum holds two primes with "
            f"at least {min_n} referrals each",
            column=prime_col,
            rule="design_support",
        )
    order = {"surv": 0, "rmst": 1}
    tab["_o"] = tab["quantity"].map(order)
    tab = tab.sort_values(["cpa", "prime_a", "prime_b", "_o", "horizon"], kind="stable")
    tab = tab.drop(columns="_o").reset_index(drop=True)
    tab["quantity"] = tab["quantity"].map({"surv": "survival", "rmst": "rmst"})
    _warn(tab, min_n)
    p_rand, seed_info = _randomisation(dd, perms, H, draws, root, max_elements, tab, P)
    tab["p_randomisation"] = p_rand
    ok = np.isfinite(tab["p_value"].to_numpy(dtype=float))
    for col, groups, src in (
        ("p_adjusted_cpa", tab["cpa"], "p_value"),
        (
            "p_adjusted_cpa_quantity",
            tab["cpa"] + "|" + tab["term"].str.split(": ").str[1],
            "p_value",
        ),
        ("p_randomisation_adjusted_cpa", tab["cpa"], "p_randomisation"),
    ):
        out = np.full(len(tab), np.nan)
        good = ok & np.isfinite(tab[src].to_numpy(dtype=float))
        if good.any():
            out[good] = adjust_pvalues(
                tab.loc[good, src].to_numpy(dtype=float), adjust, groups=groups[good].to_numpy()
            )
        tab[col] = out
    method = {
        "estimator": ESTIMATOR,
        "se_type": "blocked Greenwood: sum_s w_s^2 (Var_A,s + Var_B,s), Greenwood for S(h), "
        "Klein-Moeschberger (R survmean) for RMST(h)",
        "ci_method": f"normal (Wald) {100 * (1 - alpha):g}%",
        "design": f"randomised within {cpa_col} x {' x '.join(dd.blocks)} strata; weights = "
        "stratum share of the pair's referrals",
        "alpha": alpha,
        "adjust": adjust,
        "blocks": dd.blocks,
        "horizons": [float(h) for h in H],
        "min_n": min_n,
        "draws": draws,
        "randomisation_statistic": "blocked difference (not studentised); sharp null of no "
        "prime effect on (duration, event); labels permuted within strata"
        if draws
        else None,
        "notes": "S(h) and RMST(h) from within-stratum Kaplan-Meier curves combined with the "
        "design weights; time in days (364 = 52 weeks, 728 = 104 weeks); p_adjusted_cpa over "
        "all rows of a CPA, p_adjusted_cpa_quantity over the pairs of a CPA for one quantity",
    }
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


def _row(q, kind, ia, ib, w, used, h, alpha, info, ext, na, nb, usable) -> dict:
    est_key, var_key = (kind, f"var_{kind}") if kind == "rmst" else ("surv", "var_surv")
    qa, qb = q[est_key][ia], q[est_key][ib]
    va, vb = q[var_key][ia], q[var_key][ib]
    label = "S" if kind == "surv" else "RMST"
    row = {
        "term": f"{info['prime_a']} - {info['prime_b']}: {label}({h:g})",
        "cpa": info["cpa"],
        "prime_a": info["prime_a"],
        "prime_b": info["prime_b"],
        "quantity": kind,
        "horizon": float(h),
        "horizon_weeks": float(h) / 7.0,
        "n_strata_used": int(used.sum()),
        "n_dropped": info["n_dropped"],
        "n_dropped_small": info["n_dropped_small"],
        "n_dropped_horizon": int((usable & ~used).sum()),
        "n_extended": int(ext.sum()),
        "n": int(((na + nb) * used).sum()),
    }
    if not used.any():
        row.update(estimate=np.nan, std_error=np.nan, estimate_a=np.nan, estimate_b=np.nan)
        return row
    row.update(_combine(qa, qb, va, vb, w, alpha))
    return row


def _combine(qa, qb, va, vb, w, alpha) -> dict:
    """``sum w (qa - qb)``, its SE ``sqrt(sum w^2 (va + vb))``, normal test and interval."""
    est = float(w @ (qa - qb))
    se = float(np.sqrt(w**2 @ (va + vb)))
    z = zcrit(alpha)
    stat = est / se if se > 0 else np.nan
    return {
        "estimate": est,
        "std_error": se,
        "statistic": stat,
        "p_value": float(2 * stats.norm.sf(abs(stat))) if np.isfinite(stat) else np.nan,
        "conf_low": est - z * se,
        "conf_high": est + z * se,
        "estimate_a": float(w @ qa),
        "estimate_b": float(w @ qb),
    }


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


def _warn(tab: pd.DataFrame, min_n: int) -> None:
    first = tab.drop_duplicates(["cpa", "prime_a", "prime_b"])
    small = int(first["n_dropped_small"].sum())
    if small:
        warnings.warn(
            f"{small} stratum x pair combination(s) dropped because a prime had fewer than "
            f"{min_n} referrals there (counted in n_dropped_small)",
            StatisticalWarning,
            stacklevel=3,
        )
    ext = tab.loc[tab["quantity"] == "survival"]
    if int(ext["n_extended"].sum()):
        warnings.warn(
            f"{int(ext['n_extended'].sum())} stratum x pair x horizon combination(s) have a "
            "prime curve ending (censored) before the horizon; carried flat to the horizon "
            "(counted in n_extended)",
            StatisticalWarning,
            stacklevel=3,
        )
    none = tab.loc[~np.isfinite(tab["estimate"].to_numpy(dtype=float)), "term"]
    if len(none):
        warnings.warn(
            f"{len(none)} contrast(s) have no usable stratum and are not estimated: "
            f"{list(none[:5])}",
            StatisticalWarning,
            stacklevel=3,
        )


def _randomisation(dd, perms, H, draws, root, max_elements, tab, P):
    p = np.full(len(tab), np.nan)
    info = {"randomisation_draws": draws}
    if draws == 0:
        return p, info
    info["randomisation_seed_entropy"] = str(root.entropy)
    children = root.spawn(len(perms))
    nH = len(H)
    for (ci, a, b, ss, usable, weights), child in zip(perms, children):
        rows_sel = np.isin(dd.stratum, ss[usable]) & np.isin(dd.pcode, [a, b])
        if not rows_sel.any():
            continue
        local = np.full(dd.n_strata, -1, dtype=np.int64)
        local[ss[usable]] = np.arange(int(usable.sum()))
        st = local[dd.stratum[rows_sel]]
        w = weights[:, usable]
        perm = _PairPermutation(
            dd.duration[rows_sel],
            dd.event[rows_sel],
            st,
            dd.pcode[rows_sel] == a,
            H,
            w,
        )
        obs = perm.stats(perm.a_obs[None, :])[0]
        null = perm.draws(draws, np.random.default_rng(child), max_elements)
        size = np.maximum(np.abs(obs), np.max(np.abs(null), axis=0))
        tol = 1e-9 * np.where(np.isfinite(size), size, 0.0)
        cnt = (np.abs(null) >= np.abs(obs) - tol).sum(axis=0)
        pv = (1 + cnt) / (draws + 1)
        sel = (
            (tab["cpa"] == dd.cpas[ci])
            & (tab["prime_a"] == dd.primes[a])
            & (tab["prime_b"] == dd.primes[b])
        ).to_numpy()
        for k, h in enumerate(H):
            for j, quantity in ((k, "survival"), (nH + k, "rmst")):
                r = (
                    sel
                    & (tab["quantity"] == quantity).to_numpy()
                    & (tab["horizon"] == h).to_numpy()
                )
                if np.isfinite(tab.loc[r, "estimate"].to_numpy(dtype=float)).all():
                    p[r] = pv[j]
    return p, info


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
    grid = None
    if times is not None:
        tt = np.unique(np.asarray(times, dtype=float))
        if not np.all(np.isfinite(tt)) or np.any(tt < 0):
            raise ParameterError("times must be finite and >= 0")
        grid = tt
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
    n = cc.n.reshape(dd.n_strata, P)
    z = zcrit(alpha)
    tables, curves, strata_info = [], [], []
    for ci, cpa_label in enumerate(dd.cpas):
        ss = np.flatnonzero(dd.s_cpa == ci)
        cp = np.flatnonzero((n[ss] > 0).any(axis=0))
        usable = (n[np.ix_(ss, cp)] >= min_n).all(axis=1)
        strata_info.append(
            {
                "cpa": cpa_label,
                "n_strata_cpa": int(len(ss)),
                "n_strata_used": int(usable.sum()),
                "n_dropped": int((~usable).sum()),
            }
        )
        if not usable.any():
            continue
        su = ss[usable]
        w = n[su].sum(axis=1).astype(float)
        w /= w.sum()
        in_cpa = np.isin(dd.stratum, su)
        if grid is None:
            ev_t = dd.duration[in_cpa & (dd.event > 0)]
            g = np.unique(np.concatenate([[0.0], ev_t]))
        else:
            g = grid
        for p in cp:
            codes = su * P + p
            S, V, nr, ne, nc = _curves_on_grid(cc, codes, g)
            surv = w @ S
            var = (w**2) @ V
            se = np.sqrt(var)
            label = f"cpa={cpa_label}, prime={dd.primes[p]}"
            with np.errstate(divide="ignore", invalid="ignore"):
                se_ch = np.where(surv > 0, se / surv, np.nan)
            tables.append(
                pd.DataFrame(
                    {
                        "curve": label,
                        "cpa": cpa_label,
                        "prime": dd.primes[p],
                        "time": g,
                        "n_risk": nr,
                        "n_event": ne,
                        "n_censor": nc,
                        "surv": surv,
                        "std_err": se,
                        "se_cumhaz": se_ch,
                        "conf_low": np.clip(surv - z * se, 0.0, 1.0),
                        "conf_high": np.clip(surv + z * se, 0.0, 1.0),
                    }
                )
            )
            rows_p = in_cpa & (dd.pcode == p)
            curves.append(
                {
                    "curve": label,
                    "cpa": cpa_label,
                    "prime": dd.primes[p],
                    "n": int(rows_p.sum()),
                    "events": int(dd.event[rows_p].sum()),
                    "n_strata": int(len(su)),
                }
            )
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


def _curves_on_grid(cc: _CellCurves, codes: np.ndarray, grid: np.ndarray):
    """S and Var S (strata x grid) of the cells ``codes`` and the at-risk / event / censor
    counts summed over them at each grid time."""
    K, G = len(codes), len(grid)
    S = np.ones((K, G))
    V = np.zeros((K, G))
    nr = np.zeros(G)
    ne = np.zeros(G)
    nc = np.zeros(G)
    for i, c in enumerate(codes):
        lo = cc.first[c]
        hi = lo + int(cc.n[c] > 0) * _n_blocks(cc, c)
        t = cc.time[lo:hi]
        idx = np.searchsorted(t, grid, side="right") - 1
        has = idx >= 0
        ii = np.maximum(idx, 0)
        s = cc.surv[lo:hi]
        S[i] = np.where(has, s[ii], 1.0)
        V[i] = np.where(has, s[ii] ** 2 * cc.gw[lo:hi][ii], 0.0)
        j = np.searchsorted(t, grid, side="left")
        nrisk = cc.n_risk[lo:hi]
        nr += np.where(j < len(t), nrisk[np.minimum(j, len(t) - 1)], 0)
        exact = (j < len(t)) & (t[np.minimum(j, len(t) - 1)] == grid)
        jj = np.minimum(j, len(t) - 1)
        ne += np.where(exact, cc.n_event[lo:hi][jj], 0)
        nc += np.where(exact, cc.n_at[lo:hi][jj] - cc.n_event[lo:hi][jj], 0)
    return S, V, nr.astype(np.int64), ne.astype(np.int64), nc.astype(np.int64)


def _n_blocks(cc: _CellCurves, c: int) -> int:
    nxt = cc.first[c + 1] if c + 1 < cc.n_code else len(cc.code)
    return int(nxt - cc.first[c])
