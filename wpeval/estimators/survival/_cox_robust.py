"""Robust (sandwich) variance of the Cox engine (:mod:`._coxengine`): the event-indexed
tables of the Efron score residuals (R ``coxscore2.c`` / ``agscore3.c``) and the
(cluster-)summed outer product of the weighted dfbeta residuals. Formulas are in the
:mod:`._coxengine` docstring.
"""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._cox_blocks import EVENT_BLOCK, event_blocks
from wpeval.estimators.survival._cox_kernels import (
    GEMM_CHUNK,
    _csc_matvecs,
    _cumsum_rows,
    _symmetrise_upper,
    _syrk_add,
)


def residual_tables(eng):
    """Event-indexed tables of the score residuals at the kept evaluation, in one blocked
    pass (:func:`._cox_blocks.event_blocks`): prefix sums ``P`` (T+1 x p) of ``Gv = q0 S1 - q1 D1``
    (and ``PGt`` of ``g Gv`` with Fine-Gray tails), ``Fv = q1 S1 - q2 D1`` and
    ``XB = (S1 c - D1 e) / wd`` (R's ``xbar*``). Three T x p arrays, freed after use."""
    st = eng.state
    q0, q1, q2, c, e = st["q0"], st["q1"], st["q2"], st["c"], st["e"]
    T, p = eng.T, eng.p
    ca, ea = c / eng.wd, e / eng.wd
    P = np.empty((T + 1, p))
    P[0] = 0.0
    PGt = None
    if eng.tail is not None:
        PGt = np.empty((T + 1, p))
        PGt[0] = 0.0
    Fv, XB = np.empty((T, p)), np.empty((T, p))
    tmp = np.empty((EVENT_BLOCK, p))
    for a, b, Sb, Db in event_blocks(eng, st["r"], st["r"][eng.dead]):
        t = tmp[: b - a]
        G = P[a + 1 : b + 1]
        np.multiply(Sb, q0[a:b, None], out=G)
        G -= np.multiply(Db, q1[a:b, None], out=t)
        if PGt is not None:
            np.multiply(G, eng.g[a:b, None], out=PGt[a + 1 : b + 1])
        F = Fv[a:b]
        np.multiply(Sb, q1[a:b, None], out=F)
        F -= np.multiply(Db, q2[a:b, None], out=t)
        xb = XB[a:b]
        np.multiply(Sb, ca[a:b, None], out=xb)
        xb -= np.multiply(Db, ea[a:b, None], out=t)
    _cumsum_rows(P)
    if PGt is not None:
        _cumsum_rows(PGt)
    return P, PGt, Fv, XB


def score_outer(eng, V, cluster=None, n_clusters=None):
    """Robust variance ``V (sum_c s_c s_c') V`` from weighted score residuals.

    ``cluster`` holds integer cluster codes 0..n_clusters-1 in the caller's row order;
    ``None`` = each row its own cluster (R ``coxph(robust=TRUE)`` without ``cluster``).
    """
    st = eng.state
    P, PGt, Fv, XB = residual_tables(eng)
    e = st["e"]
    C, er, w = st["C"], st["er"], eng.w
    p = eng.p
    meat = np.zeros((p, p), order="F")
    step = GEMM_CHUNK * 2
    if cluster is not None:
        cl = np.asarray(cluster)[eng.order].astype(np.int64)
        sums = np.zeros((n_clusters, p))
        col_ptr, ones = np.arange(step + 1, dtype=np.int64), np.ones(step)
    dead = eng.dead
    for a in range(0, eng.n, step):
        b = min(a + step, eng.n)
        Xc = eng.X[a:b]
        hi = eng.hi[a:b]
        L = Xc * C[a:b, None]
        L -= np.take(P, hi, axis=0)
        L += np.take(P, eng.lo[a:b], axis=0)
        if PGt is not None:
            L -= eng.tail[a:b, None] * (
                np.take(PGt, eng.end[a:b], axis=0) - np.take(PGt, hi, axis=0)
            )
        L *= -er[a:b, None]
        d0, d1 = np.searchsorted(dead, [a, b])
        if d1 > d0:
            di = dead[d0:d1]
            jj = eng.hi[di] - 1
            xd = np.take(eng.X, di, axis=0)
            add = xd * e[jj, None]
            add -= np.take(Fv, jj, axis=0)
            add *= er[di, None]
            add += xd
            add -= np.take(XB, jj, axis=0)  # xbar*_j = (S1 c - D1 e)_j / wd_j
            L[di - a] += add
        L *= w[a:b, None]
        if cluster is None:
            _syrk_add(meat, L)
        elif _csc_matvecs is not None:  # sums[cl_i] += L_i without a clusters x p temporary
            m = b - a
            _csc_matvecs(
                n_clusters, m, p, col_ptr[: m + 1], cl[a:b], ones[:m], L.ravel(), sums.ravel()
            )
        else:  # pragma: no cover - private scipy API moved
            np.add.at(sums, cl[a:b], L)
    if cluster is not None:
        meat = sums.T @ sums
    else:
        meat = _symmetrise_upper(meat)
    return V @ meat @ V
