"""The blocked pass over event times of the Cox engine (:mod:`._coxengine`).

The T x p risk-set sums ``S1`` and ``D1`` are formed block by block of ``EVENT_BLOCK`` event
times in cache-sized buffers (:func:`event_blocks`); the information's risk-set term is
accumulated from them by two ``syrk`` updates per block (:func:`information_bracket`). The
formulation and the reasons are in the :mod:`._coxengine` docstring.
"""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._cox_kernels import _symmetrise_upper, _syrk_add

EVENT_BLOCK = 2048  # event times per block of the information's risk-set term (cache-sized)


def event_blocks(eng, r, rd):
    """Yield ``(a, b, S1[a:b], D1[a:b])`` over blocks of ``EVENT_BLOCK`` event times.

    The block's rows of S1 (its difference rows, then the running sum carried from the
    previous block: the additions of one cumulative sum, in the same order, so the rows
    are those of ``CoxEngine._risk_sum_matrix``) and of D1 are formed in cache-sized buffers,
    which are overwritten by the next block; no T x p array is made.
    """
    p, T, X = eng.p, eng.T, eng.X
    ops = [(eng._op_lo, eng._op_lo.data(r)), (eng._op_hi, eng._op_hi.data(-r))]
    tail_ops = []
    if eng.tail is not None:
        rt = (r * eng.tail)[eng._tail_rows]
        tail_ops = [
            (eng._op_tail_hi, eng._op_tail_hi.data(rt)),
            (eng._op_tail_end, eng._op_tail_end.data(-rt)),
        ]
    dead_data = eng._op_dead.data(rd)
    B = EVENT_BLOCK
    S, St, D = (np.empty((B, p)) for _ in range(3))
    carry, carry_t = np.zeros(p), np.zeros(p)
    for a in range(0, T, B):
        b = min(a + B, T)
        m = b - a
        Sb, Db = S[:m], D[:m]
        Sb.fill(0.0)
        for op, data in ops:
            op.accumulate_rows(a, b, data, X, Sb)
        Sb[0] += carry
        np.cumsum(Sb, axis=0, out=Sb)
        carry[:] = Sb[-1]
        if tail_ops:
            Stb = St[:m]
            Stb.fill(0.0)
            for op, data in tail_ops:
                op.accumulate_rows(a, b, data, X, Stb)
            Stb[0] += carry_t
            np.cumsum(Stb, axis=0, out=Stb)
            carry_t[:] = Stb[-1]
            Stb *= eng.g[a:b, None]
            Sb += Stb
        Db.fill(0.0)
        eng._op_dead.accumulate_rows(a, b, dead_data, X, Db)
        yield a, b, Sb, Db


def information_bracket(eng, r, rd, l0, fbar, lz):
    """``sum_j Y_j Y_j' + Z_j Z_j'`` with ``Y = l0 (S1 - fbar D1)``, ``Z = lz D1``: two
    ``syrk`` updates per block of event times (:func:`event_blocks`)."""
    p = eng.p
    H = np.zeros((p, p), order="F")
    Y = np.empty((EVENT_BLOCK, p))
    for a, b, Sb, Db in event_blocks(eng, r, rd):
        Yb = Y[: b - a]
        np.multiply(Db, fbar[a:b, None], out=Yb)
        np.subtract(Sb, Yb, out=Yb)
        Yb *= l0[a:b, None]
        _syrk_add(H, Yb)
        np.multiply(Db, lz[a:b, None], out=Yb)
        _syrk_add(H, Yb)
    return _symmetrise_upper(H)
