"""The step-function grid the Cox post-fit curves are read from (:mod:`.postfit`).

:class:`StepGrid` lays the risk-set sums of :mod:`._postcore` (recomputed at the fitted
coefficients) on the distinct exit times of each stratum, as R ``survfit.coxph`` does: counts
at risk / events / censorings, the baseline hazard increments and their cumulative sums (hazard,
its variance term and the cumulative covariate-mean term of the Tsiatis variance).
"""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._postcore import CoxFitData, RiskSums, cox_data


class StepGrid:
    """Per-stratum step functions on the distinct exit times of each stratum (R survfit times)."""

    def __init__(self, fd: CoxFitData, rs: RiskSums):
        keys, inv = np.unique(rs.kstop, return_inverse=True)
        self.stratum = keys // rs.width
        self.time = rs.utimes[keys % rs.width - 1]
        w = fd.weights
        n = len(keys)
        ev = rs.event
        self.n_event = np.bincount(inv, weights=w * ev, minlength=n)
        self.n_censor = np.bincount(inv, weights=w * ~ev, minlength=n)
        # weighted number at risk: start < t <= stop (rows of the same stratum)
        lo = (
            np.searchsorted(keys, rs.stratum * rs.width, side="right")
            if fd.entry is None
            else np.searchsorted(
                keys,
                rs.stratum * rs.width + np.searchsorted(rs.utimes, fd.entry) + 1,
                side="right",
            )
        )
        hi = inv + 1
        self.n_risk = np.cumsum(
            np.bincount(lo, weights=w, minlength=n + 1)
            - np.bincount(hi, weights=w, minlength=n + 1)
        )[:n]
        pos = np.searchsorted(keys, rs.ev_keys)
        haz = np.zeros(n)
        vh = np.zeros(n)
        xb = np.zeros((n, rs.p))
        haz[pos], vh[pos], xb[pos] = rs.c, rs.q0, rs.G
        self.haz = haz
        self.cumhaz = self._cum(haz)  # at the covariate means ``rs.center``
        self.cumvar = self._cum(vh)
        self.xcum = self._cum(xb)
        self.bounds = np.searchsorted(self.stratum, np.arange(len(fd.strata_labels) + 1))

    def _cum(self, a):
        """Cumulative sums restarting at each stratum."""
        out = np.cumsum(a, axis=0)
        first = np.r_[True, self.stratum[1:] != self.stratum[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(out)), 0))
        return out - (out[start] - a[start])

    def rows(self, s):
        return slice(self.bounds[s], self.bounds[s + 1])


def fit_grid(result):
    """The fit's data, its risk-set sums at the fitted coefficients and their grid."""
    fd = cox_data(result)
    rs = RiskSums(fd)
    return fd, rs, StepGrid(fd, rs)


def coef_vcov(fd: CoxFitData) -> np.ndarray:
    """Covariance of the estimated (non-aliased) coefficients."""
    keep = fd.kept
    return np.asarray(fd.vcov)[np.ix_(keep, keep)]


def centred_risk(fd: CoxFitData, rs: RiskSums, X: np.ndarray):
    """Per new row: centred x (``x - m``, kept columns) and risk ``r = exp((x - m) beta)``."""
    Xk = X[:, fd.kept] - rs.center
    r = np.exp(Xk @ rs.beta) if rs.p else np.ones(len(X))
    return Xk, r
