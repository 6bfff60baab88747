"""Kaplan-Meier curves of every stratum x prime cell in one pass, read at the horizons
(:mod:`wpeval.estimators.survival.blocked`)."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._blocks import _group_cumsum
from wpeval.estimators.survival.km import km_blocks


class _CellCurves:
    """Kaplan-Meier curves of every cell (stratum x prime) in one pass, with what the horizons
    need: the survival, the finite Greenwood sum, the area under the curve to each distinct
    time, and the RMST variance sums ``sum hh``, ``sum hh a``, ``sum hh a^2``."""

    def __init__(self, duration, event, code, n_code):
        b = km_blocks(duration, event, code)
        c, t, s = b["code"], b["time"], b["surv"]
        new = np.ones(len(c), dtype=bool)
        new[1:] = c[1:] != c[:-1]
        s_prev = np.where(new, 1.0, np.concatenate([[1.0], s[:-1]]))
        t_prev = np.where(new, 0.0, np.concatenate([[0.0], t[:-1]]))
        area = _group_cumsum(s_prev * (t - t_prev), c)  # integral of S from 0 to t_j
        hh = b["hh"]  # d / (Y (Y - d)) where Y > d, else 0 (R survmean)
        self.code, self.time, self.surv = c, t, s
        self.area = area
        self.gw = _group_cumsum(hh, c)
        self.h1 = _group_cumsum(hh * area, c)
        self.h2 = _group_cumsum(hh * area**2, c)
        self.n_event = b["n_event"]
        self.n_risk = b["n_risk"]
        self.n_at = b["n_at"]
        self.first = np.searchsorted(c, np.arange(n_code), side="left")
        self.n_code = n_code
        self.duration, self.cell = duration, code
        self.n = np.bincount(code, minlength=n_code)

    def at(self, h: float) -> dict:
        """Survival, Greenwood variance, RMST and its variance of every cell at horizon h.

        ``S(h)``; ``Var S(h) = S(h)^2 sum_{t_j <= h, Y_j > d_j} d_j / (Y_j (Y_j - d_j))``;
        ``RMST(h) = int_0^h S``; ``Var RMST(h) = sum_{t_j <= h} A_j^2 hh_j`` with
        ``A_j = int_{t_j}^h S = RMST(h) - a_j`` (R ``survmean``; Klein & Moeschberger 4.5.2),
        expanded as ``R^2 sum hh - 2 R sum hh a + sum hh a^2``. ``at_risk``: rows with
        duration >= h; ``determined``: someone at risk at h or the curve already 0.
        """
        cnt = np.bincount(self.code[self.time <= h], minlength=self.n_code)
        has = cnt > 0
        last = np.where(has, self.first + cnt - 1, 0)
        S = np.where(has, self.surv[last], 1.0)
        G = np.where(has, self.gw[last], 0.0)
        R = np.where(has, self.area[last] + S * (h - self.time[last]), h)
        VR = np.where(has, R**2 * G - 2 * R * self.h1[last] + self.h2[last], 0.0)
        at_risk = np.bincount(
            self.cell, weights=(self.duration >= h).astype(float), minlength=self.n_code
        )
        return {
            "surv": S,
            "var_surv": S**2 * G,
            "rmst": R,
            "var_rmst": np.maximum(VR, 0.0),
            "at_risk": at_risk,
            "determined": (at_risk > 0) | (S <= 0),
        }
