"""Direct standardisation of Cox-predicted survival over a reference population and its delta
method variance (the computation behind :func:`.postfit.adjusted_survival`, whose docstring
gives the estimand and the variance formula)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import ci_surv
from wpeval.estimators.survival._postcore import CoxFitData, RiskSums
from wpeval.estimators.survival._postfit_grid import StepGrid, centred_risk
from wpeval.estimators.survival._postfit_newdata import encode_rows


def level_rows(fd: CoxFitData, ref: pd.DataFrame, group: str, lev):
    """Design matrix and stratum codes of the reference rows with ``group`` set to ``lev``."""
    nd = ref[[c for c in dict.fromkeys(fd.covariates + fd.strata)]].copy()
    nd[group] = lev
    return encode_rows(fd, nd, "data")


def standardised_survival(fd, rs: RiskSums, g: StepGrid, V, X, code, avg, chunk):
    """``S_g(t) = sum_i a_i S_i(t)`` and its delta-method variance on the union of the exit
    times of the reference rows' strata; returns (strata used, times, S_g, var S_g)."""
    Xk, r = centred_risk(fd, rs, X)
    strata_used = np.unique(code)
    times = np.unique(np.concatenate([g.time[g.rows(s)] for s in strata_used]))
    mean_s = np.zeros(len(times))
    a = np.zeros((len(times), rs.p))
    var_base = np.zeros(len(times))
    for s in strata_used:
        H, Vh, Xc = _stratum_steps(g, s, times)
        rows = np.flatnonzero(code == s)
        sr, srx = _accumulate_rows(mean_s, H, r, Xk, avg, rows, chunk, rs.p)
        var_base += Vh * sr**2
        a += srx * H[:, None] - sr[:, None] * Xc
    var = var_base + np.einsum("tj,jk,tk->t", a, V, a)
    return strata_used, times, mean_s, var


def _stratum_steps(g: StepGrid, s, times):
    """Stratum ``s``'s cumulative hazard, its variance term and cumulative mean term at
    ``times`` (0 before the stratum's first exit time)."""
    sl = g.rows(s)
    idx = np.searchsorted(g.time[sl], times, side="right") - 1
    ok = idx >= 0
    ii = np.maximum(idx, 0)
    H = np.where(ok, g.cumhaz[sl][ii], 0.0)
    Vh = np.where(ok, g.cumvar[sl][ii], 0.0)
    Xc = np.where(ok[:, None], g.xcum[sl][ii], 0.0)
    return H, Vh, Xc


def _accumulate_rows(mean_s, H, r, Xk, avg, rows, chunk, p):
    """Add ``sum_i a_i S_i`` over one stratum's ``rows`` to ``mean_s`` (in place, ``chunk``
    rows at a time) and return that stratum's ``sum_i a_i S_i r_i`` and
    ``sum_i a_i S_i r_i x_i``."""
    sr = np.zeros(len(H))  # sum_i a_i 1{s_i=s} S_i r_i
    srx = np.zeros((len(H), p))  # sum_i a_i 1{s_i=s} S_i r_i x_i
    for b in range(0, len(rows), chunk):
        rr = rows[b : b + chunk]
        Si = np.exp(-np.outer(H, r[rr])) * avg[rr]  # (times, rows), a_i S_i
        mean_s += Si.sum(axis=1)
        SR = Si * r[rr]
        sr += SR.sum(axis=1)
        srx += SR @ Xk[rr]
    return sr, srx


def standardised_table(label, g: StepGrid, strata_used, times, mean_s, var, conf_type, z):
    """One adjusted curve's rows: the fitted data's counts at ``times`` (summed over the
    strata used), ``surv``, its SE and pointwise CI on the ``conf_type`` scale."""
    se_s = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = se_s / mean_s
    lo, hi = ci_surv(mean_s, se_log, conf_type, z)
    gt = pd.DataFrame(
        {"t": g.time, "n_risk": g.n_risk, "n_event": g.n_event, "n_censor": g.n_censor}
    )
    gt = gt[np.isin(g.stratum, strata_used)].groupby("t").sum()
    return pd.DataFrame(
        {
            "curve": label,
            "time": times,
            "n_risk": gt["n_risk"].reindex(times).to_numpy(),
            "n_event": gt["n_event"].reindex(times).to_numpy(),
            "n_censor": gt["n_censor"].reindex(times).to_numpy(),
            "surv": mean_s,
            "std_err": se_s,
            "se_cumhaz": se_log,
            "conf_low": lo,
            "conf_high": hi,
        }
    )
