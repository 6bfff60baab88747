"""Coefficient plots of any :class:`~wpeval.results.EffectTable`: points with their intervals,
drawn by seaborn (``pointplot``), optionally several estimators side by side."""

from __future__ import annotations

import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour, palette


def interval_frame(tab: pd.DataFrame, label: str = "term", hue: str | None = None):
    """Long table with three rows per estimate (``conf_low``, ``estimate``, ``conf_high``).

    seaborn's ``pointplot(estimator="median", errorbar=("pi", 100))`` on it draws the estimate
    (the median of the three) with the stored interval (their range), so precomputed
    intervals are shown exactly, not recomputed by seaborn.
    """
    keep = [label] + ([hue] if hue else [])
    long = tab.melt(
        id_vars=keep, value_vars=["conf_low", "estimate", "conf_high"], value_name="value"
    )
    return long.dropna(subset=["value"])


def plot_interval_points(tab: pd.DataFrame, ax, *, label: str = "term", hue: str | None = None):
    """Draw points with intervals for ``tab`` (tidy columns) on ``ax`` with seaborn."""
    import seaborn as sns

    long = interval_frame(tab, label, hue)
    order = list(dict.fromkeys(tab[label]))
    kw = {
        "data": long,
        "x": "value",
        "y": label,
        "order": order,
        "estimator": "median",
        "errorbar": ("pi", 100),
        "linestyle": "none",
        "capsize": 0.15,
        "err_kws": {"linewidth": 1.4},
        "ax": ax,
        "markersize": 5,
    }
    if hue:
        levels = list(dict.fromkeys(tab[hue]))
        sns.pointplot(**kw, hue=hue, hue_order=levels, dodge=0.45, palette=palette(len(levels)))
    else:
        sns.pointplot(**kw, color=colour("estimate"))
    return ax


def plot_estimates(
    result,
    ax=None,
    *,
    terms=None,
    reference: float | None = 0.0,
    hue: str | None = None,
    title: str | None = None,
):
    """Estimates with confidence intervals, one row per term (a coefficient plot).

    Parameters
    ----------
    result : EffectTable or DataFrame
        A result (its ``tidy()`` is used) or a tidy DataFrame, e.g. several results
        concatenated with a column naming the estimator (then pass ``hue``).
    ax : matplotlib Axes, optional
    terms : list of str, optional
        Terms to show, in this order (default: all).
    reference : float or None, default 0.0
        Vertical reference line (``None`` for none).
    hue : str, optional
        Column distinguishing estimators drawn side by side.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    tab = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    if terms is not None:
        missing = [t for t in terms if t not in set(tab["term"])]
        if missing:
            raise ParameterError(f"terms not in the result: {missing}")
        tab = tab[tab["term"].isin(terms)]
        tab = tab.set_index("term").loc[list(terms)].reset_index()
    if hue is not None and hue not in tab:
        raise ParameterError(f"no column {hue!r} to colour by")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * tab["term"].nunique() + 1.5))
    plot_interval_points(tab, ax, hue=hue)
    if hue is not None and ax.get_legend() is not None:
        import seaborn as sns

        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if reference is not None:
        ax.axvline(reference, color=colour("reference"), linestyle="--", linewidth=1)
    ax.set_ylabel("")
    ax.set_xlabel("estimate (confidence interval)")
    if title:
        ax.set_title(title)
    return ax


def plot_adjusted_contrasts(result, ax=None, *, cpa: str | None = None):
    """Design-based and regression-adjusted (HC2, CR2) prime contrasts side by side.

    Parameters
    ----------
    result : EffectTable
        From :func:`wpeval.estimators.adjusted_contrasts.regression_contrasts`.
    ax : matplotlib Axes, optional
    cpa : str, optional
        Show one CPA (default: all).

    Returns
    -------
    matplotlib.axes.Axes
    """
    tab = result.tidy()
    if cpa is not None:
        tab = tab[tab["cpa"] == cpa]
        if tab.empty:
            raise ParameterError(f"no contrast of CPA {cpa!r}")
    label = tab["cpa"].astype(str) + ": " + tab["term"].astype(str)
    parts = [
        ("design-based", "design_estimate", "design_conf_low", "design_conf_high"),
        ("regression, HC2", "estimate", "conf_low", "conf_high"),
        ("regression, CR2 by district", "estimate", "conf_low_cr2", "conf_high_cr2"),
    ]
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "term": label,
                    "estimator": name,
                    "estimate": tab[e],
                    "conf_low": tab[lo],
                    "conf_high": tab[hi],
                }
            )
            for name, e, lo, hi in parts
        ],
        ignore_index=True,
    )
    return plot_estimates(long, ax, hue="estimator")
