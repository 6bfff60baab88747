"""Parametric survival plots: an AFT projection (dashed) over the Kaplan-Meier curve (solid).

Free functions taking a result from :mod:`wpeval.estimators.survival` and ``ax=None``; each
returns the matplotlib Axes (never calls ``plt.show()``; no pyplot state is used). Colours come
only from :func:`wpeval.plots.theme.palette` / :func:`wpeval.plots.theme.colour`.
"""

from __future__ import annotations

import numpy as np

from wpeval.exceptions import ParameterError
from wpeval.plots.survival import _axes, _pick, _short_labels
from wpeval.plots.theme import colour, palette

__all__ = ["plot_aft_compare", "plot_retention_projection"]


def plot_retention_projection(
    projection,
    ax=None,
    *,
    curves=None,
    ci: bool = True,
    km_ci: bool = False,
    follow_up_marks: bool = True,
    max_curves: int = 10,
    xlabel: str = "days since job start",
    ylabel: str = "proportion still in first job",
    names=None,
):
    """Kaplan-Meier curves (solid steps) with the AFT projection (dashed) to the horizon.

    Parameters
    ----------
    projection : RetentionProjection
        Output of :func:`wpeval.estimators.survival.projection.project_retention`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    curves : str or list of str, optional
        Curve labels to draw (default all, up to ``max_curves``).
    ci : bool
        Shade the AFT pointwise band.
    km_ci : bool
        Shade the Kaplan-Meier pointwise band too.
    follow_up_marks : bool
        A dotted grey vertical line at each distinct end of follow-up (longest observed
        duration) of the drawn groups that falls before the horizon: beyond it the projection
        rests on the model alone.
    max_curves : int
        Refuse to draw more curves than this without an explicit ``curves`` list.
    xlabel, ylabel : str
        Axis labels.
    names : mapping, optional
        Display names for the legend, keyed by the group value as shown (e.g. payment-group
        codes to their labels: ``Programme.group_labels()``).

    Returns
    -------
    matplotlib.axes.Axes
        One colour per group; the legend names the groups (parts shared by all drawn curves
        dropped) and the two line styles.
    """
    if not hasattr(projection, "curves") or not hasattr(projection, "groups"):
        raise ParameterError("plot_retention_projection needs the result of project_retention()")
    tab = projection.curves
    labels = list(dict.fromkeys(tab["curve"]))
    chosen = _pick(labels, curves, max_curves)
    ax = _axes(ax)
    short = _short_labels(chosen)
    cols = palette(max(len(chosen), 1))
    horizon = float(projection.extra.get("horizon_days", tab["time"].max()))
    ends = projection.groups.set_index("curve")["follow_up_end"]
    for lab, col in zip(chosen, cols):
        km = tab[(tab["curve"] == lab) & (tab["source"] == "km")]
        fit = tab[(tab["curve"] == lab) & (tab["source"] == "aft")]
        name = short[lab] if len(chosen) > 1 or lab != "all" else "all job starters"
        name = dict(names or {}).get(name, name)
        ax.step(km["time"], km["surv"], where="post", color=col, linewidth=1.6, label=name)
        if km_ci:
            ax.fill_between(
                km["time"],
                km["conf_low"],
                km["conf_high"],
                step="post",
                color=col,
                alpha=0.12,
                linewidth=0,
            )
        ax.plot(fit["time"], fit["surv"], linestyle="--", color=col, linewidth=1.4)
        if ci:
            ax.fill_between(
                fit["time"], fit["conf_low"], fit["conf_high"], color=col, alpha=0.12, linewidth=0
            )
    if follow_up_marks:
        drawn = [float(ends.get(lab, np.inf)) for lab in chosen]
        for end in sorted({e for e in drawn if e < horizon}):
            ax.axvline(end, color=colour("reference"), linestyle=":", linewidth=1)
    from matplotlib.lines import Line2D

    handles, names = ax.get_legend_handles_labels()
    dist = projection.fit.extra["distribution"]
    handles += [
        Line2D([], [], color=colour("ink"), linewidth=1.6),
        Line2D([], [], color=colour("ink"), linestyle="--", linewidth=1.4),
    ]
    names += ["Kaplan-Meier (observed)", f"{dist} AFT (projected)"]
    if len(chosen) > 4:
        ax.legend(
            handles,
            names,
            frameon=False,
            fontsize="small",
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
        )
    else:
        ax.legend(handles, names, frameon=False, fontsize="small")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, horizon)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_aft_compare(table, ax=None):
    """AIC differences of the AFT distributions (bars; 0 = best fit).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`wpeval.estimators.survival.aft.aft_compare` (or a projection's
        ``comparison``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if table is None or "delta_aic" not in getattr(table, "columns", []):
        raise ParameterError("plot_aft_compare needs the table of aft_compare()")
    ax = _axes(ax, size=(6, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    best = table["best"].to_numpy(dtype=bool)
    ax.barh(y[~best], table["delta_aic"].to_numpy()[~best], color=colour("muted"))
    ax.barh(y[best], table["delta_aic"].to_numpy()[best], color=colour("estimate"))
    for yi, d in zip(y, table["delta_aic"]):
        ax.annotate(
            f"{d:,.1f}",
            xy=(d, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_yticks(y)
    ax.set_yticklabels(table["distribution"])
    ax.set_xlabel("AIC minus the smallest AIC (0 = best fit)")
    return ax
