"""Value-for-money plots: a tornado plot of the sensitivity sweep and the cost-effectiveness
plane of within-CPA prime comparisons.

Free functions taking a result and ``ax=None``; each returns the matplotlib Axes (never calls
``plt.show()``). Colours come from the current seaborn palette (no hard-coded colours).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour, palette

__all__ = ["plot_ce_plane", "plot_tornado"]


def _axes(ax, width, height):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height)).add_subplot(1, 1, 1)


def _palette(n: int = 3):
    return palette(max(n, 3))


def plot_tornado(sens: pd.DataFrame, ax=None, *, top: int = 12, clip: float = 4.0):
    """Tornado plot: which assumption moves the cost per additional outcome most.

    Parameters
    ----------
    sens : DataFrame
        Output of :func:`wpeval.value.sensitivity.sensitivity`.
    ax : matplotlib.axes.Axes, optional
    top : int, default 12
        Show the ``top`` assumptions with the largest swing.
    clip : float, default 4
        Bars are cut at ``clip`` times the central result (a ratio whose denominator nears
        zero explodes); a cut end is hatched and labelled with its value.

    Returns
    -------
    matplotlib.axes.Axes
        One horizontal bar per assumption from the result at its low value (first palette
        colour) to the result at its high value (second colour), around the central result
        (vertical line). An end where outcomes do not exceed the baseline (no cost per
        additional outcome) is drawn as an arrow to the plot edge and labelled.
    """
    need = ["parameter", "result_low", "result_high", "base_result", "swing"]
    missing = [c for c in need if c not in sens.columns]
    if missing:
        raise ParameterError(f"sensitivity table lacks {missing}; pass sensitivity(...)")
    tab = sens.head(top).iloc[::-1].reset_index(drop=True)
    ax = _axes(ax, 8, 0.45 * len(tab) + 1.5)
    col = _palette()
    base = float(tab["base_result"].iloc[0]) if len(tab) else math.nan
    finite = np.concatenate(
        [tab["result_low"].to_numpy(float), tab["result_high"].to_numpy(float), [base]]
    )
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        ax.text(
            0.5,
            0.5,
            "no scenario has outcomes above the baseline",
            ha="center",
            transform=ax.transAxes,
        )
        return ax
    if math.isfinite(base) and base != 0:
        finite = np.clip(finite, -clip * abs(base), clip * abs(base))
    lo_lim, hi_lim = finite.min(), finite.max()
    pad = 0.08 * (hi_lim - lo_lim or abs(hi_lim) or 1.0)
    edge = hi_lim + pad
    for i, r in tab.iterrows():
        for end, c, lab in (
            (r["result_low"], col[0], "low value"),
            (r["result_high"], col[1], "high value"),
        ):
            start = base if math.isfinite(base) else lo_lim
            cut = math.isfinite(end) and not lo_lim <= end <= hi_lim
            stop = min(max(end, lo_lim), hi_lim) if math.isfinite(end) else edge
            ax.barh(
                i,
                stop - start,
                left=start,
                color=c,
                height=0.6,
                label=lab if i == 0 else None,
                hatch="//" if cut or not math.isfinite(end) else None,
            )
            if not math.isfinite(end):
                ax.text(edge, i, " no additional outcomes", va="center", fontsize=8)
            elif cut:
                ax.text(
                    stop,
                    i,
                    f" {end:,.0f}",
                    va="center",
                    fontsize=8,
                    ha="left" if end > 0 else "right",
                )
    if math.isfinite(base):
        ax.axvline(base, color=colour("ink"), lw=1)
    ax.set_yticks(range(len(tab)))
    ax.set_yticklabels(tab["parameter"])
    ax.set_xlim(lo_lim - pad, edge + 3 * pad)
    ax.set_xlabel("cost per additional job outcome (pounds; conditional on the baseline)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_ce_plane(result, ax=None, *, cpa: str | None = None, alpha: float = 0.05):
    """Cost-effectiveness plane of within-CPA prime comparisons.

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.value.icer.icer`.
    ax : matplotlib.axes.Axes, optional
    cpa : str, optional
        Only this CPA's pairs.
    alpha : float, default 0.05
        Level of the error bars (normal, marginal) on each difference.

    Returns
    -------
    matplotlib.axes.Axes
        x: difference in job outcomes per referral (A - B); y: difference in payments per
        referral (pounds); one point per pair, with marginal confidence bars on both axes,
        labelled ``A - B`` and coloured by CPA. The axes cross at zero: top right, A costs
        more and delivers more; bottom right, A dominates. Pairs without differences (e.g.
        suppressed by :func:`wpeval.publish.estimates.publish_estimates`) are left out.
    """
    from scipy import stats

    tab = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    need = ["term", "cpa", "d_cost", "se_cost", "d_effect", "se_effect"]
    missing = [c for c in need if c not in tab.columns]
    if missing:
        raise ParameterError(f"result lacks {missing}; pass the output of wpeval.value.icer.icer")
    if cpa is not None:
        tab = tab[tab["cpa"] == cpa]
        if tab.empty:
            raise ParameterError(f"no prime pairs for CPA {cpa!r}")
    tab = tab.dropna(subset=["d_effect", "d_cost"])  # e.g. pairs suppressed for disclosure
    ax = _axes(ax, 7, 5.5)
    z = stats.norm.ppf(1 - alpha / 2)
    cpas = list(dict.fromkeys(tab["cpa"]))
    col = _palette(len(cpas))
    for k, c in enumerate(cpas):
        sub = tab[tab["cpa"] == c]
        ax.errorbar(
            sub["d_effect"],
            sub["d_cost"],
            xerr=z * sub["se_effect"],
            yerr=z * sub["se_cost"],
            fmt="o",
            color=col[k % len(col)],
            capsize=2,
            label=c,
        )
        if len(tab) <= 12:
            for r in sub.itertuples():
                ax.annotate(
                    r.term,
                    (r.d_effect, r.d_cost),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
    ax.axhline(0, color=colour("interval"), lw=0.8)
    ax.axvline(0, color=colour("interval"), lw=0.8)
    ax.set_xlabel("difference in job outcomes per referral (A - B)")
    ax.set_ylabel("difference in payments per referral (pounds, A - B)")
    if len(cpas) <= 10:
        ax.legend(fontsize=7, title="CPA", title_fontsize=8)
    return ax
