"""Logistic regression of a binary outcome with average marginal effects: :func:`logit`, and a
sensitivity table setting it beside the linear-probability and design-based estimates:
:func:`binary_sensitivity` (issue 14).

The fit is statsmodels' ``Logit`` (Newton, tolerance 1e-12) with its model-based or clustered
covariance (``cov_type="cluster"``: ``G/(G-1) (n-1)/(n-k)``, R ``sandwich::vcovCL(type =
"HC1")``). The average marginal effects are computed in :mod:`._logit_ames` rather than by
statsmodels' ``get_margeff``: for a numeric regressor the two agree (checked in the tests), but
``get_margeff(dummy=True)`` changes one dummy column at a time, so for a factor with three or
more levels it evaluates rows that belong to two levels at once; R ``margins`` and Stata
``margins`` set the whole factor to each level instead, as here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import as_list, check_alpha, examples, wald_table
from wpeval.estimators._formula import _sample, formula_variables
from wpeval.estimators._logit_ames import _ames
from wpeval.exceptions import DataContractError, DesignError, ParameterError
from wpeval.results import EffectTable

__all__ = ["binary_sensitivity", "logit"]


def _fit(y, X, groups):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    # check_rank=False: skip a QR of X (1.7 s at 2M rows) that only sets df_model/df_resid,
    # read nowhere here (the cluster correction counts columns) and never refused a design
    model = sm.Logit(y, X, check_rank=False)
    kw = {} if groups is None else {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    opts = {"method": "newton", "tol": 1e-12, "maxiter": 200, "disp": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            fit = model.fit(**opts, **kw)
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
        raise DesignError(
            f"logit: the outcome is perfectly predicted by some terms "
            f"(separation) or the design is singular: {exc}"
        ) from exc
    if not fit.mle_retvals.get("converged", True):
        raise DesignError(
            "logit: Newton iterations did not converge in 200 steps; a term may "
            "predict the outcome perfectly (quasi-separation)"
        )
    # llnull by Newton too, not the default Nelder-Mead + BFGS (~50 passes, stops early)
    fit.set_null_options(**opts)
    return fit


def _z_table(names, est, V, alpha, n, **cols):
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    return wald_table(names, est, se, alpha, n, df=np.inf, **cols)


def logit(
    data: pd.DataFrame,
    formula: str,
    *,
    fixed_effects: str | Sequence[str] | None = None,
    clusters: str | None = None,
    alpha: float = 0.05,
    effects: str = "ame",
) -> EffectTable:
    """Logistic regression of a 0/1 outcome, reported as average marginal effects.

    Estimand (``effects="ame"``): for a numeric regressor the average over the sample of the
    derivative of ``P(y = 1 | x)``; for a factor level (or a 0/1 regressor) the average
    discrete change in the fitted probability when every row is set to that level rather than
    the base level, other regressors as observed (R/Stata ``margins``). ``effects="coef"``
    returns the log-odds coefficients instead. Assumes the logit link is right and rows (or
    clusters) are independent.

    Variance: coefficients: inverse information (model-based) or, with ``clusters``, the
    cluster sandwich with ``G/(G-1) (n-1)/(n-k)`` (statsmodels' ``cov_type="cluster"``, R
    ``vcovCL(type = "HC1")``). Marginal effects: delta method ``J V J'`` with the analytic
    Jacobian ``J`` (derivative: ``mean(f'(eta) eta_v x + f(eta) dx/dv)``, ``f = p(1-p)``;
    discrete change: ``mean(f(eta_1) x_1 - f(eta_0) x_0)``). Normal intervals.

    Parameters
    ----------
    data : DataFrame
    formula : str
        ``"job ~ treat + age + C(group)"`` (formulaic syntax). The outcome must be 0/1 or bool.
    fixed_effects : str or list of str, optional
        Factors entered as dummies (not absorbed: a logit has no within transformation;
        with many levels and few rows per level the coefficients suffer the incidental
        parameter bias, so prefer strata with tens of rows). Left out of the output.
    clusters : str, optional
        Cluster column for the covariance.
    alpha : float, default 0.05
    effects : {"ame", "coef"}, default "ame"

    Returns
    -------
    EffectTable
        One row per marginal effect (``kind``: derivative / discrete change) or coefficient;
        ``cov_params()`` gives their covariance; ``extra`` holds the log-likelihood and the
        coefficient table (for ``"ame"``).
    """
    alpha = check_alpha(alpha)
    if effects not in ("ame", "coef"):
        raise ParameterError(f"effects must be 'ame' or 'coef', not {effects!r}")
    if not isinstance(formula, str) or "~" not in formula:
        raise ParameterError(f"formula must be a string 'y ~ x + ...', not {formula!r}")
    from formulaic import Formula

    fes = as_list(fixed_effects)
    f = Formula(formula)
    variables = formula_variables(f)
    frame, dropped, n_dropped = _sample(data, variables, fes, clusters, None)
    outcome = str(f.lhs)
    yv = _binary_outcome(frame, outcome, fes)
    rhs = str(f.rhs) + "".join(f" + C({c})" for c in fes)
    mm = Formula(rhs).get_model_matrix(frame, output="numpy", na_action="raise")
    spec = mm.model_spec
    names = list(spec.column_names)
    # column-major: statsmodels' Logit.hessian ``dot(w * X.T, X)`` then scales contiguous rows
    # of X.T: about 2x faster per Newton step at 2M x 29 than formulaic's row-major matrix
    X = np.asfortranarray(mm, dtype=float)
    del mm  # the row-major copy
    groups = None if clusters is None else pd.factorize(frame[clusters], sort=True)[0]
    fit = _fit(yv, X, groups)
    beta, V = np.asarray(fit.params), np.asarray(fit.cov_params())
    n = len(yv)
    fe_cols = [j for j, nm in enumerate(names) if any(nm.startswith(f"C({c})[") for c in fes)]
    show = [j for j in range(len(names)) if j not in fe_cols]
    coef = _z_table([names[j] for j in show], beta[show], V[np.ix_(show, show)], alpha, n)
    meth = _logit_method(formula, fes, clusters, alpha)
    extra = {
        "n_obs": n,
        "loglik": float(fit.llf),
        "loglik_null": float(fit.llnull),
        "dropped": dropped,
        "n_dropped": n_dropped,
        "n_clusters": None if groups is None else int(groups.max() + 1),
    }
    if effects == "coef":
        extra["vcov"] = V[np.ix_(show, show)].tolist()
        return EffectTable(
            coef, meth, title=f"Logit coefficients (log-odds): {formula}", extra=extra
        )
    rhs_vars = formula_variables(str(f.rhs))
    am_names, kinds, est, Va = _ames(spec, frame, X, beta, V, rhs_vars)
    tab = _z_table(am_names, est, Va, alpha, n, kind=kinds)
    meth = {**meth, "estimator": "logit average marginal effects (delta method)"}
    extra.update({"vcov": Va.tolist(), "coefficients": coef.to_dict(orient="list")})
    return EffectTable(tab, meth, title=f"Logit average marginal effects: {formula}", extra=extra)


def binary_sensitivity(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    covariates: Sequence[str] | None = None,
    blocks=None,
    clusters: str | None = None,
    condition1=None,
    condition2=None,
    alpha: float = 0.05,
) -> EffectTable:
    """One randomised contrast of a binary outcome estimated three ways, side by side.

    Rows: the design-based blocked difference in means (:func:`wpeval.diff_in_means`: the
    estimand the design guarantees); the linear probability model with the blocks absorbed and
    the covariates (:func:`regress`, HC2, or CR2 with ``clusters``); and the logit average
    marginal effect of the same contrast with block dummies and covariates (:func:`logit`).
    With a randomised contrast all three target an average effect on the probability; they
    differ when the effect varies across blocks with unequal allocation shares (the fixed-effect
    regressions weight blocks by allocation variance, the difference in means by size) or when
    covariates explain much of the outcome. A gap larger than the standard errors is a reason
    to report the design-based estimate and look at the blocks.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        0/1 or bool outcome.
    treatment : str
        Allocated condition (two values, or choose with ``condition1``/``condition2``).
    covariates : list of str, optional
        Pre-treatment covariates for the two model-based rows.
    blocks : str or list of str, optional
        Randomisation strata.
    clusters : str, optional
        Cluster column (CR2 for the first two rows, clustered covariance for the logit).
    condition1, condition2 : optional
        Compared conditions (estimate = condition2 - condition1).
    alpha : float, default 0.05

    Returns
    -------
    EffectTable
        Three rows; the column ``method`` names each estimator and its SE. Rows of strata
        whose outcome never varies are left out of the logit (infinite stratum effects) and
        counted in ``extra["logit_rows_dropped"]``.
    """
    from wpeval.estimators.randomised import diff_in_means
    from wpeval.estimators.regression import regress

    alpha = check_alpha(alpha)
    covs = as_list(covariates)
    dim = diff_in_means(
        data,
        outcome,
        treatment,
        blocks=blocks,
        clusters=clusters,
        alpha=alpha,
        condition1=condition1,
        condition2=condition2,
    )
    row = dim.tidy().iloc[0]
    c1, c2 = row["condition1"], row["condition2"]
    keep = data[treatment].isin([c1, c2]).to_numpy()
    work, rhs, blk = _sensitivity_frame(data, outcome, treatment, c2, covs, blocks, clusters, keep)
    lpm = regress(
        work,
        f"_y ~ {rhs}",
        fixed_effects=blk or None,
        se_type="CR2" if clusters else "HC2",
        clusters=clusters,
        alpha=alpha,
    )
    lwork, n_sep = work, 0
    if blk:  # strata whose outcome never varies have infinite logit effects: leave them out
        m = work.groupby(blk[0], observed=True)["_y"].transform("mean")
        sep = ((m == 0) | (m == 1)).to_numpy()
        lwork, n_sep = work[~sep], int(sep.sum())
    lg = logit(lwork, f"_y ~ {rhs}", fixed_effects=blk or None, clusters=clusters, alpha=alpha)
    tab, meth = _sensitivity_table(dim, lpm, lg, c1, c2, outcome, alpha, covs, n_sep)
    return EffectTable(
        tab,
        meth,
        title=f"Binary outcome {outcome}: {c2} - {c1}, three ways",
        extra={"n_obs": int(row["n"]), "logit_rows_dropped": n_sep},
    )


def _binary_outcome(frame, outcome, fes) -> np.ndarray:
    """The logit outcome as 0.0/1.0; refuses other values and a fixed-effect level whose
    outcome never varies (separation)."""
    yv = pd.to_numeric(
        frame[outcome].astype(float) if frame[outcome].dtype == bool else frame[outcome],
        errors="coerce",
    ).to_numpy(dtype=float)
    bad = ~np.isin(yv, (0.0, 1.0))
    if bad.any():
        raise DataContractError(
            f"logit outcome {outcome!r} must be 0/1: {int(bad.sum())} rows "
            f"are not, e.g. rows {examples(frame, bad)}",
            column=outcome,
            rule="binary",
        )
    for c in fes:  # a stratum whose outcome never varies has an infinite coefficient
        m = pd.Series(yv).groupby(frame[c].to_numpy()).mean()
        const = m.index[(m == 0) | (m == 1)].tolist()
        if const:
            raise DesignError(
                f"logit: the outcome {outcome!r} is constant within "
                f"{len(const)} level(s) of the fixed effect {c!r} (separation: "
                f"infinite coefficient), e.g. {const[:5]}; drop those rows or "
                "merge the levels"
            )
    return yv


def _logit_method(formula, fes, clusters, alpha) -> dict:
    """The methods record of a logit fit."""
    se_name = "cluster (G/(G-1) (n-1)/(n-k))" if clusters else "model (inverse information)"
    design = "; ".join(
        x
        for x in (
            f"fixed effects as dummies: {' + '.join(fes)}" if fes else "",
            f"clusters: {clusters}" if clusters else "",
        )
        if x
    )
    return {
        "estimator": "logit (maximum likelihood, statsmodels)",
        "se_type": se_name,
        "ci_method": "normal (Wald)",
        "design": design or "independent rows",
        "alpha": alpha,
        "formula": formula,
        "fixed_effects": fes or None,
        "clusters": clusters,
        "reference": "R glm + sandwich::vcovCL; margins (by hand)",
    }


def _sensitivity_frame(data, outcome, treatment, c2, covs, blocks, clusters, keep):
    """The rows of the two conditions with ``_y`` (outcome), ``_treat`` (0/1) and, for several
    blocks, one stratum factor ``_block``; returns the frame, the right-hand side and the
    stratum columns."""
    work = data.loc[
        keep,
        [
            c
            for c in dict.fromkeys(
                [outcome, treatment] + covs + as_list(blocks) + as_list(clusters)
            )
        ],
    ].copy()
    work["_y"] = work[outcome].astype(float)
    work["_treat"] = (work[treatment] == c2).astype(float)
    rhs = " + ".join(["_treat"] + covs)
    blk = as_list(blocks)
    if len(blk) > 1:  # one stratum factor for the regressions
        work["_block"] = work[blk].astype(str).agg("|".join, axis=1)
        blk = ["_block"]
    return work, rhs, blk


def _sensitivity_table(dim, lpm, lg, c1, c2, outcome, alpha, covs, n_sep):
    """The three estimates side by side and the methods record."""
    rows = [
        (
            "design-based difference in means",
            dim.tidy().iloc[0],
            f"{dim.method['estimator']}; SE {dim.method['se_type']}",
        ),
        (
            "linear probability model",
            lpm["_treat"],
            f"least squares, strata absorbed; SE {lpm.method['se_type']}",
        ),
        (
            "logit average marginal effect",
            lg["_treat"],
            f"logit AME, strata as dummies; SE delta method ({lg.method['se_type']})",
        ),
    ]
    cols = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "df", "n"]
    tab = pd.DataFrame([{"term": t, **{c: r[c] for c in cols}, "method": m} for t, r, m in rows])
    tab["condition1"], tab["condition2"], tab["outcome"] = c1, c2, outcome
    meth = {
        "estimator": "sensitivity: design-based vs linear probability vs logit",
        "se_type": "per row (see column method)",
        "ci_method": "per row",
        "design": dim.method["design"],
        "alpha": alpha,
        "covariates": covs or None,
    }
    if n_sep:
        meth["notes"] = (
            f"logit row: {n_sep} rows in strata with a constant outcome left out "
            "(their fitted probabilities would be 0 or 1, with no marginal effect)"
        )
    return tab, meth
