"""Plots for the data-checks report (notebook 01): allocation balance and covariate balance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_allocation_balance(table, ax=None, *, alpha: float = 0.05):
    """Observed minus expected allocation share per contract, with design confidence bars.

    Parameters
    ----------
    table : AllocationBalance or DataFrame
        Result of :func:`wpeval.data.design.allocation_balance`, or its ``contracts`` frame
        (``cpa, prime, diff, std_error``).
    ax : matplotlib Axes, optional
    alpha : float, default 0.05
        Bars are ``diff +/- z_{1-alpha/2} * std_error`` (normal approximation).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy import stats

    con = getattr(table, "contracts", table)
    if not isinstance(con, pd.DataFrame) or not {"cpa", "prime", "diff", "std_error"} <= set(
        con.columns
    ):
        raise ParameterError(
            "plot_allocation_balance needs an AllocationBalance or a frame "
            "with cpa, prime, diff, std_error"
        )
    con = con.sort_values(["cpa", "prime"]).reset_index(drop=True)
    ax = _axes(ax, (7, max(3, 0.22 * len(con) + 1)))
    y = np.arange(len(con))[::-1]
    z = stats.norm.ppf(1 - alpha / 2)
    ax.errorbar(
        100 * con["diff"],
        y,
        xerr=100 * z * con["std_error"],
        fmt="o",
        ms=3,
        color=colour("estimate"),
        ecolor=colour("muted"),
        capsize=2,
    )
    ax.axvline(0, color=colour("reference"), lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{c} {p}" for c, p in zip(con["cpa"], con["prime"])], fontsize=7)
    ax.set_xlabel("observed - expected share of referrals (percentage points)")
    ax.set_title(f"Allocation balance ({int(100 * (1 - alpha))}% design intervals)")
    return ax


def plot_covariate_balance(table: pd.DataFrame, ax=None, *, threshold: float = 0.1):
    """Love plot: standardised mean differences per covariate, every prime vs its CPA's rest.

    Parameters
    ----------
    table : DataFrame
        Result of :func:`wpeval.data.design.covariate_balance` (``covariate, smd_raw,
        smd_adjusted``).
    ax : matplotlib Axes, optional
    threshold : float, default 0.1
        Reference lines at +/- threshold (a common rule of thumb for imbalance).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(table, pd.DataFrame) or not {"covariate", "smd_raw", "smd_adjusted"} <= set(
        table.columns
    ):
        raise ParameterError(
            "plot_covariate_balance needs the frame returned by "
            "wpeval.data.design.covariate_balance"
        )
    covs = list(dict.fromkeys(table["covariate"]))
    pos = {c: i for i, c in enumerate(covs[::-1])}
    y = table["covariate"].map(pos).to_numpy(dtype=float)
    ax = _axes(ax, (6, max(3, 0.35 * len(covs) + 1)))
    ax.scatter(
        table["smd_raw"],
        y + 0.12,
        s=10,
        marker="o",
        facecolors="none",
        edgecolors=colour("muted"),
        label="raw",
    )
    ax.scatter(
        table["smd_adjusted"],
        y - 0.12,
        s=10,
        marker="o",
        color=colour("estimate"),
        label="block-adjusted",
    )
    for t in (-threshold, threshold):
        ax.axvline(t, color=colour("alert"), lw=0.8, ls="--")
    ax.axvline(0, color=colour("reference"), lw=0.8)
    ax.set_yticks(list(pos.values()))
    ax.set_yticklabels(list(pos.keys()), fontsize=8)
    ax.set_xlabel("standardised mean difference (prime vs other primes of the CPA)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title("Covariate balance between primes")
    return ax
