"""Vectorised Cox partial-likelihood engine (Efron / Breslow ties, strata, (start, stop] data,
case weights, Fine-Gray censoring-weighted tails, robust and cluster-robust sandwich).

What is hand-written, and why
-----------------------------
The whole fit is written here on numpy / scipy / BLAS: the risk-set structure, the Efron
tie expansion, the log partial likelihood, score and information, and the score residuals of
the robust variance (the Newton loop itself is :func:`wpeval.estimators._newton.maximise`, R
``coxph.control`` rules). Nothing on PyPI fits: lifelines' ``CoxPHFitter`` has no
(start, stop] data with strata *and* cluster-robust SEs that match R, computes robust SEs that
ignore tied times (lifelines PR #496) or drops ``robust`` with ``cluster_col`` (#1598), and is
far slower than R with many strata; statsmodels' ``PHReg`` has ``groups=`` but gives NaN
robust SEs when a row is censored before the first event. This engine matches R
``survival::coxph`` to ~1e-12 (tests/reference/survival_reference.R).

Speed, from one run of ``benchmarks/survival.py`` (2 shared cores, load average 1.1;
stratified Efron Cox, 1,000 strata, 40 covariates, 728 distinct days, single-threaded BLAS):
at 2M rows the fit takes 6.5 s against 55.2 s for R ``coxph`` (8.4x faster), peak
resident memory 1.96 GB against R's 4.85 GB, coefficients equal to R within 5e-13
(relative); at 200k rows 6.5x faster than R and 75x faster than lifelines
``CoxPHFitter`` (which differs from R by 4.5e-6). Run to run the 2M ratio moved between 8x
and 11x (an earlier run: 4.8 s against 51.2 s), mostly with the cost of first-touching fresh
memory on the shared VM. Before the changes listed next the same benchmark gave 5.8x R at 2M
(8.3 s against 47.5 s, peak 2.8 GB) and 60x lifelines at 200k.
Where the time went, and what was done (all numpy / scipy, no compiled code of our own):

* building the sorted covariate matrix made three n x p arrays (Fortran, C, gathered);
  first touches of freshly mapped memory cost 0.4 to 3 s per GB on our shared VMs (more
  than the copying), so this was 40 % of the fit: ``Design.build`` (``_common.py``) now
  gathers 8 columns at a time into the one result;
* the risk-set sums used a (T+1) x n sparse matrix built by sorting 2n entries and numpy's
  ``cumsum`` along axis 0 (which strides through the whole T x p array per column): the
  entries are now already in row order (rows are sorted by key), the operators are made from
  ``bincount`` offsets, and cumulative sums run in cache-sized blocks with a carried row;
* the information's risk-set term needed five T x p arrays (S1, D1, Gv, Fv, a temporary)
  and two T x p by p x T products per Newton step; it is now one pass over blocks of 2,048
  event times, each block's S1 and D1 rows formed in cache and entering two ``syrk`` updates
  (the 2 x 2 weight of each event time factored, below); ``X' diag(v) X`` uses ``syrk`` too;
* the keys ``stratum x time`` are sorted by two 16-bit radix passes (numpy's stable sort of
  ``uint16``), 3x faster than a stable sort of ``int64``;
* robust variances: the residual tables are formed in one blocked pass, and cluster sums
  are accumulated in place (scipy's ``csc_matvecs``) instead of a clusters x p temporary per
  chunk of rows.

Code layout: this module holds :class:`CoxEngine` (risk-set structure, evaluation, ``xtdx``)
and :func:`newton`; the numerical kernels (segment-sum operators, radix argsort, blocked
cumulative sum, ``syrk``) are in ``_cox_kernels.py``, the blocked pass over event times and
the information's risk-set term in ``_cox_blocks.py``, the robust variance in
``_cox_robust.py``.

Formulation (no per-row p x p products, no N x N matrices)
----------------------------------------------------------
Let ``E_1 < ... < E_T`` be the distinct (stratum, event time) pairs, ordered stratum-major.
Row ``i`` is at risk at ``E_j`` iff ``lo_i <= j < hi_i`` (an *index interval*, computed once by
``searchsorted`` on integer keys ``stratum * (U + 1) + rank(time)``; integer-valued times such as
days are ranked without sorting); for right-censored data ``lo_i`` is the first event index of
the row's stratum. Rows are sorted once by key, so every later pass reads memory in order.
With ``r_i = w_i exp(eta_i)``:

* ``S0_j = sum_{i at risk} r_i`` and ``S1_j = sum r_i x_i`` are cumulative sums of a
  difference array (``+r_i`` at ``lo_i``, ``-r_i`` at ``hi_i``): one ``bincount`` for S0; for
  S1 segment sums of the rows ``r_i x_i`` (scipy's CSR kernel, entries already in row order)
  followed by the running sum, block by block of event times;
* tie group ``j`` has ``d_j`` deaths, death weight ``wd_j``, ``D0_j``, ``D1_j``. Efron expands
  ``k = 0..d_j-1`` with ``f = k / d_j`` and ``den_jk = S0_j - f D0_j`` by ``np.repeat`` (total
  length = number of deaths, so memory is O(n) whatever the tie sizes); Breslow is ``d_j = 1``.
  Per event time the scalars ``c_j = m_j sum_k 1/den``, ``e_j = m_j sum_k f/den``,
  ``q_a = m_j sum_k f^a / den^2`` (``m_j = wd_j / d_j``) are reduced with ``bincount``;
* the information ``sum_j sum_k m_j [(S2_j - f D2_j)/den - a_jk a_jk']`` never needs the
  p x p matrices ``S2_j``: ``sum_j c_j S2_j = X' diag(r_i C_i) X`` where ``C_i`` is the sum of
  ``c_j`` over the row's risk interval (a difference of prefix sums), so
  ``I = X' diag(r C - delta r e) X - [S1' diag(q0) S1 - S1' diag(q1) D1 - D1' diag(q1) S1
  + D1' diag(q2) D1]``. ``X' diag(v) X`` is accumulated over row chunks of 16k rows (BLAS
  ``syrk`` of ``diag(sqrt|v|) X``, rows with ``v < 0`` subtracted, chunk x p memory). The
  bracket is ``sum_j Y_j Y_j' + Z_j Z_j'`` with the Cholesky factor of each event time's
  2 x 2 weight ``[[q0, -q1], [-q1, q2]]`` (positive semi-definite by Cauchy-Schwarz):
  ``Y = (q0 S1 - q1 D1) / sqrt(q0)``, ``Z = sqrt(q2 - q1^2/q0) D1``, where
  ``q2 - q1^2/q0 = sum_k m_j (f - q1/q0)^2 / den^2`` is summed directly (never a difference);
  it is accumulated by ``syrk`` over blocks of 2,048 event times whose S1 and D1 rows are
  formed in cache. Cost per Newton step: ``(n + 2T) p^2`` flops in BLAS plus O((n + T) p)
  memory passes; memory: X once (n x p, in sorted order) and O(n + T) vectors. The T x p
  arrays S1 and D1 are formed whole only when ``state["S1"]`` / ``state["D1"]`` is read.
* score ``U = X' (w delta - r C + delta r e)``.

Robust variance: R's dfbeta residuals ``D = diag(w) L V`` with the Efron score residuals of
``coxscore2.c`` / ``agscore3.c``:
``L_i = delta_i (x_i - xbar*_j(i)) - e^{eta_i} (x_i C_i - G_i) + delta_i e^{eta_i}
(x_i e_j(i) - F_j(i))`` where ``xbar*_j = (S1 c - D1 e)_j / wd_j``, ``G_i`` sums
``S1 q0 - D1 q1`` over the risk interval and ``F_j = S1 q1 - D1 q2``; robust variance
``V (sum_c s_c s_c') V`` with ``s_c`` the weighted residuals summed within cluster ``c``.

Fine-Gray tails: a row with ``tail_i > 0`` stays at risk after ``hi_i`` to the end of its
stratum with weight ``w_i tail_i g_j`` at event ``j`` (``g_j`` = censoring survival ``G(t_j-)``,
``tail_i = 1/G(T_i-)``). This is exactly R's ``finegray()`` expansion without materialising it.

Numerics: covariates are centred within strata and, if ``|eta|`` exceeds 200, ``eta`` is shifted
by its stratum maximum (the partial likelihood, score, information and residuals are invariant
to both). Risk-set sums come from cumulative sums across all strata; the rounding this carries
over stratum boundaries is ~1e-16 of the largest partial sum (relative error ~1e-12 at 2M rows,
checked against R in benchmarks/survival.py). Because risk-set sums are differences of
cumulative sums, a risk set whose weights are ~1e-16 of the total (only reached when the
linear predictors of the rows at risk differ by about 37 or more) loses its value to rounding;
the Newton loop (:func:`newton`, R ``coxph.control`` rules: relative change in the log partial
likelihood below 1e-9, at most 20 iterations) stops a monotone likelihood long before that, and
a non-positive risk-set sum during the loop is treated as a failed step (halved), never as an
error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from wpeval.estimators._newton import NewtonControl, NewtonFit, maximise

# the kernels, the blocked event-time pass and the robust variance live in private siblings;
# names the tests use are re-exported here (``X as X``)
from wpeval.estimators.survival._cox_blocks import EVENT_BLOCK as EVENT_BLOCK
from wpeval.estimators.survival._cox_blocks import information_bracket
from wpeval.estimators.survival._cox_kernels import (
    CHUNK,
    GEMM_CHUNK,
    _argsort_keys,
    _cumsum_rows,
    _r_scale,
    _SegmentOp,
    _symmetrise_upper,
    _syrk_add,
    _time_ranks,
)
from wpeval.estimators.survival._cox_kernels import CUMSUM_ROWS as CUMSUM_ROWS
from wpeval.estimators.survival._cox_robust import score_outer
from wpeval.exceptions import DesignError


class CoxEngine:
    """Risk-set structure for one data set; evaluates loglik, score, information at beta.

    Parameters
    ----------
    X : ndarray (n, p) or callable
        Covariates, or ``X(order)`` returning them already in the row order ``order`` (saves
        one n x p copy). The engine keeps a row-sorted copy, centred within strata (the
        partial likelihood is invariant to that).
    stop, event, strata, weights : ndarray (n,)
        Exit times, 0/1 events, integer stratum codes 0..S-1, positive case weights.
    start : ndarray (n,) or None
        Entry times for (start, stop] data (``start < stop``); ``None`` = -inf.
    ties : {"efron", "breslow"}
    """

    def __init__(self, X, stop, event, strata, weights, start=None, ties="efron"):
        if callable(X):  # X(order) builds the matrix directly in sorted row order
            build, n = X, len(stop)
        else:
            build, n = None, X.shape[0]
        self.n = n
        self.event = np.asarray(event).astype(bool)
        n_strata = int(strata.max()) + 1 if n else 0
        self.n_strata = n_strata
        self.ties = ties
        # integer keys: stratum-major, time rank (0 reserved for -inf)
        rstop, rstart, width, to_time = _time_ranks(stop, start, n_strata)
        kstop = strata.astype(np.int64) * width + rstop
        # sort rows by (stratum, exit time): sequential memory access in every pass below
        order = _argsort_keys(kstop)
        self.order = order
        kstop = kstop[order]
        strata = strata[order]
        self.strata = strata
        self.X = X = build(order) if build is not None else np.take(X, order, axis=0)
        self.p = X.shape[1]
        self.w = weights = weights[order]
        self.event = self.event[order]
        # centre within strata (weighted means): numerics only, the fit is invariant
        ind = sp.csr_matrix((weights, (strata, np.arange(n))), shape=(n_strata, n))
        wsum = np.asarray(ind.sum(axis=1)).ravel()
        means = (ind @ X) / wsum[:, None]
        del ind
        self.xscale = _r_scale(X, weights, wsum @ means / wsum.sum())
        for a in range(0, n, CHUNK):
            X[a : a + CHUNK] -= means[strata[a : a + CHUNK]]
        ke = kstop[self.event]  # sorted
        ev_keys = ke[np.concatenate([[True], ke[1:] != ke[:-1]])] if len(ke) else ke
        T = len(ev_keys)
        if T == 0:
            raise DesignError("no events: the Cox model cannot be fitted")
        self.T = T
        self.ev_stratum = (ev_keys // width).astype(np.int64)
        self.ev_time = to_time(ev_keys % width)
        sbase = np.arange(n_strata, dtype=np.int64) * width
        first = np.searchsorted(ev_keys, sbase, side="right")  # first event index of stratum
        self.end = np.searchsorted(ev_keys, sbase + width, side="left")[strata]
        self.hi = np.searchsorted(ev_keys, kstop, side="right")
        if start is None:
            self.lo = first[strata]
        else:
            kstart = strata.astype(np.int64) * width + rstart[order]
            self.lo = np.searchsorted(ev_keys, kstart, side="right")
        dead = np.flatnonzero(self.event)
        self.dead = dead
        self.jd = self.hi[dead] - 1  # event index of each death
        self.d = np.bincount(self.jd, minlength=T).astype(np.float64)
        self.wd = np.bincount(self.jd, weights=weights[dead], minlength=T)
        # tie expansion
        if ties == "efron":
            dd = self.d.astype(np.int64)
            self.rep = np.repeat(np.arange(T), dd)
            starts = np.cumsum(dd) - dd
            k = np.arange(len(self.rep)) - np.repeat(starts, dd)
            self.f = k / self.d[self.rep]
            self.meanwt = (self.wd / self.d)[self.rep]
        elif ties == "breslow":
            self.rep = np.arange(T)
            self.f = np.zeros(T)
            self.meanwt = self.wd
        else:  # pragma: no cover - validated by caller
            raise ValueError(ties)
        # segment-sum operators (row j of the result sums the weighted X rows with key j):
        # entries at lo (+), at hi (-) and deaths at their event; hi and jd are sorted
        # because rows are, and lo too for right-censored data, so no sparse matrix is sorted
        self._op_lo = _SegmentOp(self.lo, None, T + 1)
        self._op_hi = _SegmentOp(self.hi, None, T + 1)
        self._op_dead = _SegmentOp(self.jd, dead, T)
        self.tail = None
        self.g = None
        self._bufs = {}
        self._wdelta_sum = float(weights[dead].sum())

    # -- Fine-Gray tails ---------------------------------------------------------------------
    def set_tail(self, tail: np.ndarray, g: np.ndarray) -> None:
        """Keep rows with ``tail_i > 0`` at risk after their exit with weight ``tail_i g_j``.

        ``tail`` is in the caller's row order; ``g`` is indexed by event (``ev_stratum``,
        ``ev_time``).
        """
        tail = np.asarray(tail, dtype=np.float64)[self.order]
        self.tail = tail
        self.g = g
        has = np.flatnonzero(tail > 0)
        self._tail_rows = has
        self._op_tail_hi = _SegmentOp(self.hi[has], has, self.T + 1)
        self._op_tail_end = _SegmentOp(self.end[has], has, self.T + 1)

    # -- helpers -----------------------------------------------------------------------------
    def _buffer(self, name, shape):
        """Persistent work array: large arrays are allocated once, not at every evaluation
        (fresh allocations of this size cost more in page faults than the arithmetic)."""
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape:
            buf = self._bufs[name] = np.empty(shape)
        return buf

    def _risk_sum_scalar(self, r):
        """S0_j (T,) for row weights r."""
        T = self.T
        s = np.cumsum(
            np.bincount(self.lo, weights=r, minlength=T + 1)
            - np.bincount(self.hi, weights=r, minlength=T + 1)
        )[:T]
        if self.tail is not None:
            rt = r * self.tail
            s = (
                s
                + self.g
                * np.cumsum(
                    np.bincount(self.hi, weights=rt, minlength=T + 1)
                    - np.bincount(self.end, weights=rt, minlength=T + 1)
                )[:T]
            )
        return s

    def _segment_sums(self, ops, weights, name):
        """``sum_k sign_k op_k(weights_k) X`` into the persistent (rows x p) buffer ``name``."""
        out = self._buffer(name, (ops[0].n_rows, self.p))
        out.fill(0.0)
        for op, w in zip(ops, weights):
            op.accumulate(w, self.X, out)
        return out

    def _risk_sum_matrix(self, r):
        """S1_j (T, p)."""
        T = self.T
        s = self._segment_sums((self._op_lo, self._op_hi), (r, -r), "S1")
        _cumsum_rows(s)
        s = s[:T]
        if self.tail is not None:
            rt = (r * self.tail)[self._tail_rows]
            st = self._segment_sums((self._op_tail_hi, self._op_tail_end), (rt, -rt), "S1tail")
            _cumsum_rows(st)
            st *= np.concatenate([self.g, [0.0]])[:, None]
            s += st[:T]
        return s

    def _interval_sum(self, a, ga=None):
        """Per-row sum of event-indexed ``a`` over the risk interval (+ tail with ``ga``)."""
        P = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
        out = P[self.hi] - P[self.lo]
        if self.tail is not None:
            PG = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(ga, axis=0)])
            t = self.tail if a.ndim == 1 else self.tail[:, None]
            out = out + t * (PG[self.end] - PG[self.hi])
        return out

    def xtdx(self, v, u=None):
        """X' diag(v) X accumulated over row chunks (and X' u in the same pass if given).

        Symmetric rank-k updates (BLAS ``syrk``, half the flops of ``gemm``) of
        ``Y = diag(sqrt|v|) X``; rows with ``v < 0`` (only from rounding in the information
        weights, or a caller's signed weights) are subtracted twice, so the sum is exactly
        ``X' diag(v) X`` whatever the signs.
        """
        p = self.p
        H = np.zeros((p, p), order="F")
        g = np.zeros(p)
        X = self.X
        sv = np.sqrt(np.abs(v))
        neg = v < 0
        any_neg = bool(neg.any())
        for a in range(0, self.n, GEMM_CHUNK):
            b = a + GEMM_CHUNK
            Xc = X[a:b]
            _syrk_add(H, np.multiply(Xc, sv[a:b, None]))
            if any_neg and neg[a:b].any():
                _syrk_add(H, Xc[neg[a:b]] * sv[a:b][neg[a:b], None], -2.0)
            if u is not None:
                g += u[a:b] @ Xc
        H = _symmetrise_upper(H)
        return (H, g) if u is not None else H

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, beta, need_info=True):
        """Log partial likelihood, score and information at ``beta``; keeps the pieces."""
        X = self.X
        self.state = None  # free the previous evaluation's T x p arrays first
        eta = X @ beta if self.p else np.zeros(self.n)
        top = np.max(np.abs(eta)) if self.n else 0.0
        if top > 200:  # shift within strata; every term is invariant to this
            mx = np.full(self.n_strata, -np.inf)
            np.maximum.at(mx, self.strata, eta)
            eta = eta - mx[self.strata]
        er = np.exp(eta)
        r = self.w * er
        S0 = self._risk_sum_scalar(r)
        rd = r[self.dead]
        D0 = np.bincount(self.jd, weights=rd, minlength=self.T)
        rep, f, mw = self.rep, self.f, self.meanwt
        den = S0[rep] - f * D0[rep]
        if np.any(den <= 0):  # only from underflow far from the start: a failed step
            self.state = None
            nan = np.full(self.p, np.nan)
            return -np.inf, nan, np.full((self.p, self.p), np.nan) if need_info else None
        inv = mw / den
        c = np.bincount(rep, weights=inv, minlength=self.T)
        e = np.bincount(rep, weights=inv * f, minlength=self.T)
        loglik = float(np.dot(self.w[self.dead], eta[self.dead]) - np.dot(mw, np.log(den)))
        gc = self.g * c if self.tail is not None else None
        C = self._interval_sum(c, gc)
        u = -r * C
        u[self.dead] += self.w[self.dead] + rd * e[self.jd]
        # S1 and D1 (T x p) are formed only when asked for (robust variance)
        state = _State(self, beta=beta, eta=eta, er=er, r=r, S0=S0, c=c, e=e, C=C)
        info = None
        if not need_info:
            U = X.T @ u
        else:
            inv2 = inv / den
            q0 = np.bincount(rep, weights=inv2, minlength=self.T)
            q1 = np.bincount(rep, weights=inv2 * f, minlength=self.T)
            q2 = np.bincount(rep, weights=inv2 * f * f, minlength=self.T)
            vv = r * C
            vv[self.dead] -= rd * e[self.jd]
            info, U = self.xtdx(vv, u)
            # sum_j [q0 S1 S1' - q1 (S1 D1' + D1 S1') + q2 D1 D1'] = Y'Y + Z'Z with the
            # Cholesky factor of each 2 x 2 weight [[q0, -q1], [-q1, q2]]:
            # Y_j = (q0 S1_j - q1 D1_j) / sqrt(q0_j), Z_j = sqrt(q2 - q1^2 / q0)_j D1_j, where
            # q2 - q1^2 / q0 = sum_k m_j (f_k - q1/q0)^2 / den^2 >= 0 is summed directly
            fbar = q1 / q0
            z2 = np.bincount(rep, weights=inv2 * (f - fbar[rep]) ** 2, minlength=self.T)
            info -= information_bracket(self, r, rd, np.sqrt(q0), fbar, np.sqrt(z2))
            state.update(q0=q0, q1=q1, q2=q2)
        self.state = state
        return loglik, U, info

    # -- residuals ---------------------------------------------------------------------------
    def score_outer(self, V, cluster=None, n_clusters=None):
        """Robust variance ``V (sum_c s_c s_c') V`` from weighted score residuals
        (:func:`._cox_robust.score_outer`).

        ``cluster`` holds integer cluster codes 0..n_clusters-1 in the caller's row order;
        ``None`` = each row its own cluster (R ``coxph(robust=TRUE)`` without ``cluster``).
        """
        return score_outer(self, V, cluster, n_clusters)


class _State(dict):
    """The pieces of one evaluation. The T x p risk-set sums ``S1`` and ``D1`` are formed on
    first access (robust variances, residuals): the Newton steps never need them whole."""

    def __init__(self, engine, **pieces):
        super().__init__(**pieces)
        self._engine = engine

    def __missing__(self, key):
        eng = self._engine
        if key == "S1":
            val = eng._risk_sum_matrix(self["r"])
        elif key == "D1":
            val = eng._segment_sums((eng._op_dead,), (self["r"][eng.dead],), "D1")
        else:
            raise KeyError(key)
        self[key] = val
        return val


def newton(engine: CoxEngine, control: NewtonControl | None = None) -> NewtonFit:
    """Maximise the partial likelihood held by ``engine`` from beta = 0.

    The loop, its convergence rule (relative change in the log partial likelihood below
    ``eps``, R ``coxph.control``), step halving, iteration cap, aliasing and
    infinite-coefficient checks are those of :func:`wpeval.estimators._newton.maximise`;
    parameters are scaled by ``engine.xscale`` (R's ``1 / mean|x - mean(x)|``). On return the
    engine's kept pieces belong to the returned ``beta`` (needed for robust variances).
    """
    fit = maximise(engine.evaluate, np.zeros(engine.p), control, scale=engine.xscale)
    if engine.state is None or engine.state["beta"] is not fit.beta:
        engine.evaluate(fit.beta)
    return fit
