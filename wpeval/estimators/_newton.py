"""One Newton loop for every likelihood fit in the kit (Cox, Fine-Gray, REML for tau^2).

The rules are those of R ``survival::coxph`` (``coxph.control`` and the C routine
``coxfit6.c``), so that the same data give the same answer on every IEEE machine and the same
answer as R:

* **Convergence**: after each Newton step the log-likelihood is evaluated; the fit has converged
  when its relative change from the best value so far is at most ``eps`` (default 1e-9),
  ``|l_new - l_best| <= eps |l_new|`` (R: ``fabs(1 - loglik/newlk) <= eps``), or when the step
  just taken is below ``eps (1 + |beta|)`` in every coordinate (in the scaled coordinates
  below; this catches a log-likelihood of exactly 0, where a relative change is undefined).
  There is no test before the first step (as R).
* **Step halving**: when the log-likelihood falls (or is not finite) the trial point is pulled
  back towards the best point, ``new = (new + h beta) / (h + 1)`` at the ``h``-th successive
  failure (R's rule: 1/2, then 1/6, 1/24, ... of the original step).
* **Iteration cap**: ``iter_max`` (default 20, R's ``iter.max``); when it is reached the best
  point is returned with ``converged=False``.
* **Singular information**: the information is factored by :class:`GeneralisedCholesky`, R's
  ``cholesky2``: a Cholesky decomposition (``H = L D L'``) in column order that *skips* every
  column whose remaining pivot is below ``toler_chol`` times the largest diagonal element
  (default ``toler_chol = machine eps^0.75`` = 1.8e-12, R's ``toler.chol``) -- the column is
  aliased with the columns before it. Aliased columns get a zero Newton step and zero rows
  and columns in the inverse; callers report them as ``NaN`` (R: ``NA``). The test is done on
  the information scaled by the typical size of each parameter (R scales each covariate by
  ``1 / mean|x - mean(x)|``), so it does not depend on the units of the covariates, and a
  Cholesky failure is never used to detect anything.
* **Infinite coefficients** (monotone likelihood): R ``coxph.fit`` flags coefficient ``j``
  when the Newton step still remaining at the returned point, ``|(U I^-1)_j|``, is large. Here
  (scaled coordinates) the rule is ``|(U I^-1)_j| > toler_inf (1 + |beta_j|)`` with
  ``toler_inf = sqrt(eps)`` (3.2e-5). R 3.5's own test is ``> eps`` and
  ``> toler_inf |beta_j|``; the ``1 +`` keeps a coefficient near 0 from being flagged for a
  remaining step of 1e-9. In a converged regular fit the remaining step is of order ``eps``;
  on a monotone likelihood it stays near 1 (the log-likelihood approaches its supremum
  geometrically), so the two are separated by four orders of magnitude whatever the rounding.
  As in R the check is made only after convergence: at the iteration cap the caller just
  warns that the fit did not converge (which coefficients are still moving then depends on
  the path, not on the data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from wpeval.exceptions import ParameterError

MACHINE_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class NewtonControl:
    """Convergence settings of :func:`maximise` (R ``survival::coxph.control``).

    Parameters
    ----------
    eps : float
        Relative change in the log-likelihood that counts as convergence (R ``eps``, 1e-9).
    iter_max : int
        Maximum number of Newton iterations (R ``iter.max``, 20).
    toler_chol : float
        Relative pivot tolerance of the generalised Cholesky decomposition (R ``toler.chol``,
        machine epsilon ^ 0.75).
    toler_inf : float or None
        Threshold of the infinite-coefficient check; ``None`` = ``sqrt(eps)`` (R ``toler.inf``).
    """

    eps: float = 1e-9
    iter_max: int = 20
    toler_chol: float = MACHINE_EPS**0.75
    toler_inf: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.eps, (int, float)) and 0 < self.eps < 1):
            raise ParameterError(f"eps must be a number in (0, 1), got {self.eps!r}")
        if (
            isinstance(self.iter_max, bool)
            or not isinstance(self.iter_max, (int, np.integer))
            or self.iter_max < 0
        ):
            raise ParameterError(f"max_iter must be an integer >= 0, got {self.iter_max!r}")
        if not 0 < self.toler_chol < 1:
            raise ParameterError("toler_chol must be in (0, 1)")
        if self.toler_inf is not None and not self.toler_inf > 0:
            raise ParameterError("toler_inf must be > 0")

    @property
    def inf_tolerance(self) -> float:
        """``toler_inf``, or ``sqrt(eps)`` when not given."""
        return float(np.sqrt(self.eps)) if self.toler_inf is None else float(self.toler_inf)


class GeneralisedCholesky:
    """``S H S = L D L'`` skipping (aliasing) columns with a pivot below ``tol * max diag``.

    R ``survival`` ``cholesky2`` / ``chsolve2`` / ``chinv2`` semantics. ``scale`` holds the
    typical size of each parameter (``S = diag(scale)``); ``alias`` forces columns to be
    treated as aliased (e.g. those found aliased at the start of a fit).
    """

    def __init__(self, H, tol: float, scale=None, alias=None):
        H = np.asarray(H, dtype=np.float64)
        p = H.shape[0]
        self.scale = np.ones(p) if scale is None else np.asarray(scale, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            M = (self.scale[:, None] * H) * self.scale[None, :]  # no scale_i * scale_j product
        M = (M + M.T) / 2
        forced = np.zeros(p, bool) if alias is None else np.asarray(alias, bool).copy()
        diag = np.diag(M)
        ok = np.isfinite(diag) & ~forced
        top = float(np.max(diag[ok], initial=0.0))
        L = np.eye(p)
        d = np.zeros(p)
        singular = np.ones(p, bool)
        if top > 0 and np.all(np.isfinite(M[np.ix_(ok, ok)])):
            cut = top * tol
            A = M.copy()
            for i in range(p):
                piv = A[i, i]
                if forced[i] or not np.isfinite(piv) or piv < cut:
                    continue  # aliased: its column takes no part in the elimination
                singular[i] = False
                d[i] = piv
                a = A[i + 1 :, i].copy()
                a[forced[i + 1 :]] = 0.0
                L[i + 1 :, i] = a / piv
                A[i + 1 :, i + 1 :] -= np.outer(a, a) / piv
        self.L, self.d, self.singular = L, d, singular
        self.rank = int((~singular).sum())

    def solve(self, b) -> np.ndarray:
        """``H^- b`` with zeros for the aliased coordinates (R ``chsolve2``)."""
        k = ~self.singular
        x = np.zeros(len(self.d))
        if k.any():
            Lk = self.L[np.ix_(k, k)]
            y = linalg.solve_triangular(Lk, (self.scale * b)[k], lower=True, unit_diagonal=True)
            x[k] = linalg.solve_triangular(Lk.T, y / self.d[k], lower=False, unit_diagonal=True)
        return self.scale * x

    def inverse(self) -> np.ndarray:
        """Inverse of ``H`` on the non-aliased columns, zero rows / columns for the aliased
        ones (R ``chinv2``)."""
        p = len(self.d)
        k = ~self.singular
        V = np.zeros((p, p))
        if k.any():
            Li = linalg.solve_triangular(
                self.L[np.ix_(k, k)], np.eye(int(k.sum())), lower=True, unit_diagonal=True
            )
            V[np.ix_(k, k)] = (Li.T / self.d[k]) @ Li
        return (self.scale[:, None] * V) * self.scale[None, :]


@dataclass
class NewtonFit:
    """Result of :func:`maximise`.

    ``beta``, ``loglik``, ``score`` and ``info`` belong to the returned point; ``loglik0`` is
    the log-likelihood at the start. ``aliased`` marks parameters found aliased at the start
    (a property of the design: left at their start value), ``infinite`` (only after
    convergence) those whose remaining Newton step says they may be infinite, ``vanished``
    those whose information fell below the pivot tolerance during the fit (a coefficient
    running off to infinity; their rows of ``imat`` are zero and their variance unknown).
    ``imat`` is the generalised inverse of ``info`` (zero rows / columns for aliased);
    ``info0`` the information at the start and ``scale`` the parameter scale used.
    """

    beta: np.ndarray
    loglik: float
    loglik0: float
    score: np.ndarray
    info: np.ndarray
    imat: np.ndarray
    iterations: int
    converged: bool
    aliased: np.ndarray
    infinite: np.ndarray
    vanished: np.ndarray
    halvings: int
    info0: np.ndarray
    scale: np.ndarray


def _finite(ll, U, H) -> bool:
    return bool(np.isfinite(ll) and np.all(np.isfinite(U)) and np.all(np.isfinite(H)))


def maximise(
    evaluate, beta0, control: NewtonControl | None = None, *, scale=None, lower=None
) -> NewtonFit:
    """Maximise a log-likelihood by Newton-Raphson with R ``coxph``'s rules (module docstring).

    Parameters
    ----------
    evaluate : callable
        ``evaluate(beta) -> (loglik, score, information)``; the information may be the
        expected one (Fisher scoring). A non-finite log-likelihood marks a failed step.
    beta0 : array-like
        Starting point (must give a finite log-likelihood).
    control : NewtonControl, optional
        Convergence settings; default ``NewtonControl()``.
    scale : array-like, optional
        Typical size of each parameter (aliasing, small-step and infinite-coefficient tests
        are made on ``beta / scale``); default 1.
    lower : array-like, optional
        Lower bounds (e.g. 0 for a variance); trial points are projected onto them.

    Returns
    -------
    NewtonFit
    """
    control = NewtonControl() if control is None else control
    beta = np.array(beta0, dtype=np.float64)
    p = len(beta)
    scale = np.ones(p) if scale is None else np.asarray(scale, dtype=np.float64)
    lo = None if lower is None else np.asarray(lower, dtype=np.float64)
    ll, U, H = evaluate(beta)
    ll0, H0 = ll, H
    tol = control.toler_chol
    fac = GeneralisedCholesky(H, tol, scale)
    aliased0 = fac.singular.copy() if _finite(ll, U, H) else np.zeros(p, bool)
    best = (beta, ll, U, H, fac)
    it = halvings = 0
    converged = False
    if control.iter_max > 0 and _finite(ll, U, H):
        new = _project(beta + fac.solve(U), lo)
        halving = 0
        for it in range(1, control.iter_max + 1):  # noqa: B007 - the count is read after the loop
            ll_new, U_new, H_new = evaluate(new)
            ok = _finite(ll_new, U_new, H_new)
            if ok:
                fac_new = GeneralisedCholesky(H_new, tol, scale, alias=aliased0)
                small = np.all(np.abs(new - beta) <= control.eps * (scale + np.abs(beta)))
                if abs(ll_new - ll) <= control.eps * abs(ll_new) or small:
                    best = (new, ll_new, U_new, H_new, fac_new)
                    converged = True
                    break
            if not ok or ll_new < ll:
                halving += 1
                halvings += 1
                new = (new + halving * beta) / (halving + 1.0)
            else:
                halving = 0
                beta, ll = new, ll_new
                best = (new, ll_new, U_new, H_new, fac_new)
                new = _project(new + fac_new.solve(U_new), lo)
        if not converged:
            ll_b, U_b, H_b = evaluate(beta)  # leave the caller's state at the best point
            best = (beta, ll_b, U_b, H_b, GeneralisedCholesky(H_b, tol, scale, alias=aliased0))
    return _finish(best, ll0, H0, aliased0, converged, it, halvings, control, scale)


def _finish(best, ll0, H0, aliased0, converged, it, halvings, control, scale) -> NewtonFit:
    """Inverse information, vanished and possibly infinite coefficients at the returned point."""
    b, ll, U, H, fac = best
    V = fac.inverse()
    vanished = fac.singular & ~aliased0
    with np.errstate(invalid="ignore", over="ignore"):
        remaining = np.abs(U @ V) / scale
        infinite = (
            converged
            & ~aliased0
            & (
                vanished
                | ~np.isfinite(U)
                | (remaining > control.inf_tolerance * (1 + np.abs(b) / scale))
            )
        )
    return NewtonFit(
        beta=b,
        loglik=float(ll),
        loglik0=float(ll0),
        score=U,
        info=H,
        imat=V,
        iterations=it,
        converged=converged,
        aliased=aliased0,
        infinite=infinite,
        vanished=vanished,
        halvings=halvings,
        info0=H0,
        scale=scale,
    )


def _project(x, lower):
    return x if lower is None else np.maximum(x, lower)
