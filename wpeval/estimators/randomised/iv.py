"""Complier average causal effect by two-stage least squares with HC2 errors, as
``estimatr::iv_robust``."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import (
    as_list,
    check_alpha,
    covariate_matrix,
    drop_missing_cov,
    flag_nonfinite,
    method_dict,
    numeric,
    prepare,
    result_row,
)
from wpeval.estimators import se as _se
from wpeval.estimators.randomised._linalg import _HC, _check_hc, _demean, _rms
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable


def iv_effect(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    received: str,
    *,
    covariates: Sequence[str] | str | None = None,
    blocks=None,
    alpha: float = 0.05,
    condition1=None,
    condition2=None,
    se_type: str = "HC2",
) -> EffectTable:
    """Complier average causal effect by two-stage least squares (``estimatr::iv_robust``).

    Estimand: the effect of *receiving* (e.g. ``attached``) among compliers, with the
    random allocation (``treatment`` = condition2 vs condition1) as instrument. Assumes
    randomised allocation, exclusion (allocation affects outcomes only through receipt) and
    monotonicity (Imbens & Angrist 1994).

    Model: ``y = a + b d + c'x + e`` with ``d`` instrumented by ``z``; 2SLS
    ``beta = (Xhat'X)^-1 Xhat'y`` where ``Xhat`` are the first-stage fitted regressors.
    Variance: ``(Xhat'Xhat)^-1 Xhat' Omega Xhat (Xhat'Xhat)^-1`` with structural residuals
    ``e = y - X beta`` and ``Omega`` of type ``se_type``; HC2 uses the leverage of
    ``Xhat`` (estimatr's default). linearmodels' ``IV2SLS(...).fit(cov_type="robust")`` is
    HC0 (``debiased=True``: HC1), reproduced here by ``se_type="HC0"``/``"HC1"``; the
    default HC2 matches estimatr (checked in the reference tests). df = N - k (t reference,
    as estimatr). With ``blocks``, stratum fixed effects are swept out (within-block
    demeaning) and the leverage adds ``1/n_b``. Hand-written because linearmodels has no
    HC2 and its fixed-effect IV needs the dense dummy matrix.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Numeric outcome.
    treatment : str
        Random allocation (the instrument), any two-valued column.
    received : str
        Treatment received (numeric or bool, e.g. ``attached``).
    covariates : list of str, optional
        Exogenous covariates (numeric, bool or categorical).
    blocks : str or list of str, optional
        Strata included as fixed effects.
    alpha : float, default 0.05
    condition1, condition2 : optional
        Allocation conditions (instrument = 1 for condition2).
    se_type : {"HC2", "HC0", "HC1", "HC3"}, default "HC2"

    Returns
    -------
    EffectTable
        The ``received`` term; ``extra["first_stage"]`` holds the first-stage coefficient
        of the instrument, its HC standard error and F statistic (weak instrument warning if
        F < 10).
    """
    alpha = check_alpha(alpha)
    if se_type not in _HC:
        raise ParameterError(f"se_type must be one of {_HC}, not {se_type!r}")
    covariates = as_list(covariates)
    if not isinstance(received, str):
        raise ParameterError("received must be a column name")
    p = prepare(
        data,
        outcome,
        treatment,
        blocks=blocks,
        condition1=condition1,
        condition2=condition2,
        extra=[received] + covariates,
    )
    p, y, Xm, Zm, lev0, k_extra, names = _iv_design(p, received, covariates)
    est, se, k, (f_coef, f_se, f_stat) = _two_stage(p, y, Xm, Zm, lev0, k_extra, se_type)
    N = len(y)
    if f_stat < 10:
        warnings.warn(
            f"weak instrument: first-stage F = {f_stat:.2f} < 10; the CACE and its "
            "interval are unreliable",
            StatisticalWarning,
            stacklevel=2,
        )
    df = float(N - k)
    tab = result_row(
        received,
        est,
        se,
        df,
        N,
        alpha,
        outcome=outcome,
        instrument=treatment,
        condition1=p.cond1,
        condition2=p.cond2,
    )
    meth = method_dict(
        "instrumental variables (2SLS): complier average causal effect",
        se_type,
        "t (df = N - k)",
        "Blocked (fixed effects)" if p.block is not None else "Standard",
        alpha=alpha,
        covariates=names or None,
        blocks=as_list(blocks) or None,
        reference="estimatr::iv_robust",
    )
    meth = flag_nonfinite(tab, meth)
    return EffectTable(
        tab,
        meth,
        title=f"CACE of {received}: {outcome}",
        extra={
            "dropped": p.dropped,
            "first_stage": {"coef": f_coef, "std_error": f_se, "F": f_stat},
            "vcov": [[se * se]],
        },
    )


def _iv_design(p, received, covariates):
    """The outcome and the regressor (``received`` and covariates) and instrument (assignment
    and covariates) matrices, rows with a missing value dropped; within blocks everything is
    demeaned (fixed effects), else an intercept is added. Refuses an instrument or a treatment
    received that does not vary. Returns ``p, y, X, Z, lev0, k_extra, names`` (``lev0``: the
    fixed effects' share of the leverage, ``k_extra``: their number of parameters)."""
    d = numeric(p.frame, received)
    C, names = covariate_matrix(p.frame, covariates)
    M = np.column_stack([d, C]) if C.shape[1] else d[:, None]
    p, M = drop_missing_cov(p, M, "missing_received_or_covariate")
    y, z = p.y, p.z.astype(float)
    N = len(y)
    d, C = M[:, 0], M[:, 1:]
    Xm = np.column_stack([d, C])
    Zm = np.column_stack([z, C])
    lev0 = 0.0
    if p.block is not None:
        B = p.n_blocks
        nb = np.bincount(p.block, minlength=B).astype(float)
        if (nb < 2).any():
            raise DesignError("every block needs at least two units for fixed effects")
        y = y - (np.bincount(p.block, weights=y, minlength=B) / nb)[p.block]
        Xm, _ = _demean(Xm, p.block, B)
        Zm, _ = _demean(Zm, p.block, B)
        lev0 = 1.0 / nb[p.block]
        k_extra = B
    else:
        Xm = np.column_stack([np.ones(N), Xm])
        Zm = np.column_stack([np.ones(N), Zm])
        k_extra = 0
    if np.ptp(Zm[:, 0 if p.block is not None else 1]) == 0:
        raise DesignError("the instrument does not vary (after fixed effects)")
    if np.ptp(Xm[:, 0 if p.block is not None else 1]) == 0:
        raise DesignError(
            f"{received!r} (treatment received) does not vary"
            + (" within blocks" if p.block is not None else "")
            + ": the complier effect is not identified"
        )
    return p, y, Xm, Zm, lev0, k_extra, names


def _two_stage(p, y, Xm, Zm, lev0, k_extra, se_type):
    """2SLS of ``y`` on ``X`` instrumented by ``Z``: the complier effect and its robust SE, the
    number of parameters and the first stage's ``(coef, std_error, F)``."""
    N = len(y)
    # work on columns scaled to unit root mean square: 2SLS is equivariant to the units of
    # the regressors, but pinv / lstsq cut-offs are relative to the largest singular value,
    # so unscaled columns in very different units (a covariate in pence, d * 1e-12) would
    # be treated as collinear and silently dropped
    sx, sz = _rms(Xm), _rms(Zm)
    sx, sz = np.where(sx > 0, sx, 1.0), np.where(sz > 0, sz, 1.0)
    Xs, Zs = Xm / sx, Zm / sz
    pi, *_ = np.linalg.lstsq(Zs, Xs, rcond=None)
    Xhat = Zs @ pi
    bread = np.linalg.pinv(Xhat.T @ Xhat)
    beta = bread @ (Xhat.T @ y)
    resid = y - Xs @ beta
    k = Xm.shape[1] + k_extra
    lev = lev0 + np.einsum("ij,jk,ik->i", Xhat, bread, Xhat)
    _check_hc(lev, N, k, se_type, "iv_effect", p)
    V = _se.hc_vcov(Xhat, resid, bread, se_type, leverage=lev, rank=k)
    j = 0 if p.block is not None else 1
    est, se = float(beta[j] / sx[j]), float(np.sqrt(V[j, j]) / sx[j])
    # first stage: d on the instruments
    zb = np.linalg.pinv(Zs.T @ Zs)
    fs = zb @ (Zs.T @ Xs[:, j])
    fres = Xs[:, j] - Zs @ fs
    flev = lev0 + np.einsum("ij,jk,ik->i", Zs, zb, Zs)
    fV = _se.hc_vcov(Zs, fres, zb, se_type, leverage=flev, rank=Zm.shape[1] + k_extra)
    unit = sx[j] / sz[j]
    f_coef, f_se = float(fs[j] * unit), float(np.sqrt(fV[j, j]) * unit)
    f_stat = float(fs[j] ** 2 / fV[j, j]) if fV[j, j] > 0 else np.inf
    return est, se, k, (f_coef, f_se, f_stat)
