"""The stratum-standardised curves of :func:`wpeval.estimators.survival.blocked.blocked_curves`:
per CPA the strata holding every prime, their weights, and each prime's weighted curve read
off the within-stratum Kaplan-Meier curves on a time grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._blocked_cells import _CellCurves
from wpeval.exceptions import ParameterError


def _check_times(times) -> np.ndarray | None:
    if times is None:
        return None
    tt = np.unique(np.asarray(times, dtype=float))
    if not np.all(np.isfinite(tt)) or np.any(tt < 0):
        raise ParameterError("times must be finite and >= 0")
    return tt


def _standardised_curves(dd, cc: _CellCurves, grid, min_n: int, z: float):
    """Table pieces and curve summaries of every prime of every CPA, and the strata used /
    dropped per CPA."""
    P = len(dd.primes)
    n = cc.n.reshape(dd.n_strata, P)
    tables, curves, strata_info = [], [], []
    for ci, cpa_label in enumerate(dd.cpas):
        ss = np.flatnonzero(dd.s_cpa == ci)
        cp = np.flatnonzero((n[ss] > 0).any(axis=0))
        usable = (n[np.ix_(ss, cp)] >= min_n).all(axis=1)
        strata_info.append(
            {
                "cpa": cpa_label,
                "n_strata_cpa": int(len(ss)),
                "n_strata_used": int(usable.sum()),
                "n_dropped": int((~usable).sum()),
            }
        )
        if not usable.any():
            continue
        su = ss[usable]
        w = n[su].sum(axis=1).astype(float)
        w /= w.sum()
        in_cpa = np.isin(dd.stratum, su)
        if grid is None:
            ev_t = dd.duration[in_cpa & (dd.event > 0)]
            g = np.unique(np.concatenate([[0.0], ev_t]))
        else:
            g = grid
        for p in cp:
            table, curve = _prime_curve(dd, cc, cpa_label, p, su, w, g, in_cpa, z)
            tables.append(table)
            curves.append(curve)
    return tables, curves, strata_info


def _prime_curve(dd, cc: _CellCurves, cpa_label, p, su, w, g, in_cpa, z: float):
    """The standardised curve of prime p on grid g (strata su, weights w) and its summary."""
    P = len(dd.primes)
    codes = su * P + p
    S, V, nr, ne, nc = _curves_on_grid(cc, codes, g)
    surv = w @ S
    var = (w**2) @ V
    se = np.sqrt(var)
    label = f"cpa={cpa_label}, prime={dd.primes[p]}"
    with np.errstate(divide="ignore", invalid="ignore"):
        se_ch = np.where(surv > 0, se / surv, np.nan)
    table = pd.DataFrame(
        {
            "curve": label,
            "cpa": cpa_label,
            "prime": dd.primes[p],
            "time": g,
            "n_risk": nr,
            "n_event": ne,
            "n_censor": nc,
            "surv": surv,
            "std_err": se,
            "se_cumhaz": se_ch,
            "conf_low": np.clip(surv - z * se, 0.0, 1.0),
            "conf_high": np.clip(surv + z * se, 0.0, 1.0),
        }
    )
    rows_p = in_cpa & (dd.pcode == p)
    curve = {
        "curve": label,
        "cpa": cpa_label,
        "prime": dd.primes[p],
        "n": int(rows_p.sum()),
        "events": int(dd.event[rows_p].sum()),
        "n_strata": int(len(su)),
    }
    return table, curve


def _curves_on_grid(cc: _CellCurves, codes: np.ndarray, grid: np.ndarray):
    """S and Var S (strata x grid) of the cells ``codes`` and the at-risk / event / censor
    counts summed over them at each grid time."""
    K, G = len(codes), len(grid)
    S = np.ones((K, G))
    V = np.zeros((K, G))
    nr = np.zeros(G)
    ne = np.zeros(G)
    nc = np.zeros(G)
    for i, c in enumerate(codes):
        lo = cc.first[c]
        hi = lo + int(cc.n[c] > 0) * _n_blocks(cc, c)
        t = cc.time[lo:hi]
        idx = np.searchsorted(t, grid, side="right") - 1
        has = idx >= 0
        ii = np.maximum(idx, 0)
        s = cc.surv[lo:hi]
        S[i] = np.where(has, s[ii], 1.0)
        V[i] = np.where(has, s[ii] ** 2 * cc.gw[lo:hi][ii], 0.0)
        j = np.searchsorted(t, grid, side="left")
        nrisk = cc.n_risk[lo:hi]
        nr += np.where(j < len(t), nrisk[np.minimum(j, len(t) - 1)], 0)
        exact = (j < len(t)) & (t[np.minimum(j, len(t) - 1)] == grid)
        jj = np.minimum(j, len(t) - 1)
        ne += np.where(exact, cc.n_event[lo:hi][jj], 0)
        nc += np.where(exact, cc.n_at[lo:hi][jj] - cc.n_event[lo:hi][jj], 0)
    return S, V, nr.astype(np.int64), ne.astype(np.int64), nc.astype(np.int64)


def _n_blocks(cc: _CellCurves, c: int) -> int:
    nxt = cc.first[c + 1] if c + 1 < cc.n_code else len(cc.code)
    return int(nxt - cc.first[c])
