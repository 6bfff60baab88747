"""What a Cox fit keeps for the post-fit functions, and the risk-set sums they share.

:func:`wpeval.estimators.survival.cox` attaches a :class:`CoxFitData` to its result (the private
attribute ``_cox_data``: references to the prepared arrays, no copy of the data and nothing added
to ``extra``, so ``to_dict()`` stays small). :func:`cox_data` fetches it, raising a
:class:`ParameterError` for anything else.

:func:`risk_sums` recomputes, at the fitted coefficients, the risk-set quantities of R
``survival`` at every distinct (stratum, event time) ``j`` (stratum-major order):

* ``S0_j = sum_{i at risk} w_i exp(eta_i)``, ``S1_j`` the same sum of ``w_i exp(eta_i) x_i``,
  and ``D0_j``, ``D1_j`` over the ``d_j`` deaths at ``j`` (death weight ``wd_j``);
* Efron expansion ``k = 0..d_j-1``, ``f = k / d_j``, ``den = S0 - f D0``, ``m = wd / d``
  (Breslow: one term with ``f = 0``, ``m = wd``): hazard increment ``c_j = sum_k m / den``,
  ``e_j = sum_k m f / den``, ``q_a = sum_k m f^a / den^2`` (``q0`` is R ``agsurv``'s
  ``varhaz``), ``xbar*_j = (S1 c - D1 e)_j / wd_j`` (R's Efron mean of the means, used in the
  Schoenfeld residuals) and the cumulative mean increment ``S1 q0 - D1 q1`` (R ``agsurv``
  ``xbar``).

Row ``i`` is at risk at event ``j`` iff ``lo_i <= j < hi_i`` (start < t_j <= stop, same
stratum), so per-row sums over the risk interval are differences of prefix sums. Covariates are
centred at their weighted means before ``eta`` is formed (every quantity below is invariant to
that, except the baseline hazard, which callers shift back to ``x = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import Design
from wpeval.exceptions import DataContractError, ParameterError


@dataclass
class CoxFitData:
    """References to what a Cox fit used (rows after dropping missing values, input order)."""

    frame: pd.DataFrame
    covariates: list
    strata: list
    names: list
    duration: np.ndarray  # stop times after timefix
    event: np.ndarray  # 0/1
    entry: np.ndarray | None
    strata_codes: np.ndarray
    strata_labels: pd.DataFrame
    weights: np.ndarray
    ties: str
    beta: np.ndarray  # NaN for aliased
    vcov: np.ndarray  # R ``object$var`` (robust when requested)
    vcov_model: np.ndarray  # R ``naive.var`` / model-based
    columns: dict  # duration, event, entry, weights column names
    fingerprint: np.ndarray | None = None  # of the data at fit time (see :func:`fingerprint`)

    def design(self) -> Design:
        return Design(self.frame, self.covariates)

    def X(self) -> np.ndarray:
        """The n x p design in input row order (built on demand, not kept).

        Raises DataContractError if the data the fit refers to were changed in place since the
        fit (the fit keeps references, not copies).
        """
        design = self.design()
        if self.fingerprint is not None:
            now = fingerprint(
                design, self.duration, self.event, self.weights, self.strata_codes, self.entry
            )
            if now.shape != self.fingerprint.shape or not np.allclose(
                now, self.fingerprint, rtol=1e-10, atol=0, equal_nan=True
            ):
                raise DataContractError(
                    "the data frame passed to cox() was changed after the fit (the fit keeps "
                    "a reference to it, not a copy): refit, or pass a copy to cox()",
                    column=None,
                    rule="data_unchanged_since_fit",
                )
        return design.build()

    @property
    def kept(self) -> np.ndarray:
        """Columns with a finite coefficient (aliased ones are left out, as R)."""
        return ~np.isnan(self.beta)

    def term_map(self) -> dict:
        """Term (input covariate) -> indices of its design columns."""
        out, k = {}, 0
        for cov, (_, _, width) in zip(self.covariates, self.design().parts):
            out[cov] = list(range(k, k + width))
            k += width
        return out


def fingerprint(design: Design, duration, event, weights, strata_codes, entry) -> np.ndarray:
    """Sums and sums of squares of every covariate part and of the time / event / weight /
    stratum arrays: O(n p), computed at fit time and checked before any post-fit computation."""
    arrays = [v for _, v, _ in design.parts] + [duration, event, weights, strata_codes]
    if entry is not None:
        arrays.append(entry)
    out = []
    with np.errstate(over="ignore", invalid="ignore"):  # huge times: inf compares equal
        for a in arrays:
            a = np.asarray(a)
            b = a[::7].astype(np.float64)  # squares of every 7th row: enough to see an edit
            out += [float(np.sum(a, dtype=np.float64)), float(b @ b)]
    return np.array(out)


def cox_data(result) -> CoxFitData:
    """The :class:`CoxFitData` a :func:`cox` result carries; ParameterError otherwise."""
    data = getattr(result, "_cox_data", None)
    if not isinstance(data, CoxFitData):
        raise ParameterError(
            "this function needs the result of wpeval.cox() (it keeps the fitted model's data); "
            f"got {type(result).__name__}"
        )
    return data


class RiskSums:
    """Risk-set sums of a fitted Cox model at its coefficients (see module docstring)."""

    def __init__(self, fd: CoxFitData, X: np.ndarray | None = None):
        keep = fd.kept
        X = fd.X() if X is None else X
        X = X[:, keep]
        beta = fd.beta[keep]
        w = fd.weights
        self.center = (w @ X) / w.sum() if X.shape[1] else np.zeros(0)
        Xc = X - self.center
        self.X = Xc
        self.beta = beta
        self.p = Xc.shape[1]
        self.eta = Xc @ beta if self.p else np.zeros(len(w))
        self.er = np.exp(self.eta)
        self.r = r = w * self.er
        self.w = w
        stop, start, ev = fd.duration, fd.entry, fd.event.astype(bool)
        s = fd.strata_codes.astype(np.int64)
        self.n_strata = len(fd.strata_labels)
        utimes = np.unique(stop if start is None else np.concatenate([stop, start]))
        width = len(utimes) + 1
        self.utimes, self.width = utimes, width
        kstop = s * width + np.searchsorted(utimes, stop) + 1
        ke = np.unique(kstop[ev])
        self.T = T = len(ke)
        self.ev_keys = ke
        self.ev_stratum = ke // width
        self.ev_time = utimes[ke % width - 1]
        self.hi = np.searchsorted(ke, kstop, side="right")
        if start is None:
            self.lo = np.searchsorted(ke, s * width, side="right")
        else:
            self.lo = np.searchsorted(ke, s * width + np.searchsorted(utimes, start) + 1, "right")
        self.kstop, self.stratum, self.event = kstop, s, ev
        dead = np.flatnonzero(ev)
        self.dead = dead
        self.jd = jd = self.hi[dead] - 1
        self.d = np.bincount(jd, minlength=T).astype(np.float64)
        self.wd = np.bincount(jd, weights=w[dead], minlength=T)
        self.S0 = self._cum(r)
        self.S1 = np.column_stack([self._cum(r * Xc[:, k]) for k in range(self.p)]).reshape(
            T, self.p
        )
        self.D0 = np.bincount(jd, weights=r[dead], minlength=T)
        self.D1 = np.column_stack(
            [np.bincount(jd, weights=r[dead] * Xc[dead, k], minlength=T) for k in range(self.p)]
        ).reshape(T, self.p)
        if fd.ties == "efron":
            dd = self.d.astype(np.int64)
            rep = np.repeat(np.arange(T), dd)
            k = np.arange(len(rep)) - np.repeat(np.cumsum(dd) - dd, dd)
            f = k / self.d[rep]
            m = (self.wd / self.d)[rep]
        else:
            rep, f, m = np.arange(T), np.zeros(T), self.wd
        den = self.S0[rep] - f * self.D0[rep]
        self.rep, self.f, self.m, self.den = rep, f, m, den

        def red(v):
            return np.bincount(rep, weights=v, minlength=T)

        self.c = red(m / den)  # hazard increment
        self.e = red(m * f / den)
        self.q0 = red(m / den**2)  # variance increment of the cumulative hazard
        self.q1 = red(m * f / den**2)
        self.q2 = red(m * f * f / den**2)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.xbar_star = (self.S1 * self.c[:, None] - self.D1 * self.e[:, None]) / self.wd[
                :, None
            ]
        self.G = self.S1 * self.q0[:, None] - self.D1 * self.q1[:, None]
        self.F = self.S1 * self.q1[:, None] - self.D1 * self.q2[:, None]

    def _cum(self, v):
        T = self.T
        return np.cumsum(
            np.bincount(self.lo, weights=v, minlength=T + 1)
            - np.bincount(self.hi, weights=v, minlength=T + 1)
        )[:T]

    def interval_sum(self, a):
        """Per-row sum of event-indexed ``a`` (T,) or (T, k) over the row's risk interval."""
        P = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
        return P[self.hi] - P[self.lo]

    def martingale(self) -> np.ndarray:
        """``delta_i - exp(eta_i) (C_i - delta_i e_j(i))`` (Efron: a death's own tie group
        contributes ``c - e``), R ``coxph()$residuals``."""
        C = self.interval_sum(self.c)
        res = self.event.astype(float) - self.er * C
        res[self.dead] += self.er[self.dead] * self.e[self.jd]
        return res

    def score(self) -> np.ndarray:
        """Score residuals (n, p) as R ``coxscore2`` / ``agscore3`` (unweighted)."""
        X, er = self.X, self.er
        C = self.interval_sum(self.c)
        Gi = self.interval_sum(self.G)
        L = -er[:, None] * (X * C[:, None] - Gi)
        dd, jd = self.dead, self.jd
        L[dd] += X[dd] - self.xbar_star[jd] + er[dd, None] * (X[dd] * self.e[jd, None] - self.F[jd])
        return L

    def weighted_info(self, h) -> np.ndarray:
        """``sum_j h_j V_j`` with ``V_j`` the Efron (or Breslow) information at event ``j``."""
        X, r = self.X, self.r
        vv = r * self.interval_sum(self.c * h)
        vv[self.dead] -= r[self.dead] * (self.e * h)[self.jd]
        H = X.T @ (X * vv[:, None])
        S1, D1 = self.S1, self.D1
        Gv = S1 * (self.q0 * h)[:, None] - D1 * (self.q1 * h)[:, None]
        Fv = S1 * (self.q1 * h)[:, None] - D1 * (self.q2 * h)[:, None]
        H = H - S1.T @ Gv + D1.T @ Fv
        return (H + H.T) / 2
