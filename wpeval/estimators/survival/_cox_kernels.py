"""Numerical kernels of the Cox engine (:mod:`._coxengine`): segment sums over sorted keys
(scipy's CSR / CSC kernels into preallocated buffers), the radix argsort of integer keys, the
blocked in-place cumulative sum, BLAS ``syrk`` updates, R's covariate scale and time ranks.

Why each is hand-written, with benchmark numbers, is in the :mod:`._coxengine` docstring.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

try:  # Y += A @ X into a preallocated Y (scipy's own kernels behind ``csr/csc @ dense``)
    from scipy.sparse._sparsetools import csc_matvecs as _csc_matvecs
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - private scipy API moved
    _csr_matvecs = _csc_matvecs = None

CHUNK = 1 << 17  # rows per chunk for residuals and centring
GEMM_CHUNK = 1 << 14  # rows per chunk for X' diag(v) X (fits in cache)
CUMSUM_ROWS = 256  # rows per block of the in-place cumulative sums down event times


class _SegmentOp:
    """Sparse (n_rows x n) operator with entries ``(key_k, col_k)``: ``accumulate(w, X, out)``
    adds ``sum_k w_k X[col_k]`` to ``out[key_k]`` (scipy's CSR kernel, into a preallocated
    buffer). ``cols=None`` means entry ``k`` is row ``k``. Entries whose keys are already
    sorted (the usual case: rows are sorted by stratum and exit time) are used in place."""

    def __init__(self, key, cols, n_rows):
        key = np.asarray(key, dtype=np.int64)
        m = len(key)
        self.n_rows = n_rows
        self.perm = None if m == 0 or np.all(key[1:] >= key[:-1]) else _argsort_keys(key)
        idx = np.int32 if m < 2**31 - 1 else np.int64
        indptr = np.zeros(n_rows + 1, dtype=idx)
        np.cumsum(np.bincount(key, minlength=n_rows)[:n_rows], out=indptr[1:])
        base = np.arange(m) if cols is None else np.asarray(cols)
        self.indices = (base if self.perm is None else base[self.perm]).astype(idx)
        self.indptr = indptr

    def data(self, w):
        """Entry values in stored order from values in entry order."""
        return np.ascontiguousarray(w if self.perm is None else w[self.perm], dtype=np.float64)

    def accumulate(self, w, X, out):
        """``out += M X`` with entry values ``w`` (entry order)."""
        self.accumulate_rows(0, self.n_rows, self.data(w), X, out)

    def accumulate_rows(self, a, b, data, X, out):
        """``out += M[a:b] X`` (``out`` has ``b - a`` rows), ``data`` from :meth:`data`."""
        s0, s1 = int(self.indptr[a]), int(self.indptr[b])
        indptr = self.indptr[a : b + 1] - self.indptr[a]
        n, p = X.shape
        if _csr_matvecs is None:  # pragma: no cover - private scipy API moved
            M = sp.csr_matrix((data[s0:s1], self.indices[s0:s1], indptr), shape=(b - a, n))
            out += M @ X
            return
        _csr_matvecs(b - a, n, p, indptr, self.indices[s0:s1], data[s0:s1], X.ravel(), out.ravel())


def _argsort_keys(k):
    """Stable argsort of non-negative integer keys. Below 2^32 it is two stable passes over
    16-bit digits (numpy sorts 16-bit integers by radix sort, O(n)), 3x faster than
    ``argsort(kind="stable")`` on int64 at 2M rows; the permutation is the same (a stable
    sort's result is unique)."""
    k = np.asarray(k)
    if len(k) == 0 or k.min() < 0 or k.max() >= 2**32:
        return np.argsort(k, kind="stable")
    o = np.argsort((k & 0xFFFF).astype(np.uint16), kind="stable")
    if k.max() < 2**16:
        return o
    o2 = np.argsort((k >> 16).astype(np.uint16)[o], kind="stable")
    return o[o2]


def _cumsum_rows(a):
    """In-place ``np.cumsum(a, axis=0)`` of a C-order 2-D array in blocks of rows.

    Each block starts from the previous block's last row, so the additions are those of
    ``np.cumsum`` in the same order (the result is bit-identical); numpy's own loop walks
    each column down the whole array with a stride of ``p`` doubles, several times slower
    at 500k event times.
    """
    for s in range(0, a.shape[0], CUMSUM_ROWS):
        blk = a[s : s + CUMSUM_ROWS]
        if s:
            blk[0] += a[s - 1]
        np.cumsum(blk, axis=0, out=blk)
    return a


def _syrk_add(H, Y, alpha=1.0):
    """``H += alpha Y'Y`` in the upper triangle of the Fortran-order ``H`` (BLAS ``dsyrk``).

    A C-order ``Y`` (m x p) is the Fortran-order ``Y'`` (p x m), so nothing is copied."""
    if Y.shape[0] == 0:
        return H
    Yt = Y.T
    if not Yt.flags.f_contiguous:
        Yt = np.asfortranarray(Yt)
    out = blas.dsyrk(alpha, Yt, beta=1.0, c=H, trans=0, lower=0, overwrite_c=1)
    if out is not H:  # pragma: no cover - f2py copied H
        H[...] = out
    return H


def _symmetrise_upper(H):
    """Full symmetric matrix (C order) from the upper triangle filled by ``dsyrk``."""
    U = np.triu(H)
    return np.ascontiguousarray(U + np.triu(U, 1).T)


def _r_scale(X, w, mean):
    """R ``coxfit6`` covariate scale ``1 / mean_w |x - mean_w(x)|`` (1 for a constant column):
    the typical size of a coefficient, used to make the convergence, aliasing and
    infinite-coefficient tests independent of the covariates' units."""
    acc = np.zeros(X.shape[1])
    for a in range(0, X.shape[0], CHUNK):
        acc += w[a : a + CHUNK] @ np.abs(X[a : a + CHUNK] - mean)
    mad = acc / w.sum()
    with np.errstate(divide="ignore"):
        return np.where(mad > 0, 1.0 / np.where(mad > 0, mad, 1.0), 1.0)


def _time_ranks(stop, start, n_strata):
    """Integer ranks of exit (and entry) times, 1-based (0 = -inf), and the inverse map.

    Integer-valued times (days) take a fast path without sorting.
    """
    both = stop if start is None else np.concatenate([stop, start])
    lo_t, hi_t = float(both.min()), float(both.max())
    if (hi_t - lo_t + 2) * max(n_strata, 1) < 2**62 and np.array_equal(both, np.floor(both)):
        width = int(hi_t - lo_t) + 2
        rstop = (stop - lo_t).astype(np.int64) + 1
        rstart = None if start is None else (start - lo_t).astype(np.int64) + 1
        return rstop, rstart, width, lambda r: (r - 1 + lo_t).astype(np.float64)
    utimes, inv = np.unique(both, return_inverse=True)
    inv = inv.astype(np.int64) + 1
    n = len(stop)
    rstart = None if start is None else inv[n:]
    return inv[:n], rstart, len(utimes) + 1, lambda r: utimes[r - 1]
