"""Least squares with a formula and absorbed fixed effects: :func:`regress` (issue 14).

The regression-adjusted estimate an evaluator reports beside the design-based ones (e.g. a
prime effect with district x period fixed effects and covariates), with the standard error a
published table used, so it can be checked against that table.

What comes from the libraries and what is written here:

- the design matrix comes from formulaic (as linearmodels and pyfixest build theirs), so term
  names follow the formula: ``treat``, ``a:b``, ``C(x)[T.level]``, ``x[T.level]``;
- without fixed effects, statsmodels' ``OLS(...).fit(cov_type=...)`` gives the same HC0-HC3 and
  Stata-corrected cluster errors (checked in ``tests/estimators/test_regression.py``), but it
  cannot absorb fixed effects (1,080 strata at 2M rows as dummies is a 17 GB design);
- linearmodels' ``AbsorbingLS`` (7.1) absorbs them and, with ``debiased=True``, gives the
  same HC1 as here and estimatr (checked in the tests); but its default
  ``fit(cov_type="robust")`` is HC0, which at 20,000 rows with 1,080 strata and 30 covariates
  is ``sqrt(20000 / 18889) - 1 = 2.9%`` below the HC1 of estimatr and fixest; it has no HC2,
  HC3 or CR2, and at 2M rows with 1,080 strata it took 16-21x as long as this, and 3.9 GB
  more memory against 0.5 GB, in two side-by-side runs (``benchmarks/regression.py``);
- so the within transformation (``_absorb``), the solve and every covariance
  (:mod:`wpeval.estimators.se.regression`) are written here, on the demeaned design only (never
  the dummies), following estimatr's ``lm_robust`` conventions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import linalg, stats
from scipy.linalg import blas

from wpeval._prepare import as_list, check_alpha
from wpeval.estimators._absorb import absorb
from wpeval.estimators._formula import _design, _sample, formula_variables
from wpeval.estimators.se import regression as se_linear
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable

__all__ = ["SE_TYPES", "regress", "regress_variances"]

SE_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1", "CR2")
_ALIAS = {"stata": "CR1", "iid": "classical"}


def _check_args(data, formula, se_type, clusters, weights):
    if not isinstance(data, pd.DataFrame):
        raise ParameterError("data must be a pandas DataFrame")
    if not isinstance(formula, str) or "~" not in formula:
        raise ParameterError(f"formula must be a string 'y ~ x + ...', not {formula!r}")
    se_type = _ALIAS.get(se_type, se_type)
    if se_type not in SE_TYPES:
        raise ParameterError(f"se_type must be one of {SE_TYPES}, not {se_type!r}")
    if se_type.startswith("CR") and clusters is None:
        raise ParameterError(f"se_type={se_type!r} needs clusters=")
    if clusters is not None and not se_type.startswith("CR"):
        raise ParameterError(f"clusters= given with se_type={se_type!r}: use CR0, CR1 or CR2")
    if se_type == "CR2" and weights is not None:
        raise ParameterError("weighted CR2 is not implemented; use CR1 with weights")
    if clusters is not None and not isinstance(clusters, str):
        raise ParameterError("clusters must be one column name")
    if weights is not None and not isinstance(weights, str):
        raise ParameterError("weights must be one column name")
    return se_type


def gram(X: np.ndarray) -> np.ndarray:
    """``X'X`` by BLAS ``dsyrk`` on a column-major ``X`` (one pass; ~20x faster here than
    ``X.T @ X`` on a column-major array, which numpy does not send to ``syrk``)."""
    if X.shape[1] == 0:
        return np.zeros((0, 0))
    G = blas.dsyrk(1.0, np.asfortranarray(X), trans=1, lower=0)
    return np.triu(G) + np.triu(G, 1).T


def _col_norms(X: np.ndarray) -> np.ndarray:
    return np.array([np.sqrt(np.dot(X[:, j], X[:, j])) for j in range(X.shape[1])])


def _rank_columns(G: np.ndarray, ref_norm: np.ndarray) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, in formula order, from the
    Gram matrix ``G = X'X``.

    A column counts as absorbed when its norm after the within transformation is below 1e-9
    of its norm before (a relative test, so the units do not matter); the rest are scaled to
    unit norm and a column is kept while its squared residual on the kept ones exceeds 1e-14
    (R ``lm``'s tolerance 1e-7 on the QR diagonal, squared); the earlier column is kept, as
    in R.
    """
    norm = np.sqrt(np.clip(np.diag(G), 0, None))
    alive = np.flatnonzero(norm > 1e-9 * np.maximum(ref_norm, 1e-300))
    if len(alive) == 0:
        return alive
    Gs = G[np.ix_(alive, alive)] / np.outer(norm[alive], norm[alive])
    keep: list[int] = []
    for j in range(len(alive)):
        cand = keep + [j]
        try:
            c = linalg.cholesky(Gs[np.ix_(cand, cand)], lower=True)
        except linalg.LinAlgError:
            continue
        if c[-1, -1] ** 2 > 1e-14:
            keep.append(j)
    return alive[keep]


def _solve(X: np.ndarray, y: np.ndarray, G: np.ndarray):
    """Coefficients and ``(X'X)^-1`` by Cholesky of the unit-scaled Gram matrix ``G``, with one
    step of iterative refinement (the accuracy of a QR solve for two passes over ``X``)."""
    scale = np.sqrt(np.diag(G))
    scale[scale == 0] = 1.0
    cf = linalg.cho_factor(G / np.outer(scale, scale), lower=True)
    b = linalg.cho_solve(cf, (X.T @ y) / scale)
    r = y - X @ (b / scale)
    b = b + linalg.cho_solve(cf, (X.T @ r) / scale)
    inv = linalg.cho_solve(cf, np.eye(len(scale))) / np.outer(scale, scale)
    return b / scale, (inv + inv.T) / 2


def regress(
    data: pd.DataFrame,
    formula: str,
    *,
    fixed_effects: str | Sequence[str] | None = None,
    se_type: str = "HC2",
    clusters: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
) -> EffectTable:
    """Least squares with a formula, absorbed fixed effects and robust standard errors.

    Estimand: the best linear predictor coefficients of the formula's terms given the fixed
    effects; with a randomised ``treat`` (within the fixed-effect strata) its coefficient is a
    regression-adjusted effect (a variance-weighted average of stratum effects when the effect
    varies and allocation shares differ by stratum; use :func:`wpeval.lin_adjusted` for the
    sample-average effect). Assumes independent rows (HC) or independent clusters (CR).

    Variance: ``se_type`` as in :mod:`wpeval.estimators.se.regression` (estimatr's ``lm_robust``
    conventions): ``classical``, ``HC0``-``HC3``, ``CR0``, ``CR1`` (Stata's factor
    ``G/(G-1) (n-1)/(n-r)``; alias ``"stata"``), ``CR2`` (Bell-McCaffrey, Pustejovsky-Tipton
    df). ``r`` counts the absorbed effects (``sum (levels - 1) + 1``), as estimatr; fixest
    counts them the same way for HC1 but drops effects nested in the clusters from CR1's
    ``r``. HC2, HC3 and CR2 use the leverages of the full design including the fixed-effect
    dummies. Confidence intervals and p-values: t with ``df`` (``n - r`` for classical and HC,
    ``G - 1`` for CR0/CR1, per-coefficient Bell-McCaffrey df for CR2).

    Parameters
    ----------
    data : DataFrame
        One row per unit; not modified.
    formula : str
        ``"y ~ treat + x1 + C(group)"`` (formulaic syntax, as linearmodels and pyfixest). With
        ``fixed_effects`` the intercept is absorbed.
    fixed_effects : str or list of str, optional
        Factor columns whose effects are absorbed (e.g. ``"stratum"``, or
        ``["district", "period"]`` for two-way effects).
    se_type : {"HC2", "classical", "HC0", "HC1", "HC3", "CR0", "CR1", "CR2"}, default "HC2"
    clusters : str, optional
        Cluster column (required by, and only allowed with, the CR types).
    weights : str, optional
        Positive regression weights (weighted least squares). Not with CR2.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    EffectTable
        One row per term (``NaN`` for a term collinear with earlier ones or absorbed by the
        fixed effects, listed in ``extra["collinear"]``); ``extra["vcov"]`` is the covariance
        of the estimated terms (``.cov_params()``); rows dropped for missing values are counted
        by column in ``extra["dropped"]``.
    """
    alpha = check_alpha(alpha)
    se_type = _check_args(data, formula, se_type, clusters, weights)
    return _fit(data, formula, as_list(fixed_effects), [(se_type, clusters)], weights, alpha)[0]


def regress_variances(
    data: pd.DataFrame,
    formula: str,
    specs: Sequence[tuple[str, str | None]],
    *,
    fixed_effects: str | Sequence[str] | None = None,
    alpha: float = 0.05,
) -> list[EffectTable]:
    """:func:`regress` with several standard errors from one fit: the table of
    ``regress(data, formula, fixed_effects=..., se_type=s, clusters=c, alpha=alpha)`` for each
    ``(s, c)`` in ``specs``, with the sample, the design and the within transformation built
    once. When a clusters column has missing values the samples differ, so each is fitted
    separately."""
    alpha = check_alpha(alpha)
    specs = [(_check_args(data, formula, s, c, None), c) for s, c in specs]
    fes = as_list(fixed_effects)
    if any(c is not None and data[c].isna().any() for _, c in specs if c in data):
        return [_fit(data, formula, fes, [sc], None, alpha)[0] for sc in specs]
    return _fit(data, formula, fes, specs, None, alpha)


def _fit(data, formula, fes, specs, weights, alpha):
    """Sample, design, within transformation and solve once; one table per ``(se_type,
    clusters)`` in ``specs`` (their clusters columns observed wherever ``data`` is)."""

    variables = formula_variables(formula)
    clusters_all = list(dict.fromkeys(c for _, c in specs if c is not None))
    frame, dropped, n_dropped = _sample(data, variables, fes, clusters_all, weights)
    M, names, outcome = _design(formula, frame, drop_intercept=bool(fes))
    n = len(M)
    w = None if weights is None else frame[weights].to_numpy(dtype=float)
    if w is not None:
        w = w / w.mean()
    absorbed, fe_rank = None, 0
    ref = _col_norms(M[:, 1:])
    if fes:
        need = any(se in ("HC2", "HC3", "CR2") for se, _ in specs)
        absorbed = absorb(frame, fes, M, w, need_projection=need)
        fe_rank = absorbed.rank
    y, X = M[:, 0], M[:, 1:]
    if w is not None:
        sw = np.sqrt(w)
        y = y * sw
        X *= sw[:, None]
    Gx = gram(X)
    keep = _rank_columns(Gx, ref)
    collinear = [nm for j, nm in enumerate(names) if j not in set(keep.tolist())]
    if collinear:
        warnings.warn(
            f"regress: {collinear} collinear with other terms or absorbed by the "
            "fixed effects; not estimated",
            StatisticalWarning,
            stacklevel=3,
        )
    if len(keep) == 0:
        raise DesignError("no estimable term after the fixed effects are absorbed")
    Xk = X if len(keep) == X.shape[1] else np.asfortranarray(X[:, keep])
    del X
    rank_total = len(keep) + fe_rank
    if n - rank_total <= 0:
        raise DesignError(
            f"{n} rows for {rank_total} parameters leave no residual degrees of freedom"
        )
    beta, bread = _solve(Xk, y, Gx[np.ix_(keep, keep)])
    e = y - Xk @ beta
    info = dict(outcome=outcome, formula=formula, fes=fes, weights=weights)
    info.update(rank_total=rank_total, fe_rank=fe_rank, dropped=dropped)
    info.update(n_dropped=n_dropped, collinear=collinear)
    tables = []
    for se_type, clusters in specs:
        V, df, G = _variance(Xk, e, bread, se_type, n, rank_total, frame, clusters, absorbed)
        tables.append(
            _table(
                names, keep, beta, V, df, alpha, n, G, se_type=se_type, clusters=clusters, **info
            )
        )
    return tables


def _variance(X, e, bread, se_type, n, rank_total, frame, clusters, absorbed):
    k = X.shape[1]
    if se_type == "classical":
        V, df = se_linear.lm_classical(e, bread, n, rank_total)
        return V, np.full(k, df), None
    if se_type.startswith("HC"):
        lev = None
        if se_type in ("HC2", "HC3"):
            fe_lev = absorbed.leverage() if absorbed is not None else None
            lev = se_linear.leverage(X, bread, fe_lev)
            n_one = int(np.sum(lev > 1 - 1e-10))
            if n_one:
                warnings.warn(
                    f"regress: {n_one} row(s) have leverage one (e.g. a fixed-effect "
                    f"level held by one row); they add nothing to the {se_type} "
                    "variance (as estimatr)",
                    StatisticalWarning,
                    stacklevel=4,
                )
        V, df = se_linear.lm_hc(X, e, bread, se_type, n, rank_total, lev)
        return V, np.full(k, df), None
    cl, uniq = pd.factorize(frame[clusters], sort=True)
    G = len(uniq)
    if G < 2:
        raise DesignError(
            f"clusters {clusters!r}: {G} cluster; cluster-robust errors need two or more"
        )
    if se_type == "CR2":
        V, df = se_linear.lm_cr2(X, e, bread, cl, G, absorbed)
        return V, df, G
    V, df = se_linear.lm_cr(X, e, bread, cl, G, se_type, n, rank_total)
    return V, np.full(k, df), G


def _table(
    names,
    keep,
    beta,
    V,
    df,
    alpha,
    n,
    G,
    *,
    outcome,
    formula,
    se_type,
    fes,
    clusters,
    weights,
    rank_total,
    fe_rank,
    dropped,
    n_dropped,
    collinear,
):
    p = len(names)
    est = np.full(p, np.nan)
    se = np.full(p, np.nan)
    dfs = np.full(p, np.nan)
    est[keep] = beta
    se[keep] = np.sqrt(np.clip(np.diag(V), 0, None))
    dfs[keep] = df
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
        crit = stats.t.ppf(1 - alpha / 2, dfs)
    tab = pd.DataFrame(
        {
            "term": names,
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p_value": 2 * stats.t.sf(np.abs(stat), dfs),
            "conf_low": est - crit * se,
            "conf_high": est + crit * se,
            "df": dfs,
            "n": n,
            "outcome": outcome,
        }
    )
    design = []
    if fes:
        design.append("absorbed fixed effects: " + " + ".join(fes))
    if clusters:
        design.append(f"clusters: {clusters} ({G})")
    if weights:
        design.append(f"weights: {weights}")
    df_rule = {
        "classical": "n - r",
        "CR0": "G - 1",
        "CR1": "G - 1",
        "CR2": "Bell-McCaffrey (Pustejovsky-Tipton)",
    }.get(se_type, "n - r")
    se_name = "CR1 (Stata small-sample factor)" if se_type == "CR1" else se_type
    meth = {
        "estimator": "least squares" + (" (weighted)" if weights else ""),
        "se_type": se_name,
        "ci_method": f"t (df = {df_rule})",
        "design": "; ".join(design) or "independent rows",
        "alpha": alpha,
        "formula": formula,
        "fixed_effects": fes or None,
        "clusters": clusters,
        "weights": weights,
        "reference": "estimatr::lm_robust; R lm + sandwich",
    }
    kept = [names[j] for j in keep]
    extra = {
        "vcov": V.tolist(),
        "vcov_terms": kept,
        "n_obs": n,
        "rank": int(rank_total),
        "fe_rank": int(fe_rank),
        "n_clusters": G,
        "dropped": dropped,
        "n_dropped": n_dropped,
        "collinear": collinear,
    }
    title = f"Least squares: {formula}" + (f" | {' + '.join(fes)}" if fes else "")
    return EffectTable(tab, meth, title=title, extra=extra)
