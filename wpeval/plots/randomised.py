"""Plots for the design-based comparisons: a forest plot of prime contrasts and the
randomisation distribution of a test statistic.

Free functions taking a result and ``ax=None``; each returns the matplotlib Axes (never calls
``plt.show()``; a new figure is made with ``matplotlib.figure.Figure``, which needs no
display backend).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = ["plot_contrasts", "plot_randomisation"]


def _axes(ax, height: float, width: float = 8.0):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height)).add_subplot(1, 1, 1)


def plot_contrasts(
    result,
    ax=None,
    *,
    contrast: str | None = None,
    cpa=None,
    significance: str = "p_adjusted",
    alpha: float = 0.05,
    reference: float = 0.0,
):
    """Forest plot of contrasts: estimates with confidence intervals, grouped by CPA.

    Parameters
    ----------
    result : EffectTable or DataFrame
        Output of :func:`wpeval.compare_primes` (or any table with ``term, estimate,
        conf_low, conf_high``; ``cpa`` and ``contrast`` are used when present).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    contrast : {"pairwise", "vs_cpa_average"}, optional
        Plot only one kind of contrast.
    cpa : str or list of str, optional
        Plot only these CPAs.
    significance : str, default "p_adjusted"
        Column whose value below ``alpha`` draws the point filled (others hollow); ignored
        when absent.
    alpha : float, default 0.05
    reference : float, default 0.0
        Position of the vertical reference line (no difference).

    Returns
    -------
    matplotlib.axes.Axes
        One row per contrast (top to bottom in table order), labelled "CPA: A - B";
        filled markers: adjusted p < alpha.
    """
    tab = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    missing = [c for c in ("term", "estimate", "conf_low", "conf_high") if c not in tab]
    if missing:
        raise ParameterError(f"result lacks columns {missing}; pass compare_primes output")
    if contrast is not None:
        if "contrast" not in tab:
            raise ParameterError("the table has no 'contrast' column")
        tab = tab[tab["contrast"] == contrast]
    if cpa is not None:
        wanted = [cpa] if isinstance(cpa, str) else list(cpa)
        tab = tab[tab["cpa"].isin(wanted)]
    if tab.empty:
        raise ParameterError("nothing to plot after filtering")
    tab = tab.reset_index(drop=True)
    n = len(tab)
    ax = _axes(ax, height=max(2.5, 0.32 * n + 1.2))
    ypos = np.arange(n)[::-1]
    labels = (
        (tab["cpa"].astype(str) + ": " + tab["term"].astype(str))
        if "cpa" in tab
        else tab["term"].astype(str)
    )
    sig = (tab[significance] < alpha).to_numpy() if significance in tab else np.ones(n, bool)
    ax.hlines(ypos, tab["conf_low"], tab["conf_high"], color=colour("interval"), linewidth=1.4)
    ax.scatter(
        tab["estimate"][sig],
        ypos[sig],
        color=colour("ink"),
        zorder=3,
        s=28,
        label=f"{significance} < {alpha}" if significance in tab else None,
    )
    if (~sig).any():
        ax.scatter(
            tab["estimate"][~sig],
            ypos[~sig],
            facecolor=colour("paper"),
            edgecolor=colour("ink"),
            zorder=3,
            s=28,
            label=f"{significance} >= {alpha}",
        )
    ax.axvline(reference, color=colour("reference"), linestyle="--", linewidth=1)
    if "cpa" in tab:  # light separators between CPAs
        change = np.flatnonzero(tab["cpa"].to_numpy()[1:] != tab["cpa"].to_numpy()[:-1])
        for i in change:
            ax.axhline(ypos[i] - 0.5, color=colour("light"), linewidth=0.8)
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    level = (
        getattr(result, "method", {}).get("alpha", alpha) if hasattr(result, "method") else alpha
    )
    ax.set_xlabel(f"difference (estimate and {100 * (1 - level):.0f}% confidence interval)")
    if significance in tab:
        ax.legend(loc="best", fontsize=8, frameon=False)
    return ax


def plot_randomisation(result, ax=None, *, outcome: str | None = None, bins: int = 40):
    """Histogram of the randomisation distribution with the observed statistic.

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.randomisation_test`.
    ax : matplotlib.axes.Axes, optional
    outcome : str, optional
        Which outcome when several were tested (default: the first).
    bins : int, default 40

    Returns
    -------
    matplotlib.axes.Axes
    """
    extra = getattr(result, "extra", {})
    if "null_stats" not in extra:
        raise ParameterError("pass the result of randomisation_test")
    tab = result.tidy()
    k = 0 if outcome is None else list(tab["outcome"]).index(outcome)
    null = np.asarray(extra["null_stats"])[:, k]
    obs = float(np.asarray(extra["observed_stats"])[k])
    ax = _axes(ax, height=3.5, width=6.5)
    ax.hist(null, bins=bins, color=colour("light"), edgecolor=colour("paper"))
    ax.axvline(obs, color=colour("ink"), linewidth=1.5, label=f"observed = {obs:.3g}")
    ax.set_xlabel(
        f"statistic under the sharp null ({extra.get('draws')} "
        f"{'assignments' if extra.get('exact') else 'draws'})"
    )
    ax.set_ylabel("count")
    ax.legend(fontsize=8, frameon=False, title=f"p = {tab['p_value'][k]:.3g}")
    return ax
