"""Lin (2013) regression adjustment with HC2 errors, as ``estimatr::lm_lin``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import (
    as_list,
    block_examples,
    check_alpha,
    covariate_matrix,
    drop_missing_cov,
    flag_nonfinite,
    method_dict,
    prepare,
    result_row,
    term_name,
)
from wpeval.estimators import se as _se
from wpeval.estimators.randomised._linalg import _HC, _check_hc, _demean, _pinv_rank, _rms
from wpeval.exceptions import DesignError, ParameterError
from wpeval.results import EffectTable


def lin_adjusted(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: Sequence[str] | str | None,
    *,
    blocks=None,
    alpha: float = 0.05,
    condition1=None,
    condition2=None,
    se_type: str = "HC2",
) -> EffectTable:
    """Lin (2013) covariate-adjusted effect estimate (``estimatr::lm_lin``).

    Model: OLS of ``y`` on ``[1, t, Xc, t * Xc]`` where ``Xc`` are the covariates centred at
    their sample means; the coefficient on ``t`` estimates the SATE. With ``blocks`` the
    block dummies are added to the covariates (centred and interacted, like ``lm_lin`` with
    ``~ x + factor(block)``), i.e. one intercept per block x arm cell.

    Computation (why hand-written: 1,000 block dummies interacted at 2M rows is a ~30 GB dense
    design): by Frisch-Waugh-Lovell the covariate slopes ``theta`` come from the covariates
    demeaned within block x arm cells; the effect is
    ``tau = sum_b (n_b/N) [(ybar_b1 - Wbar_b1 theta) - (ybar_b0 - Wbar_b0 theta)]`` (the
    average over the sample of the fitted contrast, which is the ``t`` coefficient because the
    covariates are centred), a linear function ``sum_i l_i y_i`` of the outcomes.

    Variance: ``se^2 = sum_i l_i^2 e_i^2 / (1 - h_ii)`` (HC2) with leverage
    ``h_ii = 1/n_cell + w_i'(W'W)^+ w_i``; identical to HC2 from the full design. df =
    N - rank (t reference, as estimatr). HC0, HC1 and HC3 are available through
    ``se_type``. Assumes complete randomisation (within blocks); consistent and not less
    precise asymptotically than the difference in means.

    Parameters
    ----------
    data : DataFrame
    outcome, treatment : str
        Outcome (numeric) and allocated-condition columns.
    covariates : list of str or str
        Pre-treatment covariates (numeric, bool, or categorical: dummies for each level but
        the first). Rows with a missing covariate are dropped and counted. May be empty if
        ``blocks`` is given.
    blocks : str or list of str, optional
        Randomisation strata (as centred, interacted dummies).
    alpha : float, default 0.05
    condition1, condition2 : optional
        Compared conditions (as :func:`diff_in_means`).
    se_type : {"HC2", "HC0", "HC1", "HC3"}, default "HC2"

    Returns
    -------
    EffectTable
    """
    alpha = check_alpha(alpha)
    if se_type not in _HC:
        raise ParameterError(f"se_type must be one of {_HC}, not {se_type!r}")
    covariates = as_list(covariates)
    if not covariates and blocks is None:
        raise ParameterError("lin_adjusted needs covariates (or blocks)")
    p = prepare(
        data,
        outcome,
        treatment,
        blocks=blocks,
        condition1=condition1,
        condition2=condition2,
        extra=covariates,
    )
    X, names = covariate_matrix(p.frame, covariates)
    p, X = drop_missing_cov(p, X)
    K, cell, ncell, cnt = _lin_cells(p)
    tau, se, N, rank, collinear = _lin_estimate(p, X, K, cell, ncell, cnt, se_type)
    df = float(N - rank)
    tab = result_row(
        term_name(treatment, p.cond1, p.cond2),
        tau,
        se,
        df,
        int(N),
        alpha,
        outcome=outcome,
        condition1=p.cond1,
        condition2=p.cond2,
        n_blocks=p.n_blocks if p.block is not None else np.nan,
    )
    design = "Blocked (block dummies centred and interacted)" if p.block is not None else "Standard"
    meth = method_dict(
        "Lin (2013) regression adjustment",
        se_type,
        "t (df = N - rank)",
        design,
        alpha=alpha,
        covariates=names,
        blocks=as_list(blocks) or None,
        reference="estimatr::lm_lin",
    )
    meth = flag_nonfinite(tab, meth)
    return EffectTable(
        tab,
        meth,
        title=f"Lin-adjusted effect: {outcome}",
        extra={
            "dropped": p.dropped,
            "rank": int(rank),
            "collinear_columns": collinear,
            "vcov": [[se * se]],
        },
    )


def _lin_cells(p):
    """The block x arm cells of Lin's estimator: number of blocks, each row's cell, number of
    cells and cell sizes. Refuses a cell with fewer than two units (HC2 leverage 1)."""
    K = p.n_blocks if p.block is not None else 1
    cell = (p.block * 2 if p.block is not None else 0) + p.z.astype(np.int64)
    ncell = 2 * K
    cnt = np.bincount(cell, minlength=ncell).astype(float)
    if (cnt < 2).any():
        bad = np.flatnonzero((cnt < 2).reshape(K, 2).any(axis=1))
        raise DesignError(
            "every block x arm cell needs at least two units for Lin's "
            "estimator with HC2 errors (leverage 1 otherwise); e.g. person_ids "
            f"{block_examples(p, bad)}"
        )
    return K, cell, ncell, cnt


def _lin_estimate(p, X, K, cell, ncell, cnt, se_type):
    """Lin's estimate from the centred covariates interacted with the arm, within cells:
    returns the effect, its robust SE, N, the rank and the number of collinear columns."""
    Xc = X - X.mean(axis=0) if X.shape[1] else X
    W = np.hstack([Xc, Xc * p.z[:, None]]) if X.shape[1] else Xc
    Wt, Wbar = _demean(W, cell, ncell) if W.shape[1] else (W, np.zeros((ncell, 0)))
    Ginv, r, Ws = _pinv_rank(Wt, ref=W)
    y = p.y
    ybar = np.bincount(cell, weights=y, minlength=ncell) / cnt
    n_b = cnt.reshape(K, 2).sum(axis=1)
    N = n_b.sum()
    wb = n_b / N
    if Ws.shape[1]:
        scale = _rms(Wt)
        scale = np.where(scale > 0, scale, 1.0)
        WbarS = Wbar / scale
        theta = Ginv @ (Ws.T @ y)
        fitted = ybar[cell] + Ws @ theta
        adj = ybar - WbarS @ theta
        g = (
            wb[:, None] * (WbarS.reshape(K, 2, -1)[:, 1, :] - WbarS.reshape(K, 2, -1)[:, 0, :])
        ).sum(axis=0)
        proj = Ws @ Ginv
        lev = 1.0 / cnt[cell] + np.einsum("ij,ij->i", proj, Ws)
        ell_cov = proj @ g
    else:
        fitted = ybar[cell]
        adj = ybar
        lev = 1.0 / cnt[cell]
        ell_cov = 0.0
    a = adj.reshape(K, 2)
    tau = float(np.sum(wb * (a[:, 1] - a[:, 0])))
    sign = np.where(p.z == 1, 1.0, -1.0)
    bidx = p.block if p.block is not None else np.zeros(len(y), dtype=np.int64)
    ell = wb[bidx] * sign / cnt[cell] - ell_cov
    resid = y - fitted
    rank = ncell + r
    _check_hc(lev, int(N), rank, se_type, "lin_adjusted", p)
    se = _se.hc_linear_functional(ell, resid, lev, se_type, rank)
    return tau, se, N, rank, int(W.shape[1] - r)


# ------------------------------------------------------------------------------ IV
