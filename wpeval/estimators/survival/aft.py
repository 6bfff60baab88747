"""Parametric accelerated failure time (AFT) models, as R ``survival::survreg``.

Public functions: :func:`aft` (fit; returns an :class:`AFTResult`, an :class:`EffectTable` with
prediction methods), :func:`predict_survival`, :func:`predict_quantile` and :func:`aft_compare`
(AIC of the four distributions). :func:`wpeval.estimators.survival.projection.project_retention`
uses them to project job retention beyond follow-up.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from wpeval.estimators.survival._common import _examples, as_list, check_alpha, prepare, zcrit
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable

__all__ = [
    "AFTResult",
    "DISTRIBUTIONS",
    "aft",
    "aft_compare",
    "predict_quantile",
    "predict_survival",
]

#: distributions of log T = x'beta + sigma W (W: the standard error distribution)
DISTRIBUTIONS = ("weibull", "lognormal", "loglogistic", "exponential")

_W_NAME = {
    "weibull": "extreme value (minimum)",
    "exponential": "extreme value (minimum), sigma = 1",
    "lognormal": "standard normal",
    "loglogistic": "standard logistic",
}

#: above this many rows ``fitter="auto"`` starts Newton from the intercept-only fit instead of
#: lifelines (at 2M rows x 8 terms: 17.3 s and 1.9 GB through lifelines, 2.7 s and 0.8 GB without)
AUTO_LIFELINES_MAX_ROWS = 200_000

SCALE_TERM = "Log(scale)"
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# ---------------------------------------------------------------------------------- the error law
def _logf_logs(dist: str, z: np.ndarray, event: np.ndarray):
    """Per-row ``g`` = log f_W(z) (events) or log S_W(z) (censored), and ``g'``, ``g''``."""
    ev = event.astype(bool)
    if dist in ("weibull", "exponential"):
        ez = np.exp(z)
        g = np.where(ev, z - ez, -ez)
        g1 = np.where(ev, 1.0 - ez, -ez)
        g2 = -ez
    elif dist == "lognormal":
        logs = special.log_ndtr(-z)
        mills = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - logs)  # phi(z) / S(z)
        g = np.where(ev, -0.5 * z * z - _LOG_SQRT_2PI, logs)
        g1 = np.where(ev, -z, -mills)
        g2 = np.where(ev, -1.0, -mills * (mills - z))
    elif dist == "loglogistic":
        F = special.expit(z)
        S = special.expit(-z)
        g = np.where(ev, special.log_expit(z) + special.log_expit(-z), special.log_expit(-z))
        g1 = np.where(ev, 1.0 - 2.0 * F, -F)
        g2 = np.where(ev, -2.0 * F * S, -F * S)
    else:  # pragma: no cover - checked by the caller
        raise ParameterError(f"unknown distribution {dist!r}")
    return g, g1, g2


def _log_cumhaz(dist: str, z: np.ndarray):
    """``log H_W(z)`` (H = -log S) and ``d log H / dz`` for the standard error law."""
    if dist in ("weibull", "exponential"):
        return z.copy(), np.ones_like(z)
    if dist == "lognormal":
        logs = special.log_ndtr(-z)
        H = -logs
        with np.errstate(divide="ignore"):
            logH = np.where(H > 1e-300, np.log(np.maximum(H, 1e-300)), special.log_ndtr(z))
        hz = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - logs)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(H > 1e-300, hz / np.maximum(H, 1e-300), 1.0)
        return logH, d
    # loglogistic: H = log(1 + e^z)
    H = np.logaddexp(0.0, z)
    with np.errstate(divide="ignore"):
        logH = np.where(H > 1e-300, np.log(np.maximum(H, 1e-300)), z)
        d = np.where(H > 1e-300, special.expit(z) / np.maximum(H, 1e-300), 1.0)
    return logH, d


def _w_quantile(dist: str, p: np.ndarray) -> np.ndarray:
    """Quantile of W: ``F_W^{-1}(p)`` (p = probability of the event by then)."""
    if dist in ("weibull", "exponential"):
        return np.log(-np.log1p(-p))
    if dist == "lognormal":
        return stats.norm.ppf(p)
    return np.log(p) - np.log1p(-p)


def _surv_w(dist: str, z: np.ndarray) -> np.ndarray:
    if dist in ("weibull", "exponential"):
        return np.exp(-np.exp(z))
    if dist == "lognormal":
        return special.ndtr(-z)
    return special.expit(-z)


# --------------------------------------------------------------------- likelihood and Newton
class _Problem:
    """Log-likelihood, score and observed information of one AFT model.

    Parameters ``theta = (beta, log sigma)`` (``beta`` only for the exponential). Contribution
    of row i (weight w_i, z_i = (log t_i - x_i'beta) / sigma):
    events ``w_i [log f_W(z_i) - log sigma - log t_i]``, censored ``w_i log S_W(z_i)``.
    """

    def __init__(self, X, logt, event, w, dist):
        self.X, self.logt, self.event, self.w, self.dist = X, logt, event, w, dist
        self.p = X.shape[1]
        self.fixed_scale = dist == "exponential"
        self.k = self.p + (0 if self.fixed_scale else 1)
        self.jac = float(np.sum(w * event * logt))  # sum of log t over events (time scale)
        self.wd = float(np.sum(w * event))

    def _unpack(self, theta):
        beta = theta[: self.p]
        tau = 0.0 if self.fixed_scale else float(theta[self.p])
        return beta, tau

    def loglik(self, theta) -> float:
        beta, tau = self._unpack(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            z = (self.logt - self.X @ beta) * math.exp(-tau)
            g, _, _ = _logf_logs(self.dist, z, self.event)
            ll = float(self.w @ g) - tau * self.wd - self.jac
        return ll if np.isfinite(ll) else -np.inf

    def derivatives(self, theta):
        """``(loglik, score, information)`` at ``theta``."""
        beta, tau = self._unpack(theta)
        sigma = math.exp(tau)
        X, w = self.X, self.w
        with np.errstate(over="ignore", invalid="ignore"):
            z = (self.logt - X @ beta) / sigma
            g, g1, g2 = _logf_logs(self.dist, z, self.event)
        ll = float(w @ g) - tau * self.wd - self.jac
        U = np.empty(self.k)
        U[: self.p] = X.T @ (w * (-g1 / sigma))
        Hbb = (X * (w * g2 / sigma**2)[:, None]).T @ X
        if self.fixed_scale:
            return ll, U, -Hbb
        U[self.p] = float(w @ (-z * g1)) - self.wd
        H = np.empty((self.k, self.k))
        H[: self.p, : self.p] = Hbb
        hbt = X.T @ (w * (g2 * z + g1) / sigma)
        H[: self.p, self.p] = hbt
        H[self.p, : self.p] = hbt
        H[self.p, self.p] = float(w @ (z * g1 + z * z * g2))
        return ll, U, -H


def _solve_step(info, U):
    """Newton step ``info^-1 U``; an eigenvalue floor when ``info`` is not positive definite."""
    try:
        c = np.linalg.cholesky(info)
        return np.linalg.solve(c.T, np.linalg.solve(c, U)), True
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(info)
        floor = max(1e-8 * float(np.max(np.abs(vals), initial=1.0)), 1e-12)
        vals = np.maximum(np.abs(vals), floor)
        return vecs @ ((vecs.T @ U) / vals), False


def _newton(prob: _Problem, theta0, *, tol: float, max_iter: int):
    """Maximise the log-likelihood by Newton-Raphson with step halving.

    Converged when the relative change in the log-likelihood is at most ``tol`` (R survreg's
    ``rel.tolerance`` rule) and the scaled step is below 1e-6, after a full Newton step on a
    positive-definite information; or when the scaled step is below 1e-12.
    """
    theta = np.asarray(theta0, dtype=float).copy()
    ll, U, info = prob.derivatives(theta)
    if not np.isfinite(ll):
        raise DesignError("the log-likelihood is not finite at the starting values")
    it, converged = 0, False
    while it < max_iter:
        it += 1
        step, pd_ok = _solve_step(info, U)
        new = theta + step
        ll_new = prob.loglik(new)
        halvings = 0
        while not (ll_new >= ll - 1e-12 * abs(ll)) and halvings < 40:
            step = step / 2
            new = theta + step
            ll_new = prob.loglik(new)
            halvings += 1
        if not np.isfinite(ll_new):  # pragma: no cover - halving always recovers
            break
        size = float(np.max(np.abs(step) / (1 + np.abs(theta)), initial=0.0))
        # a relative log-likelihood change below tol is taken as convergence only once the
        # step is small enough (1e-6) for the quadratic convergence to have done its work
        rel = abs(ll_new - ll) <= tol * abs(ll_new) and size < 1e-6
        small = size < 1e-12
        theta = new
        ll, U, info = prob.derivatives(theta)
        if pd_ok and halvings == 0 and (rel or small):
            converged = True
            break
    return theta, ll, info, it, converged


# ----------------------------------------------------------------------------- design matrix
def _design_spec(frame: pd.DataFrame, covariates: list[str]) -> list[dict]:
    """Covariate coding: numeric / bool as they are; others treatment-coded on their levels."""
    spec = []
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            vals = s.to_numpy(dtype=np.float64)
            bad = ~np.isfinite(vals)
            if bad.any():
                raise DataContractError(
                    "covariate has infinite values",
                    column=c,
                    rule="finite",
                    examples=frame.index[bad][:5].tolist(),
                )
            spec.append({"column": c, "kind": "numeric", "levels": None})
            continue
        cat = pd.Categorical(s).remove_unused_categories()
        levels = list(cat.categories)
        if len(levels) < 2:
            raise ParameterError(f"covariate {c!r} has a single level ({levels}); drop it")
        spec.append({"column": c, "kind": "categorical", "levels": levels})
    return spec


def _term_names(spec: list[dict]) -> list[str]:
    names = ["Intercept"]
    for part in spec:
        if part["kind"] == "numeric":
            names.append(part["column"])
        else:
            names.extend(f"{part['column']}[T.{lev}]" for lev in part["levels"][1:])
    return names


def _build(frame: pd.DataFrame, spec: list[dict], id_col=None, data=None) -> np.ndarray:
    """The n x p design (intercept first), columns in the order of :func:`_term_names`."""
    n = len(frame)
    width = 1 + sum(1 if s["kind"] == "numeric" else len(s["levels"]) - 1 for s in spec)
    X = np.empty((n, width), order="F")
    X[:, 0] = 1.0
    j = 1
    for part in spec:
        c = part["column"]
        s = frame[c]
        if part["kind"] == "numeric":
            if not (pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s)):
                raise DataContractError(
                    f"covariate {c!r} was numeric in the fit but is {s.dtype} here",
                    column=c,
                    rule="numeric",
                )
            X[:, j] = s.to_numpy(dtype=np.float64)
            j += 1
            continue
        levels = part["levels"]
        codes = pd.Categorical(s, categories=levels).codes
        unseen = (codes < 0) & s.notna().to_numpy()
        if unseen.any():
            raise DataContractError(
                f"covariate {c!r} has levels not seen in the fit (fit levels: {levels[:10]})",
                column=c,
                rule="known_level",
                examples=_examples(frame, unseen, id_col, data),
            )
        for k in range(1, len(levels)):
            X[:, j] = codes == k
            j += 1
    return X


def _no_event_levels(X: np.ndarray, event: np.ndarray, names: list[str]) -> list[str]:
    """Dummy (0/1) columns whose rows with value 1 have no events."""
    out = []
    for j in range(1, X.shape[1]):
        col = X[:, j]
        if "[T." in names[j] and not np.any(event[col == 1] > 0):
            out.append(names[j])
    return out


def _aliased(X: np.ndarray, w: np.ndarray, names: list[str]) -> list[str]:
    """Columns that are (numerically) linear combinations of the columns before them."""
    G = (X * w[:, None]).T @ X
    d = np.sqrt(np.maximum(np.diag(G), 1e-300))
    R = G / np.outer(d, d)
    out = []
    keep: list[int] = []
    for j in range(R.shape[0]):
        if keep:
            A = R[np.ix_(keep, keep)]
            b = R[keep, j]
            resid = R[j, j] - b @ np.linalg.lstsq(A, b, rcond=None)[0]
        else:
            resid = R[j, j]
        if resid < 1e-10 or np.diag(G)[j] == 0:
            out.append(names[j])
        else:
            keep.append(j)
    return out


# --------------------------------------------------------------------------------- lifelines
def _lifelines_start(X, t, event, w, dist, weighted):
    """Starting values from lifelines' AFT fitter (``None`` if it fails)."""
    from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter

    cls, anc, sign = {
        "weibull": (WeibullAFTFitter, "rho_", -1.0),
        "lognormal": (LogNormalAFTFitter, "sigma_", 1.0),
        "loglogistic": (LogLogisticAFTFitter, "beta_", -1.0),
    }[dist]
    p = X.shape[1]
    cols = [f"x{j}" for j in range(1, p)]
    df = pd.DataFrame(X[:, 1:], columns=cols)
    df["_t"], df["_e"] = t, event
    if weighted:
        df["_w"] = w
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = cls().fit(df, "_t", "_e", weights_col="_w" if weighted else None)
    except Exception:  # lifelines raises ConvergenceError and assorted numpy errors
        return None
    par = f.params_
    loc = [k for k in par.index if k[0] != anc][0][0]
    theta = [par[(loc, "Intercept")]] + [par[(loc, c)] for c in cols]
    theta.append(sign * par[(anc, "Intercept")])
    return np.asarray(theta, dtype=float)


# ---------------------------------------------------------------------------------- results
class AFTResult(EffectTable):
    """:class:`EffectTable` of an AFT fit, with :meth:`predict_survival` and
    :meth:`predict_quantile`. ``extra`` holds what prediction needs (coefficients, covariance,
    covariate coding)."""

    def predict_survival(self, times, data: pd.DataFrame, *, alpha: float | None = None):
        """S(t | x) with pointwise intervals; see :func:`predict_survival`."""
        return predict_survival(self, times, data, alpha=alpha)

    def predict_quantile(self, p, data: pd.DataFrame, *, alpha: float | None = None):
        """Quantiles of T | x with intervals; see :func:`predict_quantile`."""
        return predict_quantile(self, p, data, alpha=alpha)

    def __repr__(self) -> str:
        return f"<AFTResult {self.title}: {len(self.table)} term(s)>"


@dataclass(frozen=True)
class _Fit:
    theta: np.ndarray
    loglik: float
    V: np.ndarray
    iterations: int
    converged: bool
    start: str
    start_gap: float | None


def _check_dist(distribution) -> str:
    if distribution not in DISTRIBUTIONS:
        raise ParameterError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    return distribution


def _null_start(logt, event, w, dist):
    """Intercept-only starting values: the exponential MLE of the intercept, log sigma = 0."""
    return np.array([math.log(float(np.sum(w * np.exp(logt))) / float(np.sum(w * event)))])


def _fit(X, logt, event, w, dist, *, fitter, tol, max_iter, weighted, null_fit=None):
    prob = _Problem(X, logt, event, w, dist)
    start, gap, theta0 = "newton", None, None
    n = X.shape[0]
    use_ll = fitter == "lifelines" or (fitter == "auto" and n <= AUTO_LIFELINES_MAX_ROWS)
    if use_ll and dist != "exponential":
        theta0 = _lifelines_start(X, np.exp(logt), event, w, dist, weighted)
        if theta0 is not None:
            start = "lifelines"
        elif fitter == "lifelines":
            warnings.warn(
                "aft: lifelines did not converge; Newton-Raphson started from the "
                "intercept-only fit instead",
                StatisticalWarning,
                stacklevel=4,
            )
    if theta0 is None:
        theta0 = np.zeros(prob.k)
        if null_fit is not None:
            theta0[0] = null_fit[0]
            if prob.k > prob.p:
                theta0[-1] = null_fit[-1]
        else:
            theta0[0] = _null_start(logt, event, w, dist)[0]
    theta, ll, info, it, conv = _newton(prob, theta0, tol=tol, max_iter=max_iter)
    if start == "lifelines":
        gap = float(np.max(np.abs(theta - theta0) / np.maximum(np.abs(theta), 1e-8)))
    try:
        V = np.linalg.inv(info)
    except np.linalg.LinAlgError:  # pragma: no cover - aliased columns are refused earlier
        V = np.full_like(info, np.nan)
    return _Fit(theta, ll, V, it, conv, start, gap)


def aft(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates=None,
    distribution: str = "weibull",
    *,
    alpha: float = 0.05,
    weights: str | None = None,
    fitter: str = "auto",
    tol: float = 1e-12,
    max_iter: int = 50,
    id_col: str | None = "person_id",
) -> AFTResult:
    """Parametric accelerated failure time model, fitted by maximum likelihood as R
    ``survival::survreg``.

    **Estimand.** The conditional distribution of the time to event ``T`` given covariates
    ``x``, through the location-scale model on the log-time scale
    ``log T = x'beta + sigma W``. ``beta_j`` is the change in expected log time per unit of
    ``x_j`` (``exp(beta_j)`` the time ratio, or acceleration factor: the factor by which every
    quantile of ``T`` is multiplied); ``sigma`` is the common scale. ``W`` is standard extreme
    value (minimum) for ``"weibull"`` (shape ``1/sigma``; also proportional hazards with
    hazard ratio ``exp(-beta/sigma)``), the same with ``sigma = 1`` for ``"exponential"``,
    standard normal for ``"lognormal"`` and standard logistic for ``"loglogistic"``
    (proportional odds of survival).

    **Likelihood** (right censoring, case weights ``w_i``, ``z_i = (log t_i - x_i'beta)/sigma``):
    ``l = sum_events w_i [log f_W(z_i) - log sigma - log t_i] + sum_censored w_i log S_W(z_i)``,
    the log-likelihood of the times themselves (R's ``loglik``, so AIC is comparable across
    distributions: ``AIC = -2 l + 2 k``, ``k`` = number of coefficients + 1 for the scale).
    Parameters ``(beta, log sigma)``, as R (``Log(scale)``).

    **Variance.** Model-based: the inverse of the observed information (minus the analytic
    Hessian of ``l`` in ``(beta, log sigma)``) at the maximum, as R ``vcov(survreg)``. Wald
    intervals ``estimate -/+ z_{1-alpha/2} SE`` and two-sided normal p-values (for
    ``Log(scale)`` the test is of ``sigma = 1``).

    **Assumptions.** The distribution is correct (compare with :func:`aft_compare` and the
    Kaplan-Meier curve), covariates act multiplicatively on time with one scale for all rows,
    censoring is independent of the event time given ``x``, and rows are independent (no
    robust or cluster SEs here: use :func:`wpeval.cox` for those).

    **What is lifelines and what is hand-written, and why** (measured on the reference data of
    ``tests/reference/survival_aft.R``):

    - starting values come from lifelines' ``WeibullAFTFitter`` / ``LogNormalAFTFitter`` /
      ``LogLogisticAFTFitter`` (default settings);
    - their optimum is then polished by Newton-Raphson with the analytic score and observed
      information written here, because lifelines stops early: at its defaults (SLSQP,
      ``ftol=1e-10`` on the mean log-likelihood) its coefficients differ from R ``survreg`` by
      up to 1.1e-2 relative (log-logistic on lung: age -0.008165 against R's -0.008080, 0.011
      SE) and its SEs by up to 8.6e-4, with the log-likelihood 1.1e-4 short; its log-normal
      fitter (BFGS) is 1.2e-4 away on rossi, and tightening SLSQP's ``ftol`` to 1e-15 does not
      reach it. After the polish the agreement with R is 3e-11 relative or better
      (``extra["start_gap"]`` records how far the lifelines start was);
    - the exponential model is hand-written entirely: lifelines has no exponential AFT
      regression (its ``ExponentialFitter`` has no covariates). Its likelihood is concave in
      ``beta``, and Newton starts from the closed-form intercept-only MLE;
    - above :data:`AUTO_LIFELINES_MAX_ROWS` rows (``fitter="auto"``) lifelines is skipped and
      Newton starts from the intercept-only fit: at 2M rows x 8 terms (Weibull) ``aft`` takes
      17.3 s and 1.9 GB peak memory through lifelines (lifelines' own fit alone 9.2 s,
      1.4 GB at 6 numeric covariates) against 2.7 s and 0.8 GB from the intercept-only fit;
    - SEs: lifelines' autograd Hessian and the analytic one agree; the analytic one is used
      because it is evaluated at the polished optimum.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    duration : str
        Time to event or censoring; must be > 0 (``log T`` is modelled; R ``survreg`` refuses
        zero times too). Durations recorded as whole days with 0 for "same day" must be
        recoded first (e.g. to 0.5).
    event : str
        1 (or True) = event observed at ``duration``, 0 = right-censored.
    covariates : str or list of str, optional
        Columns of ``x``. Numeric and boolean columns enter as they are; other columns
        (strings, categoricals such as ``prime`` or ``payment_group``) are treatment-coded
        against their first level (R's ``contr.treatment``; the first category of a pandas
        Categorical, otherwise the smallest value), named ``"col[T.level]"`` as
        :func:`wpeval.regress` names them. An intercept is always included (``Intercept``).
    distribution : {"weibull", "lognormal", "loglogistic", "exponential"}
        Distribution of ``T`` given ``x`` (R ``survreg(dist=)``).
    alpha : float
        1 - confidence level of the intervals.
    weights : str, optional
        Column of positive case weights (R ``survreg(weights=)``: each row counts ``w_i``
        times in the likelihood and the information).
    fitter : {"auto", "lifelines", "newton"}
        Where the Newton polish starts: lifelines' fit (``"lifelines"``), the intercept-only
        fit (``"newton"``), or lifelines up to :data:`AUTO_LIFELINES_MAX_ROWS` rows
        (``"auto"``). The exponential model always uses ``"newton"``.
    tol : float
        Convergence: relative change in the log-likelihood at most ``tol`` after a full Newton
        step (R ``survreg.control(rel.tolerance)`` is 1e-9; the default here is tighter).
    max_iter : int
        Newton iteration cap; a :class:`StatisticalWarning` when reached (naming any
        treatment-coded level with no events, whose coefficient is infinite: the estimate
        reported is the finite value reached and its SE is meaningless).
    id_col : str, optional
        Column used to show example rows in error messages.

    Returns
    -------
    AFTResult
        An :class:`EffectTable`: one row per location coefficient (log-time scale) and a last
        row ``Log(scale)`` (not for the exponential), with ``estimate``, ``std_error``,
        ``statistic`` (z), ``p_value``, ``conf_low``, ``conf_high``, ``n``, plus
        ``time_ratio``, ``tr_conf_low``, ``tr_conf_high`` (``exp`` of the coefficient and its
        limits; NaN for ``Intercept`` and ``Log(scale)``). ``extra`` holds ``distribution``,
        ``loglik``, ``loglik_null`` (intercept-only), ``aic``, ``bic``, ``n_params``,
        ``lr_test``, ``scale``, ``n_obs``, ``n_events``, ``n_input``, ``n_dropped``,
        ``dropped_by``, ``vcov`` / ``vcov_terms`` (all parameters, ``Log(scale)`` last),
        ``iterations``, ``converged``, ``may_be_infinite`` (levels without events when the fit
        did not converge), ``start`` and ``start_gap`` and the covariate coding used
        by :meth:`AFTResult.predict_survival`.

    Raises
    ------
    DataContractError
        Missing columns, durations <= 0 or not finite, event codes other than 0/1, weights not
        positive, infinite covariates.
    DesignError
        No events, or covariates that are linear combinations of others (aliased).
    ParameterError
        Unknown distribution or fitter, alpha outside (0, 1), a covariate with one level.
    """
    alpha = check_alpha(alpha)
    dist = _check_dist(distribution)
    if fitter not in ("auto", "lifelines", "newton"):
        raise ParameterError(f"fitter must be 'auto', 'lifelines' or 'newton', got {fitter!r}")
    if not (isinstance(tol, float) and 0 < tol < 1e-3):
        raise ParameterError(f"tol must be a float in (0, 1e-3), got {tol!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ParameterError(f"max_iter must be a positive integer, got {max_iter!r}")
    covariates = as_list(covariates)
    used = covariates + ([weights] if weights else [])
    prep = prepare(data, duration, event, used=used, id_col=id_col, what="aft", timefix=False)
    frame = prep.frame
    nonpos = prep.duration <= 0
    if nonpos.any():
        raise DataContractError(
            f"{int(nonpos.sum())} durations are 0; a parametric AFT model needs times > 0 "
            "(R survreg refuses them too): recode same-day ends (e.g. to 0.5 days) or drop them",
            column=duration,
            rule="duration_positive",
            examples=_examples(frame, nonpos, id_col, data),
        )
    w = np.ones(len(frame))
    if weights:
        w = frame[weights].to_numpy(dtype=np.float64)
        badw = ~np.isfinite(w) | (w <= 0)
        if badw.any():
            raise DataContractError(
                f"{int(badw.sum())} weights are not positive and finite",
                column=weights,
                rule="weights_positive",
                examples=_examples(frame, badw, id_col, data),
            )
    ev = prep.event.astype(np.float64)
    if not np.any(ev > 0):
        raise DesignError(f"aft: no events in {event!r}; the model cannot be fitted")
    spec = _design_spec(frame, covariates)
    names = _term_names(spec)
    X = _build(frame, spec, id_col, data)
    alias = _aliased(X, w, names)
    if alias:
        raise DesignError(
            f"aft: covariate terms {alias} are linear combinations of the terms before them "
            "(or constant); drop them"
        )
    logt = np.log(prep.duration)
    null = _fit(
        X[:, :1], logt, ev, w, dist, fitter="newton", tol=tol, max_iter=max_iter, weighted=True
    )
    if X.shape[1] == 1:
        fit = null
    else:
        fit = _fit(
            X,
            logt,
            ev,
            w,
            dist,
            fitter=fitter,
            tol=tol,
            max_iter=max_iter,
            weighted=bool(weights),
            null_fit=null.theta,
        )
    notes = []
    no_events = _no_event_levels(X, ev, names)
    if not fit.converged:
        why = (
            f"the levels {no_events} have no events: their coefficients are infinite "
            "(monotone likelihood); drop or merge them"
            if no_events
            else "raise max_iter or check the covariates"
        )
        warnings.warn(
            f"aft: Newton-Raphson did not converge in {fit.iterations} iterations; {why}",
            StatisticalWarning,
            stacklevel=2,
        )
        notes.append(f"not converged in {fit.iterations} iterations")
        if no_events:
            notes.append(f"coefficient infinite (no events): {no_events}")
    return _result(
        fit,
        null,
        names,
        spec,
        dist,
        alpha,
        prep,
        frame,
        w,
        ev,
        duration,
        event,
        weights,
        covariates,
        notes,
        no_events if not fit.converged else [],
    )


def _result(
    fit,
    null,
    names,
    spec,
    dist,
    alpha,
    prep,
    frame,
    w,
    ev,
    duration,
    event,
    weights,
    covariates,
    notes,
    may_be_infinite,
) -> AFTResult:
    terms = names + ([] if dist == "exponential" else [SCALE_TERM])
    est = fit.theta
    se = np.sqrt(np.diag(fit.V))
    z = zcrit(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = est / se
    is_cov = np.array([t not in ("Intercept", SCALE_TERM) for t in terms])
    with np.errstate(over="ignore"):
        tr = np.where(is_cov, np.exp(est), np.nan)
        trl = np.where(is_cov, np.exp(est - z * se), np.nan)
        trh = np.where(is_cov, np.exp(est + z * se), np.nan)
    n = len(frame)
    tab = pd.DataFrame(
        {
            "term": terms,
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p_value": 2 * stats.norm.sf(np.abs(stat)),
            "conf_low": est - z * se,
            "conf_high": est + z * se,
            "n": n,
            "time_ratio": tr,
            "tr_conf_low": trl,
            "tr_conf_high": trh,
        }
    )
    k = len(terms)
    lr = 2 * (fit.loglik - null.loglik)
    lr_df = len(names) - 1
    n_events = int(np.sum(ev))
    scale = 1.0 if dist == "exponential" else float(math.exp(est[-1]))
    start_txt = {
        "lifelines": "lifelines AFT fitter for starting values, polished by Newton-Raphson",
        "newton": "Newton-Raphson from the intercept-only fit",
    }[fit.start]
    method = {
        "estimator": f"parametric AFT ({dist}), maximum likelihood as R survreg",
        "se_type": "model-based (observed information)",
        "ci_method": f"Wald normal {100 * (1 - alpha):g}% on the log-time scale (Log(scale): log)",
        "design": (
            f"log T = x'beta + sigma W, W {_W_NAME[dist]}; independent rows, right censoring"
            + (f"; case weights {weights}" if weights else "")
        ),
        "alpha": alpha,
        "distribution": dist,
        "n_events": n_events,
        "n_dropped": prep.n_dropped,
        "dropped_by": dict(prep.dropped_by),
        "notes": "; ".join(
            [
                "estimate = coefficient on log time (time_ratio = exp(estimate)); "
                "Log(scale) = log sigma",
                f"{start_txt} (analytic score and information)",
            ]
            + notes
        ),
    }
    extra = {
        "distribution": dist,
        "loglik": fit.loglik,
        "loglik_null": null.loglik,
        "aic": -2 * fit.loglik + 2 * k,
        "bic": -2 * fit.loglik + math.log(n) * k,
        "n_params": k,
        "lr_test": {"statistic": lr, "df": lr_df, "p_value": float(stats.chi2.sf(lr, lr_df))}
        if lr_df
        else None,
        "scale": scale,
        "vcov": fit.V.tolist(),
        "vcov_terms": terms,
        "coef": est.tolist(),
        "iterations": fit.iterations,
        "converged": fit.converged,
        "may_be_infinite": list(may_be_infinite),
        "start": fit.start,
        "start_gap": fit.start_gap,
        "n_obs": n,
        "n_events": n_events,
        "n_events_weighted": float(np.sum(w * ev)),
        "n_input": prep.n_input,
        "n_dropped": prep.n_dropped,
        "dropped_by": dict(prep.dropped_by),
        "duration": duration,
        "event": event,
        "weights": weights,
        "covariates": list(covariates),
        "coding": [dict(s) for s in spec],
        "max_duration": float(np.max(prep.duration)),
    }
    return AFTResult(
        tab, method, title=f"{dist.capitalize()} AFT model for {duration} ({event})", extra=extra
    )


# -------------------------------------------------------------------------------- prediction
def _pred_setup(result, data, alpha):
    if not isinstance(result, AFTResult):
        raise ParameterError("pass the result of aft()")
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    alpha = result.method["alpha"] if alpha is None else check_alpha(alpha)
    ex = result.extra
    spec = [dict(s) for s in ex["coding"]]
    for s in spec:
        c = s["column"]
        if c not in data.columns:
            raise DataContractError(
                f"column {c!r} is not in the data", column=c, rule="column_present"
            )
        miss = data[c].isna().to_numpy()
        if miss.any():
            raise DataContractError(
                "covariate has missing values; predictions need every covariate",
                column=c,
                rule="not_missing",
                examples=data.index[miss][:5].tolist(),
            )
    X = _build(data, spec)
    theta = np.asarray(ex["coef"], dtype=float)
    V = np.asarray(ex["vcov"], dtype=float)
    return X, theta, V, ex["distribution"], alpha


def _quad(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Row-wise ``x_i' V x_i``."""
    return np.einsum("ij,ij->i", X @ V, X)


def _times_arg(times, what="times") -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ParameterError(f"{what} must be finite numbers >= 0, got {times!r}")
    return t


def predict_survival(result: AFTResult, times, data: pd.DataFrame, *, alpha=None) -> pd.DataFrame:
    """Survival ``S(t | x)`` from an AFT fit for each row of ``data`` at each of ``times``.

    ``S(t | x) = S_W((log t - x'beta) / sigma)``. Pointwise interval by the delta method on the
    log cumulative hazard scale: ``g = log(-log S)``, ``SE(g) = sqrt(grad' V grad)`` with the
    analytic gradient of ``g`` in ``(beta, log sigma)`` and ``V`` the model covariance; the
    limits ``exp(-exp(g +/- z SE))`` always lie in (0, 1) (R ``survfit``'s "log-log" type).
    At ``t = 0``, ``S = 1`` with zero width.

    Parameters
    ----------
    result : AFTResult
        Output of :func:`aft`.
    times : float or sequence of float
        Times (>= 0, the duration's unit), e.g. beyond the follow-up to project.
    data : pandas.DataFrame
        Covariate rows (the fit's covariate columns; categorical levels must be ones seen in
        the fit).
    alpha : float, optional
        1 - confidence level (default: the fit's).

    Returns
    -------
    pandas.DataFrame
        Long: ``row`` (the row label of ``data``), ``time``, ``surv``, ``conf_low``,
        ``conf_high``, ``log_cumhaz``, ``se_log_cumhaz``, ``linear_predictor``; rows of
        ``data`` in order, times in the given order within each row.
    """
    X, theta, V, dist, alpha = _pred_setup(result, data, alpha)
    t = _times_arg(times)
    p = X.shape[1]
    tau = 0.0 if dist == "exponential" else theta[p]
    sigma = math.exp(tau)
    eta = X @ theta[:p]
    n, m = len(eta), len(t)
    with np.errstate(divide="ignore"):
        logt = np.log(t)
    zz = (logt[None, :] - eta[:, None]) / sigma  # n x m
    pos = np.broadcast_to(t[None, :] > 0, zz.shape)
    zsafe = np.where(pos, zz, 0.0)
    logH, dz = _log_cumhaz(dist, zsafe)
    # gradient of log H in (beta, log sigma): (a x, b) with a = -dlogH/dz / sigma and
    # b = -z dlogH/dz; Var = a^2 x'V_bb x + 2 a b x'V_bs + b^2 V_ss (n x m, no n x m x p array)
    a = -dz / sigma
    var = a * a * _quad(X, V[:p, :p])[:, None]
    if dist != "exponential":
        b = -dz * zsafe
        var += 2 * a * b * (X @ V[:p, p])[:, None] + b * b * V[p, p]
    se = np.sqrt(np.maximum(var, 0.0))
    zc = zcrit(alpha)
    surv = np.where(pos, _surv_w(dist, zsafe), 1.0)
    lo = np.where(pos, np.exp(-np.exp(logH + zc * se)), 1.0)
    hi = np.where(pos, np.exp(-np.exp(logH - zc * se)), 1.0)
    out = pd.DataFrame(
        {
            "row": np.repeat(np.asarray(data.index), m),
            "time": np.tile(t, n),
            "surv": surv.ravel(),
            "conf_low": lo.ravel(),
            "conf_high": hi.ravel(),
            "log_cumhaz": np.where(pos, logH, -np.inf).ravel(),
            "se_log_cumhaz": np.where(pos, se, 0.0).ravel(),
            "linear_predictor": np.repeat(eta, m),
        }
    )
    return out


def predict_quantile(result: AFTResult, p, data: pd.DataFrame, *, alpha=None) -> pd.DataFrame:
    """Quantiles of ``T | x`` (e.g. the median, ``p = 0.5``) as R
    ``predict(survreg, type = "quantile", se.fit = TRUE)``.

    ``t_p(x) = exp(x'beta + sigma w_p)`` with ``w_p = F_W^{-1}(p)`` (``p`` = probability that
    the event has happened by ``t_p``). ``se_log`` is the delta-method SE of
    ``log t_p`` (R ``type = "uquantile"``); ``std_error = t_p * se_log`` (R ``type =
    "quantile"``); the interval is ``exp(log t_p -/+ z se_log)``.

    Parameters
    ----------
    result : AFTResult
        Output of :func:`aft`.
    p : float or sequence of float
        Probabilities in (0, 1).
    data : pandas.DataFrame
        Covariate rows.
    alpha : float, optional
        1 - confidence level (default: the fit's).

    Returns
    -------
    pandas.DataFrame
        ``row``, ``p``, ``quantile``, ``std_error``, ``log_quantile``, ``se_log``,
        ``conf_low``, ``conf_high``.
    """
    X, theta, V, dist, alpha = _pred_setup(result, data, alpha)
    pp = np.atleast_1d(np.asarray(p, dtype=float))
    if pp.ndim != 1 or pp.size == 0 or np.any(~(pp > 0) | ~(pp < 1)):
        raise ParameterError(f"p must be probabilities in (0, 1), got {p!r}")
    k = X.shape[1]
    tau = 0.0 if dist == "exponential" else theta[k]
    sigma = math.exp(tau)
    wp = _w_quantile(dist, pp)
    eta = X @ theta[:k]
    uq = eta[:, None] + sigma * wp[None, :]
    n, m = uq.shape
    var = np.repeat(_quad(X, V[:k, :k])[:, None], m, axis=1)
    if dist != "exponential":
        b = sigma * wp  # d log t_p / d log sigma
        var += 2 * (X @ V[:k, k])[:, None] * b[None, :] + (b * b)[None, :] * V[k, k]
    se_u = np.sqrt(np.maximum(var, 0.0))
    q = np.exp(uq)
    zc = zcrit(alpha)
    return pd.DataFrame(
        {
            "row": np.repeat(np.asarray(data.index), m),
            "p": np.tile(pp, n),
            "quantile": q.ravel(),
            "std_error": (q * se_u).ravel(),
            "log_quantile": uq.ravel(),
            "se_log": se_u.ravel(),
            "conf_low": np.exp(uq - zc * se_u).ravel(),
            "conf_high": np.exp(uq + zc * se_u).ravel(),
        }
    )


# ------------------------------------------------------------------------------- comparison
def aft_compare(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates=None,
    distributions=DISTRIBUTIONS,
    *,
    return_fits: bool = False,
    **kwargs,
):
    """Fit :func:`aft` with each distribution and compare them by AIC.

    Parameters
    ----------
    data, duration, event, covariates
        As :func:`aft`.
    distributions : sequence of str
        Distributions to fit (default all four).
    return_fits : bool
        Also return the fits: ``(table, {distribution: AFTResult})``.
    **kwargs
        Passed to :func:`aft` (``weights``, ``alpha``, ``fitter``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per distribution, sorted by AIC: ``distribution``, ``loglik``, ``n_params``,
        ``aic``, ``delta_aic`` (AIC minus the smallest), ``aic_weight`` (Akaike weight
        ``exp(-delta/2)`` normalised), ``bic``, ``scale``, ``n``, ``n_events``,
        ``converged``, ``best`` (True on the smallest AIC). The log-likelihoods are of the times
        themselves, so they are comparable across distributions; exponential is nested in
        Weibull (``Log(scale) = 0``).
    """
    dists = [_check_dist(d) for d in as_list(distributions)]
    if not dists:
        raise ParameterError("distributions must name at least one distribution")
    rows, fits = [], {}
    for d in dists:
        res = aft(data, duration, event, covariates, d, **kwargs)
        fits[d] = res
        ex = res.extra
        rows.append(
            {
                "distribution": d,
                "loglik": ex["loglik"],
                "n_params": ex["n_params"],
                "aic": ex["aic"],
                "bic": ex["bic"],
                "scale": ex["scale"],
                "n": ex["n_obs"],
                "n_events": ex["n_events"],
                "converged": ex["converged"],
            }
        )
    tab = pd.DataFrame(rows).sort_values("aic", kind="stable").reset_index(drop=True)
    tab.insert(4, "delta_aic", tab["aic"] - tab["aic"].min())
    wts = np.exp(-0.5 * tab["delta_aic"].to_numpy())
    tab.insert(5, "aic_weight", wts / wts.sum())
    tab["best"] = np.arange(len(tab)) == 0
    return (tab, fits) if return_fits else tab
