"""Randomisation p-values of the blocked survival contrasts: the prime labels of a pair
re-drawn within strata, vectorised over (draws x rows) chunks
(:mod:`wpeval.estimators.survival.blocked`)."""

from __future__ import annotations

import numpy as np

#: randomisation draws: 40 random bits below the stratum code in one int64 sort key
_RAND_BITS = 40


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


def _randomisation(dd, perms, H, draws, root, max_elements, tab):
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
