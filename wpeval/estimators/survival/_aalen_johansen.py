"""Aalen-Johansen cumulative incidence with its infinitesimal-jackknife variance in O(n)
(the computation behind :func:`.competing.cumulative_incidence`, whose docstring gives the
estimand and the variance)."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._blocks import _group_cumprod, _group_cumsum, blocks


class AalenJohansen:
    """The all-cause pieces shared by every cause, over distinct (curve, time) blocks.

    ``surv`` is the all-cause Kaplan-Meier ``S(t)`` per curve, ``s_minus`` its left limit,
    ``A = S(t-)/Y``, ``K = S(t-)/(S(t) Y)`` and ``Q`` the running sum of ``K d/Y``.
    """

    def __init__(self, duration: np.ndarray, ev: np.ndarray, code: np.ndarray):
        b = blocks(duration, (ev > 0).astype(np.float64), code)
        self.b = b
        self.B = len(b["time"])
        cc = self.cc = b["code"]
        Y = self.Y = b["n_risk"].astype(np.float64)
        d = self.d = b["n_event"]
        surv = _group_cumprod(1.0 - d / Y, cc)
        first = np.r_[True, cc[1:] != cc[:-1]]
        s_minus = self.s_minus = np.where(first, 1.0, np.r_[1.0, surv[:-1]])
        h = self.h = d / Y
        self.A = s_minus / Y
        with np.errstate(divide="ignore", invalid="ignore"):
            K = self.K = np.where(surv > 0, s_minus / (surv * Y), 0.0)
        self.Q = _group_cumsum(K * h, cc)
        self.n_after = Y - b["n_at"]
        self.ncens = b["n_at"] - d

    def cause(self, ev: np.ndarray, k):
        """Events of cause ``k`` per block, ``F_k`` and its infinitesimal-jackknife SE."""
        b, cc, Y, d = self.b, self.cc, self.Y, self.d
        A, K, Q, h, ncens = self.A, self.K, self.Q, self.h, self.ncens
        dk = np.bincount(b["row_block"], weights=(ev == k).astype(np.float64), minlength=self.B)
        do = d - dk
        hk = dk / Y
        F = _group_cumsum(self.s_minus * hk, cc)
        P = _group_cumsum(A * hk, cc)
        R = _group_cumsum(F * K * h, cc)
        c_cens, e_cens = -P - R, Q
        c_k, e_k = A + F * K - P - R, -K + Q
        c_o, e_o = F * K - P - R, -K + Q
        C2 = _group_cumsum(ncens * c_cens**2 + dk * c_k**2 + do * c_o**2, cc)
        CE = _group_cumsum(ncens * c_cens * e_cens + dk * c_k * e_k + do * c_o * e_o, cc)
        E2 = _group_cumsum(ncens * e_cens**2 + dk * e_k**2 + do * e_o**2, cc)
        v_after = -(P - F * Q + R)
        var = self.n_after * v_after**2 + C2 + 2 * F * CE + F**2 * E2
        se = np.sqrt(np.clip(var, 0, None))
        return dk, F, se


def cif_limits(F: np.ndarray, se: np.ndarray, conf_type: str, z: float):
    """Pointwise CI as R: ``"log"`` ``F exp(-/+ z SE / F)`` (upper capped at 1, NaN where
    ``F = 0``), ``"plain"`` ``F -/+ z SE`` clipped to [0, 1]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            pp = np.where(F == 0, np.nan, F)
            lo = pp * np.exp(-z * se / pp)
            hi = np.minimum(pp * np.exp(z * se / pp), 1.0)
        else:
            lo = np.clip(F - z * se, 0, 1)
            hi = np.clip(F + z * se, 0, 1)
    return lo, hi
