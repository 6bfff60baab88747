"""Survival plots: Kaplan-Meier curves with an at-risk table, cumulative incidence curves and a
hazard-ratio forest plot.

Free functions taking a result from :mod:`wpeval.estimators.survival` and ``ax=None``; each
returns the matplotlib Axes (never calls ``plt.show()``; no pyplot state is used).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = [
    "plot_cumulative_incidence",
    "plot_curve_panels",
    "plot_hazard_ratios",
    "plot_survival",
]


def _axes(ax, size=(8, 5)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig.add_subplot(1, 1, 1)


def _pick(labels, which, max_curves):
    if which is not None:
        which = [which] if isinstance(which, str) else list(which)
        unknown = [w for w in which if w not in labels]
        if unknown:
            raise ParameterError(f"unknown curves {unknown}; available: {labels[:10]}...")
        return which
    if len(labels) > max_curves:
        raise ParameterError(
            f"{len(labels)} curves is too many for one plot; pass "
            f"curves=[...] (first labels: {labels[:5]}) or raise max_curves"
        )
    return labels


def _step_with_band(ax, t, y, lo, hi, start, color, label, ci, alpha_band=0.15, **kw):
    t = np.concatenate([[0.0], t])
    y = np.concatenate([[start], y])
    line = ax.step(t, y, where="post", color=color, label=label, **kw)[0]
    if ci:
        lo = np.concatenate([[start], lo])
        hi = np.concatenate([[start], hi])
        ok = ~(np.isnan(lo) | np.isnan(hi))
        ax.fill_between(
            t,
            np.where(ok, lo, np.nan),
            np.where(ok, hi, np.nan),
            step="post",
            color=line.get_color(),
            alpha=alpha_band,
            linewidth=0,
        )
    return line


def _short_labels(labels: list[str]) -> dict[str, str]:
    """Drop ``key=value`` parts shared by every label; keep only values if one key is left."""
    parts = [lab.split(", ") for lab in labels]
    if not labels or any(len(p) != len(parts[0]) for p in parts):
        return {lab: lab for lab in labels}
    keep = [j for j in range(len(parts[0])) if len({p[j] for p in parts}) > 1] or [0]
    out = {}
    for lab, p in zip(labels, parts):
        kept = [p[j] for j in keep]
        if len(kept) == 1 and "=" in kept[0]:
            kept = [kept[0].split("=", 1)[1]]
        out[lab] = ", ".join(kept)
    return out


def plot_survival(
    result,
    ax=None,
    *,
    curves=None,
    ci: bool = True,
    at_risk_times=None,
    censor_marks: bool = False,
    max_curves: int = 12,
    xlabel: str = "days",
    ylabel: str = "proportion without event",
):
    """Kaplan-Meier curves (step functions) with pointwise CI bands and an at-risk table.

    Parameters
    ----------
    result : SurvivalCurves
        Output of :func:`wpeval.estimators.survival.kaplan_meier`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted (taller when an at-risk table is
        drawn).
    curves : str or list of str, optional
        Curve labels to draw (default all, up to ``max_curves``).
    ci : bool
        Shade the pointwise confidence band (the result's ``conf_type``).
    at_risk_times : sequence of float, optional
        Times at which to print the numbers at risk below the plot, one row per curve.
    censor_marks : bool
        Mark censoring times with ``|``.
    max_curves : int
        Refuse to draw more curves than this without an explicit ``curves`` list.
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        Legend labels drop the parts shared by all drawn curves (e.g. the CPA).
    """
    if not hasattr(result, "survival_at"):
        raise ParameterError("plot_survival needs the result of kaplan_meier()")
    chosen = _pick(result.curve_labels, curves, max_curves)
    if ax is None and at_risk_times is not None:
        ax = _axes(None, size=(8, 4.5 + (len(chosen) + 3) * 13 / 72))
    ax = _axes(ax)
    tab = result.tidy()
    short = _short_labels(chosen)
    colors = {}
    for lab in chosen:
        sub = tab[tab["curve"] == lab]
        line = _step_with_band(
            ax,
            sub["time"].to_numpy(),
            sub["surv"].to_numpy(),
            sub["conf_low"].to_numpy(),
            sub["conf_high"].to_numpy(),
            1.0,
            None,
            short[lab],
            ci,
        )
        colors[lab] = line.get_color()
        if censor_marks:
            cens = sub[sub["n_censor"] > 0]
            ax.plot(cens["time"], cens["surv"], "|", color=line.get_color(), markersize=6)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(chosen) > 1 or chosen[0] != "all":
        if len(chosen) > 4:
            ax.legend(
                frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5)
            )
        else:
            ax.legend(frameon=False, fontsize="small")
    if at_risk_times is not None:
        _at_risk_table(ax, result, chosen, short, colors, at_risk_times)
    return ax


def _at_risk_table(ax, result, chosen, short, colors, times):
    """Numbers at risk under the x axis (offsets in points, below tick labels and xlabel)."""
    risk = result.at_risk(times)
    first = -42  # points below the axis: clears tick labels and the x label
    row = 13
    ax.annotate(
        "Number at risk",
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(0, first),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize="small",
        fontweight="bold",
        annotation_clip=False,
    )
    for i, lab in enumerate(chosen):
        y = first - (i + 1) * row
        ax.annotate(
            short[lab],
            xy=(0, 0),
            xycoords="axes fraction",
            xytext=(-24, y),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize="x-small",
            color=colors[lab],
            annotation_clip=False,
        )
        sub = risk[risk["curve"] == lab]
        for t, n in zip(sub["time"], sub["n_risk"]):
            ax.annotate(
                f"{n:,}",
                xy=(t, 0),
                xycoords=("data", "axes fraction"),
                xytext=(0, y),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize="x-small",
                color=colors[lab],
                annotation_clip=False,
            )
    fig = ax.figure
    if fig is not None:
        need = (-first + (len(chosen) + 1) * row) / 72  # inches
        height = fig.get_figheight()
        fig.subplots_adjust(bottom=min(0.7, (need + 0.1) / height))


def plot_cumulative_incidence(
    result,
    ax=None,
    *,
    cause=None,
    curves=None,
    ci: bool = True,
    max_curves: int = 12,
    xlabel: str = "days",
    ylabel: str = "cumulative incidence",
    cause_labels=None,
):
    """Aalen-Johansen cumulative incidence curves with pointwise CI bands.

    Parameters
    ----------
    result : CumulativeIncidence
        Output of :func:`wpeval.estimators.survival.cumulative_incidence`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    cause : int or list of int, optional
        Causes to draw (default all); line style distinguishes causes.
    curves : str or list of str, optional
        Curve (group) labels to draw (default all, up to ``max_curves``).
    ci : bool
        Shade the pointwise confidence band.
    max_curves : int
        Refuse to draw more groups than this without an explicit ``curves`` list.
    xlabel, ylabel : str
        Axis labels.
    cause_labels : dict, optional
        Names for the cause codes, e.g. ``{1: "job entry", 2: "other exit"}``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not hasattr(result, "cif_at"):
        raise ParameterError("plot_cumulative_incidence needs the result of cumulative_incidence()")
    ax = _axes(ax)
    tab = result.tidy()
    labels = list(dict.fromkeys(tab["curve"]))
    chosen = _pick(labels, curves, max_curves)
    causes = sorted(tab["cause"].unique()) if cause is None else list(np.atleast_1d(cause))
    styles = ["-", "--", ":", "-."]
    names = cause_labels or {}
    color_of = {}
    for j, k in enumerate(causes):
        for lab in chosen:
            sub = tab[(tab["curve"] == lab) & (tab["cause"] == k)]
            if sub.empty:
                continue
            name = names.get(k, f"cause {k}")
            label = name if lab == "all" else f"{lab}: {name}"
            line = _step_with_band(
                ax,
                sub["time"].to_numpy(),
                sub["cif"].to_numpy(),
                sub["conf_low"].to_numpy(),
                sub["conf_high"].to_numpy(),
                0.0,
                color_of.get(lab),
                label,
                ci,
                linestyle=styles[j % len(styles)],
            )
            color_of.setdefault(lab, line.get_color())
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_hazard_ratios(result, ax=None, *, terms=None, log_scale: bool = True):
    """Forest plot of hazard ratios with confidence intervals.

    Parameters
    ----------
    result : EffectTable
        Output of :func:`wpeval.estimators.survival.cox` or ``competing_risks``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    terms : list of str, optional
        Terms to show (default all).
    log_scale : bool
        Log-scaled x axis (hazard ratios are symmetric on the log scale).

    Returns
    -------
    matplotlib.axes.Axes
    """
    tab = result.tidy()
    if "hazard_ratio" not in tab.columns:
        raise ParameterError("plot_hazard_ratios needs a Cox / competing-risks result")
    if terms is not None:
        tab = tab[tab["term"].isin(list(terms))]
    ax = _axes(ax, size=(7, 0.4 * len(tab) + 1.5))
    from wpeval.plots.models import plot_interval_points

    hr = pd.DataFrame(
        {
            "term": tab["term"],
            "estimate": tab["hazard_ratio"],
            "conf_low": tab["hr_conf_low"],
            "conf_high": tab["hr_conf_high"],
        }
    )
    plot_interval_points(hr, ax)
    ax.axvline(1.0, color=colour("reference"), linestyle="--", linewidth=1)
    ax.set_ylabel("")
    if log_scale:
        from matplotlib.ticker import FormatStrFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.tick_params(axis="x", which="minor", labelsize="x-small")
    ax.set_xlabel(
        "hazard ratio (95% CI)" if result.method.get("alpha", 0.05) == 0.05 else "hazard ratio"
    )
    return ax


def plot_curve_panels(
    results,
    titles,
    *,
    curves=None,
    ci: bool = True,
    xlabel: str = "days",
    ylabel: str = "proportion without event",
    width: float = 5.5,
):
    """Survival curves of several analyses side by side on a shared y axis, e.g. the pooled
    Kaplan-Meier curves beside the stratum-standardised (blocked) or covariate-adjusted ones.

    Parameters
    ----------
    results : sequence of SurvivalCurves
        One per panel (from :func:`wpeval.kaplan_meier`, :func:`wpeval.blocked_curves`,
        :func:`wpeval.adjusted_survival`, ...).
    titles : sequence of str
        Panel titles, one per result.
    curves : sequence of (list of str or None), optional
        Curve labels to draw in each panel (default: all curves of each result). Curves are
        drawn in the order given, so give the same order in every panel to keep one colour
        per group across panels.
    ci : bool
        Shade the pointwise confidence bands.
    xlabel, ylabel : str
        Axis labels.
    width : float
        Width of one panel in inches.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        One Axes per panel (``axes[0].figure`` is the figure).
    """
    from matplotlib.figure import Figure

    results = list(results)
    titles = list(titles)
    if not results or len(titles) != len(results):
        raise ParameterError("plot_curve_panels needs one title per result (and >= 1 result)")
    curves = [None] * len(results) if curves is None else list(curves)
    if len(curves) != len(results):
        raise ParameterError("curves must give one list (or None) per result")
    fig = Figure(figsize=(width * len(results), 4.8))
    axes = np.atleast_1d(fig.subplots(1, len(results), sharey=True))
    for ax, res, title, which in zip(axes, results, titles, curves):
        plot_survival(res, ax=ax, curves=which, ci=ci, xlabel=xlabel, ylabel=ylabel)
        ax.set_title(title)
    for ax in axes[1:]:
        ax.set_ylabel("")
    return axes
