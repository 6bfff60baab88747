"""Plots for design diagnosis: power curves of the prime contrasts and a diagnosand by
estimator.

Free functions taking a result and ``ax=None``; each returns the matplotlib Axes (a new
figure is made with ``matplotlib.figure.Figure`` when ``ax`` is omitted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = ["plot_diagnosands", "plot_power_curves"]


def _axes(ax, height: float, width: float = 8.0):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height)).add_subplot(1, 1, 1)


def plot_power_curves(
    result, ax=None, *, effects=None, max_curves: int = 12, target: float | None = None
):
    """Power against the true difference for each contrast (from :func:`wpeval.power`).

    Parameters
    ----------
    result : PowerTable
        Output of :func:`wpeval.power`.
    ax : matplotlib.axes.Axes, optional
    effects : array-like, optional
        Effects on the x axis (default 0 to 2 x the largest MDE).
    max_curves : int, default 12
        Draw at most this many contrasts (the ones with the smallest and largest MDE and
        evenly spaced ones between), so the plot stays readable.
    target : float, optional
        Horizontal line at the target power (default the table's ``target_power``).

    Returns
    -------
    matplotlib.axes.Axes
        One line per contrast labelled "CPA: A - B"; the dashed line is the target power.
    """
    if not hasattr(result, "curve"):
        raise ParameterError("plot_power_curves needs the result of wpeval.power")
    tab = result.tidy().sort_values("mde").reset_index(drop=True)
    if len(tab) > max_curves:
        tab = tab.iloc[np.unique(np.linspace(0, len(tab) - 1, max_curves).round().astype(int))]
    keep = set(zip(tab["cpa"], tab["term"]))
    curve = result.curve(effects)
    curve = curve[[(c, t) in keep for c, t in zip(curve["cpa"], curve["term"])]]
    ax = _axes(ax, 4.5)
    import seaborn as sns

    palette = sns.color_palette("colorblind", n_colors=max(len(keep), 1))
    for k, ((cpa, term), sub) in enumerate(curve.groupby(["cpa", "term"], sort=False)):
        ax.plot(
            sub["effect"], sub["power"], color=palette[k % len(palette)], label=f"{cpa}: {term}"
        )
    level = result.method.get("target_power", 0.8) if target is None else target
    ax.axhline(level, color=colour("interval"), linestyle="--", linewidth=1)
    ax.set_xlabel("true difference in the outcome rate (absolute)")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="x-small", ncol=2, frameon=False, loc="lower right")
    return ax


def plot_diagnosands(
    result, ax=None, *, diagnosand: str = "coverage", reference: float | None = None
):
    """One diagnosand (with +/- 2 Monte Carlo SE bars) for every estimator and contrast.

    Parameters
    ----------
    result : Diagnosis
        Output of :func:`wpeval.diagnose`.
    ax : matplotlib.axes.Axes, optional
    diagnosand : str, default "coverage"
        A column of the diagnosis (``bias``, ``rmse``, ``coverage``, ``power``, ...).
    reference : float, optional
        Vertical reference line (default: 1 - alpha for coverage, 0 for bias).

    Returns
    -------
    matplotlib.axes.Axes
        Rows "CPA: A - B", one marker per estimator.
    """
    tab = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    if diagnosand not in tab:
        raise ParameterError(f"no diagnosand {diagnosand!r}; columns: {list(tab.columns)}")
    labels = list(dict.fromkeys(tab["cpa"] + ": " + tab["term"]))
    ax = _axes(ax, 0.3 * len(labels) + 1.2)
    import seaborn as sns

    ests = list(dict.fromkeys(tab["estimator"]))
    palette = sns.color_palette("colorblind", n_colors=len(ests))
    for k, est in enumerate(ests):
        sub = tab[tab["estimator"] == est]
        y = np.array([labels.index(f"{c}: {t}") for c, t in zip(sub["cpa"], sub["term"])])
        y = y + (k - (len(ests) - 1) / 2) * 0.8 / max(len(ests), 1)
        se = sub.get(f"{diagnosand}_mc_se", pd.Series(np.zeros(len(sub)))).to_numpy()
        ax.errorbar(
            sub[diagnosand],
            y,
            xerr=2 * np.nan_to_num(se),
            fmt="o",
            ms=3,
            color=palette[k],
            label=est,
            elinewidth=0.8,
        )
    if reference is None:
        alpha = float(getattr(result, "method", {}).get("alpha", 0.05))
        reference = {"coverage": 1 - alpha, "bias": 0.0}.get(diagnosand)
    if reference is not None:
        ax.axvline(reference, color=colour("interval"), linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize="x-small")
    ax.invert_yaxis()
    ax.set_xlabel(f"{diagnosand} (bars: +/- 2 Monte Carlo SE)")
    ax.legend(fontsize="x-small", frameon=False)
    return ax
