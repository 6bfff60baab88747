"""Proportional-hazards diagnostics: scaled Schoenfeld residuals against (transformed) time.

Free function taking the result of :func:`wpeval.estimators.survival.ph.ph_test` and ``ax=None``;
returns the matplotlib Axes (never calls ``plt.show()``; no pyplot state is used).
"""

from __future__ import annotations

import numpy as np

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = ["plot_ph_residuals"]


def _axes(ax, size=(7, 4.5)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size).add_subplot(1, 1, 1)


def _spline_fit(x, y, df: int, grid):
    """Least-squares natural cubic spline (``df`` degrees of freedom, knots at quantiles of
    ``x``, as R ``plot.cox.zph``'s ``ns(x, df)`` fit) with pointwise +/- 2 SE bands."""
    inner = np.quantile(x, np.linspace(0, 1, df + 1)[1:-1]) if df > 1 else np.array([])
    lo, hi = float(np.min(x)), float(np.max(x))
    knots = np.r_[lo, inner, hi]

    def basis(t):
        # truncated-power natural spline basis (Hastie, Tibshirani & Friedman eq. 5.4-5.5)
        t = np.asarray(t, dtype=float)
        cols = [np.ones_like(t), t]
        K = len(knots)

        def d(k):
            return (np.maximum(t - knots[k], 0) ** 3 - np.maximum(t - knots[-1], 0) ** 3) / (
                knots[-1] - knots[k]
            )

        for k in range(K - 2):
            cols.append(d(k) - d(K - 2))
        return np.column_stack(cols)

    B = basis(x)
    coef, *_ = np.linalg.lstsq(B, y, rcond=None)
    resid = y - B @ coef
    dof = max(len(y) - B.shape[1], 1)
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.pinv(B.T @ B)
    G = basis(grid)
    fit = G @ coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, cov, G))
    return fit, se


def plot_ph_residuals(
    result,
    term: str | None = None,
    ax=None,
    *,
    df: int = 4,
    band: bool = True,
    points: bool = True,
    xlabel: str | None = None,
):
    """Scaled Schoenfeld residuals of one term against transformed time, with a smooth.

    Under proportional hazards the smooth is flat at the Cox coefficient (dashed reference
    line; for a factor, whose residuals combine its dummies weighted by their coefficients,
    at 1); a trend suggests a time-varying effect ``beta(t)`` (Grambsch & Therneau 1994). The
    smooth is a least-squares natural cubic spline with ``df`` degrees of freedom and bands of
    +/- 2 pointwise SEs (as R ``plot.cox.zph``; the bands ignore the residuals' correlation and
    are a visual guide, not a test: see ``result``'s chi-square for that).

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.estimators.survival.ph.ph_test`.
    term : str, optional
        Term to draw (default: the first); one of the result's terms other than ``GLOBAL``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    df : int
        Degrees of freedom of the spline smooth (>= 1; 1 = straight line).
    band : bool
        Shade the +/- 2 SE band around the smooth.
    points : bool
        Draw the residuals.
    xlabel : str, optional
        Default names the transform (``"time (km scale)"``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from wpeval.estimators.survival.ph import ph_residuals

    res = ph_residuals(result)
    terms = [c for c in res.columns if c not in ("time", "transformed_time", "stratum")]
    term = terms[0] if term is None else term
    if term not in terms:
        raise ParameterError(f"unknown term {term!r}; terms are {terms}")
    if not isinstance(df, (int, np.integer)) or df < 1:
        raise ParameterError(f"df must be a positive integer, got {df!r}")
    x = res["transformed_time"].to_numpy(dtype=float)
    y = res[term].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    ax = _axes(ax)
    if points:
        ax.scatter(x, y, s=10, color=colour("muted"), linewidths=0, label="scaled residual")
    if len(np.unique(x)) > df + 1:
        grid = np.linspace(x.min(), x.max(), 200)
        fit, se = _spline_fit(x, y, df, grid)
        ax.plot(grid, fit, color=colour("estimate"), label=f"spline smooth (df={df})")
        if band:
            ax.fill_between(
                grid, fit - 2 * se, fit + 2 * se, color=colour("estimate"), alpha=0.15, lw=0
            )
    row = result.tidy()
    p = row.loc[row["term"] == term, "p_value"]
    factor = bool((row.loc[row["term"] == term, "df"] > 1).any())
    est = result.extra.get("beta", {}).get(term, np.nan)
    if np.isfinite(est):
        ax.axhline(
            est,
            color=colour("reference"),
            ls="--",
            lw=1,
            label="level under PH (1 for a factor)" if factor else "Cox estimate",
        )
    title = f"{term}: PH test p = {float(p.iloc[0]):.3g}" if len(p) else term
    ax.set_title(title)
    ax.set_xlabel(xlabel or f"time ({result.extra.get('transform', '')} scale)")
    ax.set_ylabel(f"{term}: multiplier of its x'beta(t)" if factor else f"beta(t) for {term}")
    ax.legend(frameon=False, fontsize="small")
    return ax
