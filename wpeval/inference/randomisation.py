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

Both give exact draws from the randomisation distribution. When the number of distinct
assignments ``prod_b C(n_b, m_b)`` is at most ``draws`` they are all enumerated instead.
Because the statistics are assembled from per-block sums, the statistic for any ``tau0`` is a
closed-form function of the same draws (the blocked difference in means is linear in
``tau0``), which makes test inversion cheap.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import (Prepared, as_list, check_alpha, check_seed, examples,
                                flag_nonfinite, numeric, prepare, subset, term_name)
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable
from wpeval.inference.multiplicity import romano_wolf

__all__ = ["randomisation_test", "RandomisationDraws"]

STATISTICS = ("diff_in_means", "t")
ALTERNATIVES = ("two-sided", "greater", "less")
#: at most this many distinct (outcome..., z) values per block use the hypergeometric sampler
MAX_COLOURS = 32


class RandomisationDraws:
    """Accumulated per-draw quantities from which the statistic at any ``tau0`` follows.

    For K outcomes and D draws (or enumerated assignments):
    ``A`` (D, K): blocked difference in means of ``y``; ``Bz`` (D,): blocked difference in
    means of ``z`` itself; for the studentised statistic ``V0, V1, V2`` (D, K): the blocked
    Neyman variance of ``y - tau0 z`` is ``V0 + V1 tau0 + V2 tau0^2``.
    """

    def __init__(self, D: int, K: int, studentised: bool):
        self.A = np.zeros((D, K))
        self.Bz = np.zeros(D)
        self.studentised = studentised
        if studentised:
            self.V0 = np.zeros((D, K))
            self.V1 = np.zeros((D, K))
            self.V2 = np.zeros((D, K))

    def add(self, rows: slice, S: np.ndarray, tot: np.ndarray, n: float, m: float, w: float,
            K: int) -> None:
        """Add one block's contribution. ``S`` (d, q): treated-set sums of the columns
        ``[y_1..y_K, z]`` (+ ``y_k^2``, ``y_k z`` when studentised); ``tot`` the block
        totals; ``n, m`` block size and number treated; ``w`` the block weight."""
        n0 = n - m
        Sy, Sz = S[:, :K], S[:, K]
        self.A[rows] += w * (Sy / m - (tot[:K] - Sy) / n0)
        self.Bz[rows] += w * (Sz / m - (m - Sz) / n0)
        if self.studentised:
            Sy2, Syz = S[:, K + 1:2 * K + 1], S[:, 2 * K + 1:]
            Ty, Ty2, Tyz = tot[:K], tot[K + 1:2 * K + 1], tot[2 * K + 1:]
            # treated arm: sums of u = y - tau0 z and u^2
            a1, b1 = Sy, -Sz[:, None]
            q0, q1, q2 = Sy2, -2 * Syz, Sz[:, None]
            # control arm (totals minus treated)
            a0, b0 = Ty - Sy, -(m - Sz)[:, None]
            r0, r1, r2 = Ty2 - Sy2, -2 * (Tyz - Syz), (m - Sz)[:, None]
            c1 = w ** 2 / (m * (m - 1))
            c0 = w ** 2 / (n0 * (n0 - 1))
            self.V0[rows] += c1 * (q0 - a1 ** 2 / m) + c0 * (r0 - a0 ** 2 / n0)
            self.V1[rows] += c1 * (q1 - 2 * a1 * b1 / m) + c0 * (r1 - 2 * a0 * b0 / n0)
            self.V2[rows] += c1 * (q2 - b1 ** 2 / m) + c0 * (r2 - b0 ** 2 / n0)

    def stat(self, tau0: float) -> np.ndarray:
        """(D, K) statistics under the sharp null ``tau0``."""
        num = self.A - tau0 * self.Bz[:, None]
        if not self.studentised:
            return num
        var = self.V0 + self.V1 * tau0 + self.V2 * tau0 ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / np.sqrt(np.maximum(var, 0))


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


class _Design:
    """Rows sorted by block with the treated first; block offsets, sizes, counts."""

    def __init__(self, p: Prepared, ys: np.ndarray, studentised: bool):
        block = p.block if p.block is not None else np.zeros(len(p.y), dtype=np.int64)
        order = np.lexsort((1 - p.z, block))
        self.z = p.z[order].astype(float)
        ys = ys[order]
        cols = [ys, self.z[:, None]]
        if studentised:
            cols += [ys ** 2, ys * self.z[:, None]]
        self.F = np.hstack(cols)
        B = int(block.max()) + 1
        self.n = np.bincount(block, minlength=B).astype(np.int64)
        self.m = np.bincount(block, weights=p.z, minlength=B).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.n)[:-1]])
        self.w = self.n / self.n.sum()
        self.B = B

    def block_rows(self, b: int) -> slice:
        return slice(self.start[b], self.start[b] + self.n[b])


def _n_assignments(n, m, cap: int) -> int | None:
    """prod_b C(n_b, m_b) if at most ``cap``, else None."""
    total = 1
    for nb, mb in zip(n, m):
        total *= math.comb(int(nb), int(mb))
        if total > cap:
            return None
    return total


def _enumerate(des: _Design, K: int, studentised: bool) -> RandomisationDraws:
    combs, sums = [], []
    for b in range(des.B):
        Fb = des.F[des.block_rows(b)]
        cb = np.array(list(itertools.combinations(range(des.n[b]), des.m[b])), dtype=np.int64)
        combs.append(len(cb))
        sums.append(Fb[cb].sum(axis=1))
    idx = np.array(list(itertools.product(*[range(c) for c in combs])), dtype=np.int64)
    acc = RandomisationDraws(len(idx), K, studentised)
    for b in range(des.B):
        tot = des.F[des.block_rows(b)].sum(axis=0)
        acc.add(slice(None), sums[b][idx[:, b]], tot, des.n[b], des.m[b], des.w[b], K)
    return acc


def _colours(F: np.ndarray):
    """Codes of the distinct rows of F and the distinct rows (None if more than allowed)."""
    code = np.zeros(len(F), dtype=np.int64)
    for j in range(F.shape[1]):
        cj, u = pd.factorize(F[:, j], sort=True)
        code = code * len(u) + cj
        if code.max(initial=0) > 10 ** 12:
            return None, None
    codes, uniq = pd.factorize(code, sort=True)
    if len(uniq) > MAX_COLOURS:
        return None, None
    first = np.zeros(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(F))[::-1]
    return codes, F[first]


def _draw_hypergeometric(des: _Design, K, D, rng, studentised, codes, values):
    C = len(values)
    cnt = np.bincount(np.repeat(np.arange(des.B), des.n) * C + codes,
                      minlength=des.B * C).reshape(des.B, C)
    acc = RandomisationDraws(D, K, studentised)
    chunk = max(1, int(4_000_000 // max(des.B * C, 1)))
    for lo in range(0, D, chunk):
        d = min(chunk, D - lo)
        left_pop = np.broadcast_to(des.n, (d, des.B)).astype(np.int64)
        left_smp = np.broadcast_to(des.m, (d, des.B)).astype(np.int64).copy()
        X = np.zeros((d, des.B, C), dtype=np.int64)
        for c in range(C - 1):
            good = np.broadcast_to(cnt[:, c], (d, des.B))
            x = rng.hypergeometric(good, left_pop - good, left_smp)
            X[:, :, c] = x
            left_pop = left_pop - good
            left_smp = left_smp - x
        X[:, :, C - 1] = left_smp
        S = np.einsum("dbc,cq->dbq", X.astype(float), values)
        for b in range(des.B):
            tot = cnt[b] @ values
            acc.add(slice(lo, lo + d), S[:, b, :], tot, des.n[b], des.m[b], des.w[b], K)
    return acc


def _raw_keys(rng: np.random.Generator, d: int, n: int) -> np.ndarray:
    """(d, n) uniform 32-bit keys from the bit generator's raw 64-bit output."""
    half = (d * n + 1) // 2
    return rng.bit_generator.random_raw(half).view(np.uint32)[:d * n].reshape(d, n)


def _draw_partition(des: _Design, K, D, rng, studentised, max_elements: int):
    acc = RandomisationDraws(D, K, studentised)
    # integer-valued columns whose block sums stay below 2^24 are summed exactly in float32
    F = des.F
    integral = bool(np.all(F == np.round(F)))
    for b in range(des.B):
        rows = des.block_rows(b)
        Fb = F[rows]
        n, m = int(des.n[b]), int(des.m[b])
        tot = Fb.sum(axis=0)
        exact32 = integral and float(np.abs(Fb).sum(axis=0).max()) < 2 ** 24
        dt = np.float32 if exact32 else np.float64
        # one contiguous vector per column, summed with einsum's own SIMD loop: BLAS
        # (d x n) @ (n x q) products with tiny q are slow, and multi-threaded BLAS collapses
        # when the cores are shared
        cols = [np.ascontiguousarray(Fb[:, j], dtype=dt) for j in range(Fb.shape[1])]
        k = min(m, n - m)  # draw the smaller side, treated sums follow from the totals
        chunk = max(1, max_elements // n)
        for lo in range(0, D, chunk):
            d = min(chunk, D - lo)
            keys = _raw_keys(rng, d, n)
            thr = np.partition(keys, k - 1, axis=1)[:, k - 1]
            sel = keys <= thr[:, None]
            bad = np.flatnonzero(np.count_nonzero(sel, axis=1) != k)
            while len(bad):  # a tie at the cut (probability ~ n / 2^32): redraw those rows
                kk = _raw_keys(rng, len(bad), n)
                tt = np.partition(kk, k - 1, axis=1)[:, k - 1]
                mm = kk <= tt[:, None]
                ok = np.count_nonzero(mm, axis=1) == k
                sel[bad[ok]] = mm[ok]
                bad = bad[~ok]
            mask = sel.astype(dt)
            Sk = np.column_stack([np.einsum("ij,j->i", mask, c) for c in cols]
                                 ).astype(np.float64)
            S = Sk if k == m else tot[None, :] - Sk
            acc.add(slice(lo, lo + d), S, tot, n, m, des.w[b], K)
    return acc


def _observed(des: _Design, K, studentised) -> RandomisationDraws:
    acc = RandomisationDraws(1, K, studentised)
    for b in range(des.B):
        Fb = des.F[des.block_rows(b)]
        acc.add(slice(None), Fb[:des.m[b]].sum(axis=0)[None, :], Fb.sum(axis=0),
                des.n[b], des.m[b], des.w[b], K)
    return acc


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
            warnings.warn("randomisation confidence interval is unbounded on one side (too "
                          "few distinct assignments for this alpha)", StatisticalWarning,
                          stacklevel=3)
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


def randomisation_test(data: pd.DataFrame, outcome: str | Sequence[str], treatment: str, *,
                       blocks=None, statistic: str = "diff_in_means", draws: int = 1000,
                       seed=None, alternative: str = "two-sided", ci: bool = True,
                       null_value: float = 0.0, alpha: float = 0.05, condition1=None,
                       condition2=None, exact: bool | None = None,
                       drop_incomplete_blocks: bool = False,
                       max_elements: int = 8_000_000) -> EffectTable:
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
    if not isinstance(max_elements, (int, np.integer)) or max_elements < 1:
        raise ParameterError(f"max_elements must be a positive integer, got {max_elements!r}")
    if isinstance(null_value, bool) or not isinstance(null_value, (int, float, np.number)) \
            or not np.isfinite(null_value):
        raise ParameterError(f"null_value must be a finite number, got {null_value!r}")
    p = prepare(data, outcomes[0], treatment, blocks=blocks, condition1=condition1,
                condition2=condition2, extra=outcomes[1:])
    ys = np.column_stack([p.y] + [numeric(p.frame, o) for o in outcomes[1:]])
    miss = np.isnan(ys).any(axis=1)
    if miss.any():
        p = subset(p, ~miss)
        p.dropped["missing_outcome"] = p.dropped.get("missing_outcome", 0) + int(miss.sum())
        ys = ys[~miss]
    if len(ys) == 0:
        raise DesignError(f"no rows with every outcome observed ({outcomes}): nothing to test")
    p = _check_blocks(p, statistic, drop_incomplete_blocks)
    if len(p.y) != len(ys):  # blocks dropped: rebuild the outcome matrix from kept rows
        ys = np.column_stack([p.y] + [numeric(p.frame, o) for o in outcomes[1:]])
    K = len(outcomes)
    stud = statistic == "t"
    des = _Design(p, ys, stud)
    n_assign = _n_assignments(des.n, des.m, draws if exact is None else
                              (10 ** 7 if exact else 0))
    if exact and n_assign is None:
        raise ParameterError("exact=True but there are more than 10^7 assignments")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if n_assign is not None:
        acc, sampler, is_exact = _enumerate(des, K, stud), "enumeration", True
    else:
        codes, values = _colours(des.F)
        if codes is not None and len(values) < 0.05 * des.n.mean() + 4:
            acc = _draw_hypergeometric(des, K, int(draws), rng, stud, codes, values)
            sampler = "multivariate hypergeometric (few distinct values)"
        else:
            acc = _draw_partition(des, K, int(draws), rng, stud, int(max_elements))
            sampler = "uniform keys + partition"
        is_exact = False
    obs_acc = _observed(des, K, stud)
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
            lo[k], hi[k] = _invert(acc, obs_acc, k, est[k], sd[k], alpha, alternative,
                                   is_exact)
    terms = outcomes if K > 1 else [term_name(treatment, p.cond1, p.cond2)]
    tab = pd.DataFrame({"term": terms, "estimate": est, "std_error": sd, "statistic": obs,
                        "p_value": pv, "conf_low": lo, "conf_high": hi, "n": len(p.y),
                        "outcome": outcomes, "mc_se": mc_se})
    if K > 1:
        tab["p_romano_wolf"] = romano_wolf(obs, null, alternative=alternative,
                                           plus_one=not is_exact)
    q = np.quantile(null, [0.025, 0.5, 0.975], axis=0)
    summary = {o: {"mean": float(null[:, k].mean()), "sd": float(null[:, k].std(ddof=1))
                   if D > 1 else None, "q025": float(q[0, k]), "median": float(q[1, k]),
                   "q975": float(q[2, k]), "min": float(null[:, k].min()),
                   "max": float(null[:, k].max())} for k, o in enumerate(outcomes)}
    design = (f"complete randomisation within {' x '.join(as_list(blocks))} blocks "
              f"({des.B} blocks)" if blocks is not None else "complete randomisation")
    pformula = ("#{T* >= T_obs} / #assignments (exact)" if is_exact
                else "(1 + #{T* >= T_obs}) / (draws + 1)")
    meth = {"estimator": f"randomisation test ({statistic}), sharp null tau = {null_value}",
            "se_type": "SD of the randomisation distribution of the difference in means",
            "ci_method": ("test inversion (constant additive effect)" if ci else "none"),
            "design": design, "alpha": alpha, "alternative": alternative,
            "p_value": pformula, "blocks": as_list(blocks) or None}
    extra = {"draws": int(D), "exact": is_exact, "n_assignments": n_assign,
             "sampler": sampler, "mc_se": mc_se, "null_summary": summary,
             "null_stats": null, "observed_stats": obs, "alternative": alternative,
             "null_value": null_value, "seed": seed if isinstance(seed, int) else None,
             "dropped": p.dropped}
    meth = flag_nonfinite(tab, meth)
    return EffectTable(tab, meth, title=f"Randomisation test: {', '.join(outcomes)}",
                       extra=extra)


def _check_blocks(p: Prepared, statistic: str, drop: bool):
    block = p.block if p.block is not None else np.zeros(len(p.y), dtype=np.int64)
    B = int(block.max()) + 1
    cnt = np.bincount(block * 2 + p.z, minlength=2 * B).reshape(B, 2)
    need = 2 if statistic == "t" else 1
    bad = (cnt < need).any(axis=1)
    if bad.any() and drop and p.block is not None and not bad.all():
        rows = np.isin(block, np.flatnonzero(bad))
        warnings.warn(f"dropped {int(bad.sum())} block(s) ({int(rows.sum())} rows) with fewer "
                      f"than {need} unit(s) in an arm", StatisticalWarning, stacklevel=3)
        q = subset(p, ~rows)
        q.dropped["incomplete_blocks"] = int(bad.sum())
        q.dropped["rows_in_incomplete_blocks"] = int(rows.sum())
        return q
    if bad.any():
        ids = examples(p.frame, np.isin(block, np.flatnonzero(bad)[:5]))
        raise DesignError(f"{int(bad.sum())} block(s) have fewer than {need} unit(s) in an arm "
                          f"(statistic {statistic!r}); pass drop_incomplete_blocks=True or "
                          f"merge strata; e.g. person_ids {ids}")
    return p
