"""Plots for league tables: a caterpillar plot with rank confidence sets, and a funnel plot.

Free functions taking a result from :mod:`wpeval.estimators.ranking` and ``ax=None``;
each returns the matplotlib Axes (never calls ``plt.show()``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = ["plot_league", "plot_funnel"]


def _axes(ax, height):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, height))
    return fig.add_subplot(1, 1, 1)


def _table(result, needed):
    tab = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    missing = [c for c in needed if c not in tab.columns]
    if missing:
        raise ParameterError(
            f"result lacks columns {missing}; pass the output of league_table / funnel_data"
        )
    return tab


def plot_league(
    result, ax=None, *, cpa: str | None = None, national: bool = False, show_shrunk: bool = True
):
    """Caterpillar plot of contract effects with intervals and rank confidence sets.

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.estimators.ranking.league_table`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    cpa : str, optional
        Plot only this CPA's contracts.
    national : bool
        Label each row with the national rank set instead of the within-CPA one.
    show_shrunk : bool
        Also draw the empirical-Bayes posterior mean and interval (when present).

    Returns
    -------
    matplotlib.axes.Axes
        Rows grouped by CPA, best first within CPA; black: raw effect and its confidence
        interval; blue: shrunk effect and posterior interval; right-hand labels: rank and
        rank confidence set.
    """
    tab = _table(
        result,
        ["term", "cpa", "estimate", "conf_low", "conf_high", "rank", "rank_low", "rank_high"],
    )
    if cpa is not None:
        tab = tab[tab["cpa"] == cpa]
        if tab.empty:
            raise ParameterError(f"no contracts for CPA {cpa!r}")
    tab = tab.sort_values(["cpa", "estimate"], ascending=[True, False]).reset_index(drop=True)
    ax = _axes(ax, max(2.5, 0.28 * len(tab) + 1))
    y = np.arange(len(tab))[::-1].astype(float)
    ax.hlines(
        y, tab["conf_low"], tab["conf_high"], color=colour("ink"), lw=1.2, label="raw effect, CI"
    )
    ax.plot(tab["estimate"], y, "o", color=colour("ink"), ms=4)
    shrunk = show_shrunk and "shrunk_effect" in tab and tab["shrunk_effect"].notna().any()
    if shrunk:
        ax.hlines(
            y - 0.3,
            tab["shrunk_low"],
            tab["shrunk_high"],
            color=colour("adjusted"),
            lw=1.2,
            label="shrunk (EB), posterior interval",
        )
        ax.plot(tab["shrunk_effect"], y - 0.3, "D", color=colour("adjusted"), ms=3.5)
    ax.axvline(0, color=colour("reference"), lw=0.8, ls="--")
    prefix = "rank_national" if national else "rank"
    labels = [
        f"{r} [{lo}-{hi}]" if lo != hi else f"{r} [{lo}]"
        for r, lo, hi in zip(tab[prefix], tab[f"{prefix}_low"], tab[f"{prefix}_high"])
    ]
    ax.set_yticks(y)
    ax.set_yticklabels(tab["term"], fontsize=8)
    ax2 = ax.twinx()
    ax2.set_ylim(ax.get_ylim())
    ax2.set_yticks(y)
    ax2.set_yticklabels(labels, fontsize=8)
    ax2.set_ylabel(
        ("national" if national else "within-CPA") + " rank [confidence set]", fontsize=8
    )
    # separate CPAs
    change = np.flatnonzero(tab["cpa"].to_numpy()[1:] != tab["cpa"].to_numpy()[:-1])
    for i in change:
        ax.axhline(y[i] - 0.5, color=colour("light"), lw=0.6)
    ax.set_xlabel("effect relative to the CPA average")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return ax


def plot_funnel(table, ax=None, *, cpa: str | None = None, levels=None, grid: int = 200):
    """Funnel plot: contract outcome rate against number of referrals, with control limits.

    Parameters
    ----------
    table : EffectTable
        Output of :func:`wpeval.estimators.ranking.funnel_data`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    cpa : str, optional
        Only this CPA's contracts (their funnel is around the CPA rate).
    levels : sequence of float, optional
        Control-limit levels to draw; default those in the table.
    grid : int
        Points along the size axis for the funnel curves.

    Returns
    -------
    matplotlib.axes.Axes
        With one target (national, or one CPA): the rate against n with the exact binomial
        funnel. With several targets (CPA targets, all CPAs): the excess rate (rate - target)
        against n; the funnel curves are then drawn at the pooled rate as a guide, and each
        contract's own limits (at its n and target) are shown as ticks, which are what the
        flags use. Contracts above the limits are red, below orange; filled and labelled when
        outside the widest limits ("alarm"), hollow otherwise.
    """
    from wpeval.estimators.ranking import funnel_limits

    tab = _table(table, ["term", "cpa", "estimate", "n", "target", "flag"])
    if cpa is not None:
        tab = tab[tab["cpa"] == cpa]
        if tab.empty:
            raise ParameterError(f"no contracts for CPA {cpa!r}")
    if levels is None:
        levels = (
            table.method.get("levels", (0.95, 0.998)) if hasattr(table, "method") else (0.95, 0.998)
        )
    ax = _axes(ax, 5)
    single = tab["target"].nunique() == 1
    p_ref = (
        float(tab["target"].iloc[0])
        if single
        else float(np.sum(tab["estimate"] * tab["n"]) / tab["n"].sum())
    )
    shift = 0.0 if single else tab["target"].to_numpy()
    ns = np.unique(
        np.linspace(max(1, tab["n"].min() * 0.5), tab["n"].max() * 1.1, grid).round().astype(int)
    )
    styles = ["--", ":", "-."]
    for i, lev in enumerate(sorted(levels)):
        lo, hi = funnel_limits(p_ref, ns, lev)
        off = 0.0 if single else p_ref
        lab = f"{lev * 100:g}% limits" + ("" if single else " (at pooled rate, guide)")
        ax.plot(ns, lo - off, color=colour("reference"), ls=styles[i % 3], lw=1, label=lab)
        ax.plot(ns, hi - off, color=colour("reference"), ls=styles[i % 3], lw=1)
        if not single:
            tag = f"{lev * 100:g}".replace(".", "")
            if f"lower_{tag}" in tab:
                ax.plot(tab["n"], tab[f"lower_{tag}"] - shift, "_", color=colour("reference"), ms=8)
                ax.plot(tab["n"], tab[f"upper_{tag}"] - shift, "_", color=colour("reference"), ms=8)
    yv = tab["estimate"] - shift
    ax.axhline(0.0 if not single else p_ref, color=colour("ink"), lw=0.8)
    role = np.where(
        tab["flag"].str.startswith("high"),
        "alert",
        np.where(tab["flag"].str.startswith("low"), "adjusted", "estimate"),
    )
    cols = np.array([colour(r) for r in role], dtype=object)
    alarm = tab["flag"].str.endswith("alarm").to_numpy()
    ax.scatter(tab["n"][alarm], yv[alarm], c=list(cols[alarm]), s=22, zorder=3)
    ax.scatter(
        tab["n"][~alarm],
        yv[~alarm],
        facecolors="none",
        edgecolors=list(cols[~alarm]),
        s=22,
        zorder=3,
    )
    for (_, row), yy in zip(tab.iterrows(), yv):
        if row["flag"].endswith("alarm"):
            ax.annotate(
                row["term"], (row["n"], yy), fontsize=6, xytext=(3, 2), textcoords="offset points"
            )
    ax.set_xlabel("referrals with the outcome observed (n)")
    ax.set_ylabel("outcome rate" if single else "outcome rate minus target (CPA rate)")
    ax.legend(fontsize=7, frameon=False)
    return ax
