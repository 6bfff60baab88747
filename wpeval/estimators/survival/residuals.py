"""Residuals of a Cox fit, as R ``residuals.coxph(fit, type=)`` (survival 3.x).

Agrees with R to ~1e-12 on right-censored, stratified, weighted and (start, stop] data
(tests/reference/survival_postfit.R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._postcore import RiskSums, cox_data
from wpeval.exceptions import DataContractError, ParameterError

__all__ = ["RESIDUAL_TYPES", "cox_residuals"]

RESIDUAL_TYPES = (
    "martingale",
    "deviance",
    "score",
    "schoenfeld",
    "scaledsch",
    "dfbeta",
    "dfbetas",
)


def cox_residuals(result, type: str = "martingale", *, weighted=None, collapse=None):
    """Residuals of a Cox model fitted by :func:`wpeval.estimators.survival.cox`.

    Definitions (``r_i = exp(x_i' beta)``, ``dH_j`` the Breslow / Efron hazard increment,
    ``xbar_j`` the risk-set mean of ``x`` at event ``j``, Efron: the mean over the ``d_j``
    tie terms of ``(S1 - (k/d) D1) / (S0 - (k/d) D0)``):

    * ``"martingale"``: ``M_i = delta_i - r_i H_i``, ``H_i`` the cumulative hazard over the
      row's (entry, exit] interval (Efron: a death's own tie group contributes its reduced
      share, as R ``coxph()$residuals``);
    * ``"deviance"``: ``sign(M) sqrt(-2 (M + delta log(delta - M)))``;
    * ``"score"``: ``L_i = delta_i (x_i - xbar_j(i)) - r_i sum_{j in risk interval}
      (x_i - xbar_j) dH_j`` with R's Efron terms (``coxscore2`` / ``agscore3``), one row per
      data row and one column per coefficient;
    * ``"schoenfeld"``: ``x_i - xbar_j`` for each event row, ordered by stratum, time, then
      input row;
    * ``"scaledsch"``: ``n_events * s_i V + beta`` (R ``residuals.coxph``'s scaling with the
      model-based ``V``; :func:`ph_test` returns cox.zph's own scaling);
    * ``"dfbeta"``: ``L V`` (approximate change in the coefficients when the row is left
      out), ``"dfbetas"``: ``L V diag(V)^(-1/2)``; ``V`` is the model-based covariance (R
      ``naive.var`` when the fit was robust).

    Assumptions: those of the fitted model; residuals are computed at the fitted
    coefficients. Aliased (NaN) coefficients are left out, as R.

    Parameters
    ----------
    result : EffectTable
        The result of :func:`wpeval.estimators.survival.cox`.
    type : str
        One of :data:`RESIDUAL_TYPES`.
    weighted : bool, optional
        Multiply by the case weights; default as R: ``True`` for ``dfbeta``/``dfbetas``,
        ``False`` otherwise.
    collapse : str or array-like, optional
        Column of the fitted data, or one value per fitted row (e.g. a person id with several
        (start, stop] rows), within which residuals are summed (R ``collapse=``); not for
        Schoenfeld residuals.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``martingale``/``deviance``: a Series indexed like the fitted rows (rows dropped for
        missing values are absent) or by the ``collapse`` values. Matrix types: a DataFrame
        with one column per coefficient; Schoenfeld types have one row per event, indexed by
        the event row's label, with ``time`` (and the strata columns) first. ``.attrs["method"]``
        names the residual.

    Raises
    ------
    ParameterError
        Unknown ``type``, non-bool ``weighted``, ``collapse`` with Schoenfeld residuals.
    DataContractError
        ``collapse`` is not a column of the fitted data or has missing values.
    """
    if type not in RESIDUAL_TYPES:
        raise ParameterError(f"type must be one of {RESIDUAL_TYPES}, got {type!r}")
    if weighted is None:
        weighted = type in ("dfbeta", "dfbetas")
    if not isinstance(weighted, bool):
        raise ParameterError("weighted must be True, False or None")
    fd = cox_data(result)
    if collapse is not None and type in ("schoenfeld", "scaledsch"):
        raise ParameterError("collapse is not defined for Schoenfeld residuals (one per event)")
    groups = _collapse(fd, collapse)
    rs = RiskSums(fd)
    names = [n for n, k in zip(fd.names, fd.kept) if k]
    index = fd.frame.index
    w = fd.weights
    method = f"Cox {type} residuals ({fd.ties} ties; R residuals.coxph)" + (
        ", weighted" if weighted else ""
    )
    if type in ("schoenfeld", "scaledsch"):
        return _schoenfeld(fd, rs, names, type, weighted, method)
    if type in ("martingale", "deviance"):
        m = rs.martingale()
        if weighted:
            m = m * w
        status = fd.event.astype(float)
        if groups is not None:
            m = _rowsum(m, groups)
            status = _rowsum(status, groups)
        out = m.to_numpy() if isinstance(m, pd.Series) else m
        if type == "deviance":
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.where(status == 0, 0.0, status * np.log(status - out))
            out = np.sign(out) * np.sqrt(-2 * (out + lg))
        idx = m.index if isinstance(m, pd.Series) else index
        s = pd.Series(out, index=idx, name=type)
        s.attrs["method"] = method
        return s
    L = rs.score()
    V = np.asarray(fd.vcov_model)[np.ix_(fd.kept, fd.kept)]
    if type in ("dfbeta", "dfbetas"):
        L = L @ V
        if type == "dfbetas":
            L = L / np.sqrt(np.diag(V))
    if weighted:
        L = L * w[:, None]
    df = pd.DataFrame(L, index=index, columns=names)
    if groups is not None:
        df = _rowsum(df, groups)
    df.attrs["method"] = method
    return df


def _collapse(fd, collapse):
    if collapse is None:
        return None
    if isinstance(collapse, str):
        if collapse not in fd.frame.columns:
            raise DataContractError(
                f"collapse column {collapse!r} is not among the fitted rows' columns (when "
                "cox() dropped rows it keeps only the columns it used): pass the values, one "
                "per fitted row",
                column=collapse,
                rule="column_present",
            )
        g = fd.frame[collapse]
    else:
        vals = np.asarray(collapse)
        if vals.ndim != 1 or len(vals) != len(fd.frame):
            raise ParameterError(
                f"collapse must be a column name or {len(fd.frame)} values (one per fitted row)"
            )
        g = pd.Series(vals, index=fd.frame.index)
        collapse = "collapse"
    if g.isna().any():
        raise DataContractError(
            f"collapse column {collapse!r} has missing values",
            column=collapse,
            rule="no_missing",
            examples=fd.frame.index[g.isna().to_numpy()][:5].tolist(),
        )
    return g.to_numpy()


def _rowsum(x, groups):
    """Sums within groups, sorted by group (R ``rowsum``)."""
    obj = pd.DataFrame(x) if isinstance(x, pd.DataFrame) else pd.Series(np.asarray(x))
    obj.index = pd.RangeIndex(len(obj))
    return obj.groupby(groups, sort=True).sum()


def schoenfeld_order(fd, rs) -> np.ndarray:
    """Event rows (positions) ordered by stratum, exit time, input row (R's order)."""
    dead = rs.dead
    return dead[np.lexsort((dead, fd.duration[dead], fd.strata_codes[dead]))]


def _schoenfeld(fd, rs, names, type, weighted, method):
    rows = schoenfeld_order(fd, rs)
    pos = np.searchsorted(rs.dead, rows)
    jd = rs.jd[pos]
    S = rs.X[rows] - rs.xbar_star[jd]
    if weighted:
        S = S * fd.weights[rows, None]
    if type == "scaledsch":
        V = np.asarray(fd.vcov_model)[np.ix_(fd.kept, fd.kept)]
        S = S @ V * len(rs.dead) + rs.beta
    out = pd.DataFrame({"time": fd.duration[rows]}, index=fd.frame.index[rows])
    if fd.strata:
        lab = fd.strata_labels.reset_index(drop=True).iloc[fd.strata_codes[rows]]
        for c in fd.strata:
            out[c] = lab[c].to_numpy()
    for k, n in enumerate(names):
        out[n] = S[:, k]
    out.attrs["method"] = method
    return out
