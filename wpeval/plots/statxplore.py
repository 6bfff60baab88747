"""Plot of a reconciliation with Stat-Xplore: differences by month and contract.

A free function taking the result of :func:`wpeval.statxplore.reconcile` and ``ax=None``;
returns the matplotlib Axes (never calls ``plt.show()``).
"""

from __future__ import annotations

import numpy as np

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = ["plot_reconciliation"]


def plot_reconciliation(result, ax=None, *, table: str | None = None, clip: float = 3.0):
    """Heat map of published-minus-extract differences in units of the tolerance.

    Parameters
    ----------
    result : Reconciliation
        Output of :func:`wpeval.statxplore.reconcile`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    table : str, optional
        Which table (e.g. ``"referrals"``); default the first with a disagreement, else the
        first.
    clip : float
        Colour scale limit, in tolerances.

    Returns
    -------
    matplotlib.axes.Axes
        Rows: contracts (CPA: prime); columns: months. Colour: the difference divided by the
        tolerance (beyond +-1 the cell disagrees), taking, where the published table has more
        breakdowns (payment group...), the cell with the largest ratio in absolute value.
        Disagreeing contract-months are marked with a black x.
    """
    cells = result.cells
    tables = list(dict.fromkeys(cells["table"]))
    if table is None:
        bad = cells.loc[cells["disagrees"], "table"]
        table = bad.iloc[0] if len(bad) else tables[0]
    if table not in tables:
        raise ParameterError(f"no table {table!r} in the reconciliation; tables: {tables}")
    c = cells[cells["table"] == table].copy()
    if not {"cpa", "prime", "month"} <= set(c.columns):
        raise ParameterError("the table has no month x contract breakdown to plot")
    tol = np.where(c["tolerance"] > 0, c["tolerance"], 0.5)
    c["ratio"] = c["difference"] / tol
    c["contract"] = c["cpa"].astype(str) + ": " + c["prime"].astype(str)
    c["absr"] = c["ratio"].abs()
    top = c.sort_values("absr", kind="mergesort").groupby(["contract", "month"]).tail(1)
    grid = top.pivot(index="contract", columns="month", values="ratio").sort_index()
    flags = c.groupby(["contract", "month"])["disagrees"].any().unstack().reindex_like(grid)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, max(3.0, 0.18 * len(grid) + 1.5)))
        ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(
        np.clip(grid.to_numpy(float), -clip, clip),
        aspect="auto",
        cmap="RdBu_r",
        vmin=-clip,
        vmax=clip,
        interpolation="nearest",
    )
    yy, xx = np.nonzero(flags.fillna(False).to_numpy(bool))
    ax.plot(xx, yy, "x", color=colour("ink"), ms=6, mew=1.5, label="disagrees")
    months = [str(m) for m in grid.columns]
    step = max(1, len(months) // 12)
    ax.set_xticks(np.arange(0, len(months), step))
    ax.set_xticklabels(months[::step], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(grid)))
    ax.set_yticklabels(grid.index, fontsize=6)
    ax.set_xlabel("month")
    ax.set_title(f"{table}: (published - extract) / tolerance", fontsize=9)
    ax.figure.colorbar(im, ax=ax, label="difference in tolerances (|x| > 1 disagrees)")
    if len(xx):
        ax.legend(loc="upper right", fontsize=7, frameon=True)
    return ax
