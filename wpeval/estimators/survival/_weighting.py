"""Case weights, delayed entry and the infinitesimal-jackknife variance for survival curves.

Shared by :func:`~wpeval.estimators.survival.km.kaplan_meier` and
:func:`~wpeval.estimators.survival.nelson_aalen.nelson_aalen` when ``weights`` or ``entry`` is
given (the unweighted right-censored path stays in ``km.km_blocks``, unchanged).

Risk sets follow R ``survfit`` (``survfitkm.c``): a row is at risk at ``t`` when
``entry < t <= duration``; with weights, the number at risk ``Y`` and the number of events
``d`` are sums of weights, and a time counts as an event time when at least one event there
has a positive weight. The infinitesimal-jackknife (IJ) variance is R's ``robust = TRUE``
variance with one cluster per row: ``Var = sum_j U_j(t)^2`` with ``U_j`` the derivative of the
estimate with respect to row ``j``'s weight times that weight (see :func:`ij_sums`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._blocks import _group_cumprod, _group_cumsum, blocks
from wpeval.estimators.survival._common import _examples, prepare
from wpeval.exceptions import DataContractError, ParameterError


def prepare_weighted(
    data, duration, event, *, used, weights, entry, id_col, what, timefix
) -> tuple:
    """:func:`prepare` plus the weights column; returns ``(prep, w)`` (``w`` None if unweighted).

    A missing (NaN) weight or entry time is an error, not a dropped row: an analysis weight or
    an entry time cannot be imputed away. Weights must be finite and >= 0 with a positive sum.
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for col, rule in ((weights, "weights_not_missing"), (entry, "entry_not_missing")):
        if col is None:
            continue
        if not isinstance(col, str):
            raise ParameterError(f"column names must be strings, got {col!r}")
        if col in data.columns and data[col].isna().any():
            miss = data[col].isna().to_numpy()
            raise DataContractError(
                f"{int(miss.sum())} rows have a missing value in {col!r} (rule {rule}); "
                "weights and entry times must be given for every row",
                column=col,
                rule=rule,
                examples=_examples(data, miss, id_col),
            )
    extra = [weights] if weights is not None and weights not in used else []
    prep = prepare(
        data,
        duration,
        event,
        used=list(used) + extra,
        entry=entry,
        id_col=id_col,
        what=what,
        timefix=timefix,
    )
    if weights is None:
        return prep, None
    s = prep.frame[weights]
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise DataContractError(
            f"column {weights!r} must be numeric (got {s.dtype})", column=weights, rule="numeric"
        )
    w = s.to_numpy(dtype=np.float64)
    for bad, rule, text in (
        (~np.isfinite(w), "weights_finite", "infinite"),
        (w < 0, "weights_nonnegative", "negative"),
    ):
        if bad.any():
            raise DataContractError(
                f"{int(bad.sum())} weights in {weights!r} are {text} (rule {rule})",
                column=weights,
                rule=rule,
                examples=_examples(prep.frame, bad, id_col, data),
            )
    if not w.sum() > 0:
        raise DataContractError(
            f"the weights in {weights!r} sum to zero", column=weights, rule="weights_positive_sum"
        )
    return prep, w


def fast_blocks(duration: np.ndarray, event: np.ndarray, code: np.ndarray) -> dict:
    """The output of :func:`~wpeval.estimators.survival._blocks.blocks` without sorting rows.

    Blocks are the distinct (code, time) keys ``code * T + rank(time)``; whole-number times
    (days) are their own ranks, other times are ranked with ``np.unique``. Counts come from
    ``bincount`` over the keys, so the cost is linear in the rows (plus a sort of the distinct
    times when they are not whole numbers). Same blocks, order and counts as ``blocks``.
    """
    n = len(duration)
    if n == 0:
        return blocks(duration, event, code)
    lo, hi = float(duration.min()), float(duration.max())
    if hi - lo < 1e7 and np.array_equal(duration, np.floor(duration)):
        rank = (duration - lo).astype(np.int64)
        T = int(hi - lo) + 1
        times = lo + np.arange(T, dtype=np.float64)
    else:
        times, rank = np.unique(duration, return_inverse=True)
        T = len(times)
    C = int(code.max()) + 1
    key = code.astype(np.int64) * T + rank
    if C * T <= max(4 * n, 1 << 20):
        cnt = np.bincount(key, minlength=C * T)
        ukey = np.flatnonzero(cnt)
        compact = np.cumsum(cnt > 0) - 1
        row_block = compact[key]
        n_at = cnt[ukey]
    else:
        ukey, row_block = np.unique(key, return_inverse=True)
        n_at = np.bincount(row_block, minlength=len(ukey))
    bcode = ukey // T
    # rows of the same code with time >= the block's time (exact integer arithmetic)
    rev = np.cumsum(n_at[::-1])[::-1]
    nxt = np.searchsorted(bcode, bcode, side="right")
    n_risk = rev - np.concatenate([rev, [0]])[nxt]
    return dict(
        code=bcode,
        time=times[ukey % T],
        n_at=n_at,
        n_risk=n_risk,
        row_block=row_block,
        n_event=np.bincount(row_block, weights=event, minlength=len(ukey)),
    )


def _group_rcumsum(x: np.ndarray, code: np.ndarray, exclusive: bool = False) -> np.ndarray:
    """Reverse cumulative sum within runs of ``code`` (blocks sorted by code): sum over i' >= i
    (``exclusive``: i' > i) of the same code."""
    inc = _group_cumsum(x[::-1], code[::-1])[::-1]
    if not exclusive:
        return inc
    out = np.zeros_like(inc)
    same = code[1:] == code[:-1]
    out[:-1] = np.where(same, inc[1:], 0.0)
    return out


class RiskSets:
    """Distinct (curve, time) blocks with (weighted) risk sets and (delayed) entry.

    Attributes (arrays over blocks, sorted by curve then time): ``code``, ``time``, ``n_at``
    (rows leaving), ``n_event``, ``n_risk`` (rows with entry < time <= duration), and with
    weights ``w_at``, ``w_event``, ``w_risk``; ``d`` and ``Y`` are the weighted (or plain)
    events and numbers at risk used by the estimators; ``row_block`` maps rows to blocks.
    """

    def __init__(self, duration, event, code, w=None, entry=None):
        b = fast_blocks(duration, event.astype(np.float64), code)
        self.code, self.time, self.row_block = b["code"], b["time"], b["row_block"]
        self.n_at, self.n_event, self.n_risk = b["n_at"], b["n_event"], b["n_risk"]
        self.event, self.w, self.entry, self.row_code = event, w, entry, code
        B = len(self.time)
        self.B = B
        if w is not None:
            self.w_at = np.bincount(self.row_block, weights=w, minlength=B)
            self.w_event = np.bincount(self.row_block, weights=w * event, minlength=B)
            self.w_risk = _group_rcumsum(self.w_at, self.code)
        if entry is not None:
            self._entry_index()
            later = self._entered_from(np.ones(len(entry)))
            self.n_risk = self.n_risk - np.rint(later).astype(np.int64)
            if w is not None:
                self.w_risk = self.w_risk - self._entered_from(w)
        if w is not None:
            self.d, self.Y = self.w_event, self.w_risk
            self.has_event = self.w_event > 0
        else:
            self.d, self.Y = self.n_event.astype(np.float64), self.n_risk.astype(np.float64)
            self.has_event = self.n_event > 0

    # -- delayed entry ------------------------------------------------------------------------
    def _entry_index(self) -> None:
        """Integer keys (curve, time rank) for blocks and entry times, entry rows sorted."""
        uniq = np.unique(np.concatenate([self.time, self.entry]))
        K = len(uniq) + 1
        self._K = K
        self.block_key = self.code * K + np.searchsorted(uniq, self.time)
        entry_key = self.row_code * K + np.searchsorted(uniq, self.entry)
        self._entry_order = np.argsort(entry_key, kind="stable")
        self._entry_key_sorted = entry_key[self._entry_order]
        # block of the last time <= entry in the row's curve (-1: none)
        idx = np.searchsorted(self.block_key, entry_key, side="right") - 1
        ok = idx >= 0
        ok[ok] = self.code[idx[ok]] == self.row_code[ok]
        self.entry_block = np.where(ok, idx, -1)
        # rows of the block's curve that enter at or after the block's time
        self._lo = np.searchsorted(self._entry_key_sorted, self.block_key, side="left")
        self._hi = np.searchsorted(self._entry_key_sorted, (self.code + 1) * K, side="left")

    def _entered_from(self, values: np.ndarray) -> np.ndarray:
        """Per block: sum of ``values`` over rows of its curve with entry >= the block time."""
        cs = np.concatenate([[0.0], np.cumsum(values[self._entry_order])])
        return cs[self._hi] - cs[self._lo]

    def counts(self) -> dict:
        """Block counts for the curve table."""
        out = dict(
            code=self.code, time=self.time, n_risk=self.n_risk, n_event=self.n_event, n_at=self.n_at
        )
        if self.w is not None:
            out.update(w_risk=self.w_risk, w_event=self.w_event, w_at=self.w_at)
        return out

    # -- estimates ----------------------------------------------------------------------------
    def km(self) -> np.ndarray:
        """Product-limit survival ``prod (1 - d / Y)`` over event times."""
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(self.has_event, 1.0 - self.d / self.Y, 1.0)
        return _group_cumprod(factor, self.code)

    def greenwood(self) -> np.ndarray:
        """Greenwood sum ``sum d / (Y (Y - d))`` (``inf`` once ``Y = d``)."""
        d, Y = self.d, self.Y
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(~self.has_event, 0.0, np.where(Y > d, d / (Y * (Y - d)), np.inf))
        return _group_cumsum(h, self.code)

    def nelson_aalen(self) -> tuple[np.ndarray, np.ndarray]:
        """Nelson-Aalen ``sum d / Y`` and its Aalen variance ``sum d / Y^2``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(self.has_event, self.d / self.Y, 0.0)
            var = np.where(self.has_event, self.d / self.Y**2, 0.0)
        return _group_cumsum(inc, self.code), _group_cumsum(var, self.code)

    def ij_km(self, surv: np.ndarray) -> np.ndarray:
        """IJ variance of the Kaplan-Meier estimate (R ``survfit(robust = TRUE)$std.err^2``)."""
        d, Y = self.d, self.Y
        ok = self.has_event & (Y > d)
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(ok, d / (Y * (Y - d)), 0.0)
            jump = np.where(ok, 1.0 / (Y - d), 0.0)
        return surv**2 * self.ij_sums(inc, jump)

    def ij_na(self) -> np.ndarray:
        """IJ variance of the Nelson-Aalen estimate (R ``survfit(robust = TRUE)$std.chaz^2``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(self.has_event, self.d / self.Y**2, 0.0)
            jump = np.where(self.has_event, 1.0 / self.Y, 0.0)
        return self.ij_sums(inc, jump)

    def ij_sums(self, inc: np.ndarray, jump: np.ndarray) -> np.ndarray:
        """``sum_j U_j(t)^2`` at every block for an estimate with log-scale increments.

        For row ``j`` (weight ``w``, entry ``e``, exit ``x``, event ``delta``) and
        ``G(t) = sum_{t_i <= t} inc_i`` the influence at ``t`` is
        ``U_j(t) = w (delta 1[x <= t] jump(x) - (G(min(t, x)) - G(e))_{e < t})``.
        Nelson-Aalen: ``inc = d / Y^2``, ``jump = 1 / Y``; Kaplan-Meier (for ``-log S``, then
        multiplied by ``S``): ``inc = d / (Y (Y - d))``, ``jump = 1 / (Y - d)`` (R's recursion
        ``U <- U (1 - h) + S- (w Y_j h - w dN_j) / Y`` divided by ``S``). The sum splits into
        rows that have left by ``t`` (a cumulative sum of their final ``U_j^2``) and rows
        still at risk after ``t`` (``G(t)^2 S0 - 2 G(t) S1 + S2`` with
        ``S_k = sum w^2 G(e)^k``), so the cost is a few passes over the rows.
        """
        code, rb = self.code, self.row_block
        w = np.ones(len(rb)) if self.w is None else self.w
        G = _group_cumsum(inc, code)
        w2 = w * w
        if self.entry is not None:
            Ge = np.where(self.entry_block >= 0, G[np.maximum(self.entry_block, 0)], 0.0)
        else:
            Ge = None
        gain = G[rb] if Ge is None else G[rb] - Ge
        f = w * (self.event * jump[rb] - gain)
        left = _group_cumsum(np.bincount(rb, weights=f * f, minlength=self.B), code)
        S0 = _group_rcumsum(np.bincount(rb, weights=w2, minlength=self.B), code, True)
        if Ge is None:
            return left + G * G * S0
        p1, p2 = w2 * Ge, w2 * Ge * Ge
        S1 = _group_rcumsum(np.bincount(rb, weights=p1, minlength=self.B), code, True)
        S2 = _group_rcumsum(np.bincount(rb, weights=p2, minlength=self.B), code, True)
        S0 = S0 - self._entered_from(w2)
        S1 = S1 - self._entered_from(p1)
        S2 = S2 - self._entered_from(p2)
        at_risk = np.maximum(G * G * S0 - 2 * G * S1 + S2, 0.0)
        return left + at_risk


def robust_choice(robust, weights) -> bool:
    """Resolve ``robust=None``: IJ variance when there are weights, model-based otherwise."""
    if robust is None:
        return weights is not None
    if not isinstance(robust, bool):
        raise ParameterError(f"robust must be True, False or None, got {robust!r}")
    return robust
