"""Samplers of the stratified randomisation distribution (the engine of
:func:`wpeval.inference.randomisation.randomisation_test`; see its module docstring for the
algorithms and why they are exact).

- :class:`RandomisationDraws` accumulates, per draw, the per-block sums from which the
  statistic at any ``tau0`` follows;
- :func:`sample` picks enumeration's alternative: the multivariate hypergeometric sampler for
  outcomes with few distinct values, else uniform keys + partition;
- :func:`sample_batches` splits the draws into batches with their own seeds
  (``SeedSequence.spawn``) and runs them on the backend of :mod:`wpeval.inference.backend`
  (in this process or on Dask workers, which receive the sorted design arrays once); the
  draws depend on the number of batches, never on the number of workers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from wpeval._prepare import Prepared

__all__ = [
    "MAX_COLOURS",
    "RandomisationDraws",
    "Design",
    "n_assignments",
    "enumerate_all",
    "observed",
    "sample",
    "sample_batches",
]

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

    def add(
        self, rows: slice, S: np.ndarray, tot: np.ndarray, n: float, m: float, w: float, K: int
    ) -> None:
        """Add one block's contribution. ``S`` (d, q): treated-set sums of the columns
        ``[y_1..y_K, z]`` (+ ``y_k^2``, ``y_k z`` when studentised); ``tot`` the block
        totals; ``n, m`` block size and number treated; ``w`` the block weight."""
        n0 = n - m
        Sy, Sz = S[:, :K], S[:, K]
        self.A[rows] += w * (Sy / m - (tot[:K] - Sy) / n0)
        self.Bz[rows] += w * (Sz / m - (m - Sz) / n0)
        if self.studentised:
            Sy2, Syz = S[:, K + 1 : 2 * K + 1], S[:, 2 * K + 1 :]
            Ty, Ty2, Tyz = tot[:K], tot[K + 1 : 2 * K + 1], tot[2 * K + 1 :]
            # treated arm: sums of u = y - tau0 z and u^2
            a1, b1 = Sy, -Sz[:, None]
            q0, q1, q2 = Sy2, -2 * Syz, Sz[:, None]
            # control arm (totals minus treated)
            a0, b0 = Ty - Sy, -(m - Sz)[:, None]
            r0, r1, r2 = Ty2 - Sy2, -2 * (Tyz - Syz), (m - Sz)[:, None]
            c1 = w**2 / (m * (m - 1))
            c0 = w**2 / (n0 * (n0 - 1))
            self.V0[rows] += c1 * (q0 - a1**2 / m) + c0 * (r0 - a0**2 / n0)
            self.V1[rows] += c1 * (q1 - 2 * a1 * b1 / m) + c0 * (r1 - 2 * a0 * b0 / n0)
            self.V2[rows] += c1 * (q2 - b1**2 / m) + c0 * (r2 - b0**2 / n0)

    def stat(self, tau0: float) -> np.ndarray:
        """(D, K) statistics under the sharp null ``tau0``."""
        num = self.A - tau0 * self.Bz[:, None]
        if not self.studentised:
            return num
        var = self.V0 + self.V1 * tau0 + self.V2 * tau0**2
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / np.sqrt(np.maximum(var, 0))

    @classmethod
    def concat(cls, parts: list["RandomisationDraws"]) -> "RandomisationDraws":
        """The draws of several batches, in order."""
        out = cls(0, parts[0].A.shape[1], parts[0].studentised)
        out.A = np.vstack([p.A for p in parts])
        out.Bz = np.concatenate([p.Bz for p in parts])
        if out.studentised:
            out.V0, out.V1, out.V2 = (
                np.vstack([getattr(p, k) for p in parts]) for k in ("V0", "V1", "V2")
            )
        return out


class Design:
    """Rows sorted by block with the treated first; block offsets, sizes, counts."""

    def __init__(self, p: Prepared, ys: np.ndarray, studentised: bool):
        block = p.block if p.block is not None else np.zeros(len(p.y), dtype=np.int64)
        if int(block.max(initial=0)) < 32_767:  # a 16-bit key: numpy's stable radix sort
            order = np.argsort((block * 2 + (1 - p.z)).astype(np.uint16), kind="stable")
        else:
            order = np.lexsort((1 - p.z, block))  # same order: by block, treated first
        self.z = p.z[order].astype(float)
        ys = ys[order]
        cols = [ys, self.z[:, None]]
        if studentised:
            cols += [ys**2, ys * self.z[:, None]]
        self.F = np.hstack(cols)
        B = int(block.max()) + 1
        self.n = np.bincount(block, minlength=B).astype(np.int64)
        self.m = np.bincount(block, weights=p.z, minlength=B).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.n)[:-1]])
        self.w = self.n / self.n.sum()
        self.B = B

    def block_rows(self, b: int) -> slice:
        return slice(self.start[b], self.start[b] + self.n[b])


def n_assignments(n, m, cap: int) -> int | None:
    """prod_b C(n_b, m_b) if at most ``cap``, else None."""
    total = 1
    for nb, mb in zip(n, m):
        total *= math.comb(int(nb), int(mb))
        if total > cap:
            return None
    return total


def enumerate_all(des: Design, K: int, studentised: bool) -> RandomisationDraws:
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
    head = F[:4096]  # more distinct rows than allowed among the first rows: stop early
    if len(np.unique(head, axis=0)) > MAX_COLOURS:
        return None, None
    code = np.zeros(len(F), dtype=np.int64)
    for j in range(F.shape[1]):
        cj, u = pd.factorize(F[:, j], sort=True)
        code = code * len(u) + cj
        if code.max(initial=0) > 10**12:
            return None, None
    codes, uniq = pd.factorize(code, sort=True)
    if len(uniq) > MAX_COLOURS:
        return None, None
    first = np.zeros(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(F))[::-1]
    return codes, F[first]


def _draw_hypergeometric(des: Design, K, D, rng, studentised, codes, values):
    C = len(values)
    cnt = np.bincount(np.repeat(np.arange(des.B), des.n) * C + codes, minlength=des.B * C).reshape(
        des.B, C
    )
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


#: blocks up to this size draw 16-bit keys (a tie at the cut, redrawn, has probability
#: about n / 2^16 <= 6%); larger blocks draw 32-bit keys
KEY16_MAX_N = 4096


def _raw_keys(rng: np.random.Generator, d: int, n: int, bits: int = 32) -> np.ndarray:
    """(d, n) uniform 16- or 32-bit keys from the bit generator's raw 64-bit output."""
    per = 64 // bits
    words = (d * n + per - 1) // per
    dtype = np.uint16 if bits == 16 else np.uint32
    return rng.bit_generator.random_raw(words).view(dtype)[: d * n].reshape(d, n)


def _draw_partition(des: Design, K, D, rng, studentised, max_elements: int):
    acc = RandomisationDraws(D, K, studentised)
    # integer-valued columns whose block sums stay below 2^24 are summed exactly in float32
    F = des.F
    integral = bool(np.all(F == np.round(F)))
    for b in range(des.B):
        rows = des.block_rows(b)
        Fb = F[rows]
        n, m = int(des.n[b]), int(des.m[b])
        tot = Fb.sum(axis=0)
        exact32 = integral and float(np.abs(Fb).sum(axis=0).max()) < 2**24
        dt = np.float32 if exact32 else np.float64
        # one contiguous vector per column, summed with einsum's own SIMD loop: BLAS
        # (d x n) @ (n x q) products with tiny q are slow, and multi-threaded BLAS collapses
        # when the cores are shared
        cols = [np.ascontiguousarray(Fb[:, j], dtype=dt) for j in range(Fb.shape[1])]
        # the z column needs no product: rows are sorted treated first, so its sum over a
        # selected set is the number selected among the first m rows
        k = min(m, n - m)  # draw the smaller side, treated sums follow from the totals
        chunk = max(1, max_elements // n)
        for lo in range(0, D, chunk):
            d = min(chunk, D - lo)
            # half the memory traffic with 16-bit keys for small blocks; any tie at the cut
            # is redrawn (32-bit keys), so every accepted row is a uniform k-subset
            keys = _raw_keys(rng, d, n, 16 if n <= KEY16_MAX_N else 32)
            thr = np.partition(keys, k - 1, axis=1)[:, k - 1]
            sel = keys <= thr[:, None]
            u8 = sel.view(np.uint8)  # byte sums: faster than count_nonzero along an axis
            bad = np.flatnonzero(u8.sum(axis=1, dtype=np.int64) != k)
            while len(bad):  # a tie at the cut: redraw those rows
                kk = _raw_keys(rng, len(bad), n)
                tt = np.partition(kk, k - 1, axis=1)[:, k - 1]
                mm = kk <= tt[:, None]
                ok = np.count_nonzero(mm, axis=1) == k
                sel[bad[ok]] = mm[ok]
                bad = bad[~ok]
            mask = sel.view(np.uint8)  # 0/1 bytes: no float copy of the mask
            Sk = np.column_stack(
                [
                    mask[:, :m].sum(axis=1, dtype=np.int64)
                    if j == K
                    else np.einsum("ij,j->i", mask, c)
                    for j, c in enumerate(cols)
                ]
            ).astype(np.float64)
            S = Sk if k == m else tot[None, :] - Sk
            acc.add(slice(lo, lo + d), S, tot, n, m, des.w[b], K)
    return acc


def observed(des: Design, K, studentised) -> RandomisationDraws:
    acc = RandomisationDraws(1, K, studentised)
    for b in range(des.B):
        Fb = des.F[des.block_rows(b)]
        acc.add(
            slice(None),
            Fb[: des.m[b]].sum(axis=0)[None, :],
            Fb.sum(axis=0),
            des.n[b],
            des.m[b],
            des.w[b],
            K,
        )
    return acc


def sample(
    des: "Design", K: int, D: int, rng: np.random.Generator, studentised: bool, max_elements: int
):
    """``D`` Monte Carlo draws with the sampler suited to the outcome; (draws, sampler name)."""
    codes, values = _colours(des.F)
    if codes is not None and len(values) < 0.05 * des.n.mean() + 4:
        return (
            _draw_hypergeometric(des, K, D, rng, studentised, codes, values),
            "multivariate hypergeometric (few distinct values)",
        )
    return (_draw_partition(des, K, D, rng, studentised, max_elements), "uniform keys + partition")


def _batch(common, item):
    des, K, studentised, max_elements = common
    size, ss = item
    return sample(des, K, size, np.random.default_rng(ss), studentised, max_elements)


def sample_batches(
    des: "Design",
    K: int,
    D: int,
    seed,
    studentised: bool,
    max_elements: int,
    batches: int,
    backend="serial",
    scheduler=None,
    n_workers=None,
):
    """``D`` draws in ``batches`` batches of (nearly) equal size, batch i seeded by the i-th
    child of ``SeedSequence(seed)``, run on ``backend``; (draws, sampler name)."""
    from wpeval.inference.backend import map_tasks

    if isinstance(seed, np.random.Generator):
        children = seed.bit_generator.seed_seq.spawn(batches)
    else:
        children = np.random.SeedSequence(seed).spawn(batches)
    sizes = [D // batches + (1 if i < D % batches else 0) for i in range(batches)]
    items = [(s, c) for s, c in zip(sizes, children) if s > 0]
    parts = map_tasks(
        _batch,
        (des, K, studentised, max_elements),
        items,
        backend=backend,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=False,
        desc="randomisation draws",
    )
    return RandomisationDraws.concat([a for a, _ in parts]), parts[0][1]
