"""Test of proportional hazards after a Cox fit, as R ``cox.zph`` (survival 3.x algorithm).

Agrees with R ``survival`` 3.5 ``cox.zph`` to ~1e-12 (tests/reference/survival_postfit.R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._common import label_strings
from wpeval.estimators.survival._postcore import RiskSums, cox_data
from wpeval.estimators.survival.residuals import schoenfeld_order
from wpeval.exceptions import DesignError, ParameterError
from wpeval.results import EffectTable

__all__ = ["TRANSFORMS", "ph_residuals", "ph_test"]

TRANSFORMS = ("km", "rank", "identity", "log")


def ph_test(result, transform="km", *, terms: bool = True, global_test: bool = True):
    """Score test of proportional hazards for each term and globally (R ``cox.zph``).

    Estimand / null: the coefficient of each term is constant in time. The alternative adds
    ``gamma_k g(t) x_k`` to the linear predictor, ``g`` the centred transformed time
    (``g(t) = f(t) - mean of f over the event rows``; ``f`` = ``transform``).

    Statistic (Grambsch & Therneau 1994 as rewritten in survival 3.0: a score test at
    ``gamma = 0`` with ``beta`` fixed at its estimate, not the older regression of scaled
    residuals on time): with ``U = sum_events w_i g(t_i) (x_i - xbar(t_i))`` (the score for
    ``gamma``) and the ``2p x 2p`` information ``I = sum_j [1, g_j; g_j, g_j^2] (x) V_j`` of the
    augmented model (``V_j`` the Efron / Breslow risk-set covariance of ``x`` at event time
    ``j``), a term with columns ``J`` gets ``chisq = u' I_kk^{-1} u`` with ``u = (0_p, U_J)``
    and ``k`` = all ``beta`` plus ``gamma_J``, ``df = |J|``; ``GLOBAL`` uses all ``gamma``,
    ``df = p``; p-values from chi-square. Assumes the model's other assumptions (independent
    censoring given covariates, correct covariate form).

    Scaled Schoenfeld residuals (for plots, :func:`ph_residuals`): per stratum,
    ``s_i vmean^{-1} + beta``, ``vmean`` the information divided by the number of events in
    the strata where each covariate varies (cox.zph's ``vmean``); for a multi-column term
    (a factor) the residual is ``s_i beta_J`` scaled likewise plus 1.

    Parameters
    ----------
    result : EffectTable
        The result of :func:`wpeval.estimators.survival.cox`.
    transform : {"km", "rank", "identity", "log"} or callable
        Time scale: ``"km"`` (default, as R) = 1 - the left-continuous unweighted Kaplan-Meier
        of all rows (ignoring strata, with delayed entry for (start, stop] data); ``"rank"``
        (average ranks of the exit times), ``"identity"``, ``"log"``; or a function of the
        exit-time array.
    terms : bool
        Test each input covariate as one term (a categorical covariate's dummies jointly,
        R ``terms = TRUE``) or each design column separately.
    global_test : bool
        Add the ``GLOBAL`` row.

    Returns
    -------
    EffectTable
        Rows = terms (and ``GLOBAL``): ``statistic`` = ``chisq``, ``df``, ``p_value``;
        ``estimate`` is NaN (a test, not an estimate). ``extra``: ``transform``, ``var``
        (``vmean^{-1}``, R ``cox.zph()$var``), ``beta`` (per term the level the scaled
        residuals scatter around under proportional hazards: the coefficient, 1 for a factor).

    Raises
    ------
    ParameterError
        Unknown ``transform`` or a callable that does not return one finite value per row.
    DesignError
        No coefficient left to test (all aliased).
    """
    fd = cox_data(result)
    for name, v in (("terms", terms), ("global_test", global_test)):
        if not isinstance(v, bool):
            raise ParameterError(f"{name} must be True or False")
    rs = RiskSums(fd)
    p = rs.p
    if p == 0:
        raise DesignError("no estimated coefficient to test")
    tname, ftime = _transform(fd, transform)
    ev = fd.event.astype(bool)
    gtime = ftime - ftime[ev].mean()
    gj = np.zeros(rs.T)
    gj[rs.jd] = gtime[rs.dead]
    dead, jd, w = rs.dead, rs.jd, fd.weights
    resid = rs.X[dead] - rs.xbar_star[jd]
    U = (w[dead] * gtime[dead]) @ resid
    I11, I12, I22 = (rs.weighted_info(h) for h in (np.ones(rs.T), gj, gj * gj))
    imat = np.block([[I11, I12], [I12.T, I22]])
    kept_idx = np.flatnonzero(fd.kept)
    if terms:
        new = {old: k for k, old in enumerate(kept_idx)}
        tmap = {t: [new[c] for c in cols if c in new] for t, cols in fd.term_map().items()}
        tmap = {t: c for t, c in tmap.items() if c}
    else:
        tmap = {n: [k] for k, n in enumerate(n for n, kk in zip(fd.names, fd.kept) if kk)}
    rows = []
    for t, jj in tmap.items():
        kk = list(range(p)) + [j + p for j in jj]
        u = np.r_[np.zeros(p), U[jj]]
        chisq = float(np.linalg.solve(imat[np.ix_(kk, kk)], u) @ u)
        rows.append((t, chisq, len(jj)))
    if global_test:
        u = np.r_[np.zeros(p), U]
        rows.append(("GLOBAL", float(np.linalg.solve(imat, u) @ u), p))
    tab = pd.DataFrame(rows, columns=["term", "statistic", "df"])
    tab["estimate"] = np.nan
    tab["p_value"] = stats.chi2.sf(tab["statistic"], tab["df"])
    tab["chisq"] = tab["statistic"]
    resids, var = _scaled(fd, rs, I11, tmap, resid, tname, ftime)
    method = {
        "estimator": "score test of proportional hazards: time-by-covariate interaction "
        f"g(t) x with g = {tname} transform of time, beta fixed at the Cox estimate "
        "(R cox.zph, survival 3.x)",
        "se_type": f"information of the augmented partial likelihood at gamma = 0 ({fd.ties} ties)",
        "ci_method": "none (chi-square test)",
        "design": "per term"
        + (" (factors jointly)" if terms else " (each column)")
        + (" and global" if global_test else ""),
    }
    res = EffectTable(
        tab,
        method,
        title="Test of proportional hazards (cox.zph)",
        extra={
            "transform": tname,
            "n_events": len(resids),
            "var": var.tolist(),
            "beta": {t: float(rs.beta[jj[0]]) if len(jj) == 1 else 1.0 for t, jj in tmap.items()},
        },
    )
    object.__setattr__(res, "_ph_residuals", resids)  # not in extra: one row per event
    return res


def ph_residuals(result) -> pd.DataFrame:
    """Scaled Schoenfeld residuals kept by :func:`ph_test` (R ``cox.zph()$y``, ``$x``, ``$time``).

    Parameters
    ----------
    result : EffectTable
        The result of :func:`ph_test`.

    Returns
    -------
    pandas.DataFrame
        One row per event (indexed by the event row's label), ordered by stratum and time as R:
        ``time``, ``transformed_time`` (``g`` before centring, R ``$x``), ``stratum`` (stratified
        models) and one column per term. Under proportional hazards each term's residuals
        scatter around ``result.extra["beta"][term]`` with no trend in time.
    """
    df = getattr(result, "_ph_residuals", None)
    if not isinstance(df, pd.DataFrame):
        raise ParameterError("ph_residuals needs the result of ph_test()")
    out = df.copy()
    out.attrs["method"] = (
        f"scaled Schoenfeld residuals as R cox.zph()$y ({result.extra.get('transform')} time scale)"
    )
    return out


def _transform(fd, transform):
    times = fd.duration
    if callable(transform):
        f = np.asarray(transform(times.copy()), dtype=float)
        if f.shape != times.shape or not np.all(np.isfinite(f)):
            raise ParameterError("transform must return one finite value per fitted row")
        return getattr(transform, "__name__", "user"), f
    if transform not in TRANSFORMS:
        raise ParameterError(f"transform must be one of {TRANSFORMS} or a function")
    if transform == "identity":
        return transform, times.astype(float)
    if transform == "log":
        if np.any(times <= 0):
            raise ParameterError("transform='log' needs positive exit times")
        return transform, np.log(times)
    if transform == "rank":
        return transform, stats.rankdata(times)
    # km: 1 - S(t-) of the unweighted Kaplan-Meier of all rows (R survfitKM on the model's y)
    ev = fd.event.astype(bool)
    et = np.unique(times[ev])
    d = np.bincount(np.searchsorted(et, times[ev]), minlength=len(et))
    n_out = len(times) - np.searchsorted(np.sort(times), et, side="left")
    if fd.entry is not None:
        n_out = n_out - (len(times) - np.searchsorted(np.sort(fd.entry), et, side="left"))
    surv = np.cumprod(1 - d / n_out)
    k = np.searchsorted(et, times, side="left")  # event times strictly before t
    return transform, 1 - np.r_[1.0, surv][k]


def _scaled(fd, rs, I11, tmap, resid, tname, ftime):
    """cox.zph's scaled Schoenfeld residuals (``y``) and ``var``."""
    order = schoenfeld_order(fd, rs)
    if fd.entry is not None:  # cox.zph lists tied events of (start, stop] data in reverse
        d = rs.dead
        order = d[np.lexsort((-d, fd.duration[d], fd.strata_codes[d]))]
    pos = np.searchsorted(rs.dead, order)
    S = resid[pos]
    p = rs.p
    s_dead = fd.strata_codes[order]
    ns = len(fd.strata_labels)
    X = rs.X  # centred design of the estimated columns (constancy is unchanged by centring)
    nd = np.bincount(fd.strata_codes[rs.dead], minlength=ns)
    srt = np.argsort(fd.strata_codes, kind="stable")
    starts = np.searchsorted(fd.strata_codes[srt], np.arange(ns))
    Xs = X[srt]
    varies = np.minimum.reduceat(Xs, starts, axis=0) != np.maximum.reduceat(Xs, starts, axis=0)
    used = np.where(varies, nd[:, None], 0)  # cox.zph ``used``: events where x varies
    beta = rs.beta
    T = np.zeros((p, len(tmap)))
    for i, jj in enumerate(tmap.values()):
        T[jj, i] = 1.0 if len(jj) == 1 else beta[jj]
    wt = np.minimum(used[:, :, None], used[:, None, :]).sum(axis=0)
    vmean = T.T @ (I11 / np.where(wt == 0, 1, wt)) @ T
    used = used[:, [jj[0] for jj in tmap.values()]]
    Y = S @ T
    pattern = used[s_dead] > 0  # per event: the terms scaled in its stratum
    pats, which = np.unique(pattern, axis=0, return_inverse=True)
    for q, pat in enumerate(pats):
        rows = np.flatnonzero(np.ravel(which) == q)
        k = np.flatnonzero(pat)
        Y[np.ix_(rows, k)] = np.linalg.solve(vmean[np.ix_(k, k)], Y[np.ix_(rows, k)].T).T
        Y[np.ix_(rows, np.flatnonzero(~pat))] = np.nan
    for i, jj in enumerate(tmap.values()):
        Y[:, i] += beta[jj[0]] if len(jj) == 1 else 1.0
    out = pd.DataFrame(
        {"time": fd.duration[order], "transformed_time": ftime[order]},
        index=fd.frame.index[order],
    )
    if fd.strata:
        labels = np.asarray(label_strings(fd.strata_labels.reset_index(drop=True)))
        out["stratum"] = labels[s_dead]
    for i, t in enumerate(tmap):
        out[t] = Y[:, i]
    return out, np.linalg.inv(vmean)
