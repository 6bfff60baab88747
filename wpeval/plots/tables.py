"""Plots of the report tables and payment-group differences.

Free functions ``plot_*(result, ax=None, ...) -> Axes``. They draw the *published* values of a
:class:`wpeval.publish.tables.StatTable` (after disclosure control: suppressed points are left out),
never the unrounded ones. They never call ``plt.show()``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from wpeval.exceptions import ParameterError
from wpeval.plots.theme import colour

__all__ = [
    "plot_cohort_rates",
    "plot_cumulative",
    "plot_group_rates",
    "plot_prime_effects",
    "plot_mpl",
    "plot_payments",
]


def _ax(ax, size=(7, 4)):
    """The given Axes, or a new one on a pyplot-free Figure (safe without a display)."""
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=size).add_subplot(1, 1, 1)
    return ax


def _rows(table) -> pd.DataFrame:
    pub = table.published
    return pub[[str(i if not isinstance(i, tuple) else i[0]) != "Total" for i in pub.index]]


def plot_cohort_rates(table, ax=None, *, column: str | None = None, label: str | None = None):
    """Line plot of a rate by referral cohort (e.g. the 12-month job-outcome rate).

    Parameters
    ----------
    table : StatTable
        From :func:`wpeval.publish.tables.outcome_rates` with ``by="cohort"`` (column ``rate``) or
        :func:`wpeval.publish.tables.cumulative_rates` (choose ``column``, e.g. ``"12 months"``).
    ax : matplotlib Axes, optional
    column : str, optional
        Rate column; default ``rate`` or the table's first column.
    label : str, optional
        Legend label.
    """
    rows = _rows(table)
    column = column or ("rate" if "rate" in rows.columns else rows.columns[0])
    if column not in rows.columns:
        raise ParameterError(f"no column {column!r}; columns are {list(rows.columns)}")
    ax = _ax(ax, (9, 4))
    x = pd.PeriodIndex([str(i) for i in rows.index], freq="M").to_timestamp()
    ax.plot(x, rows[column].astype(float).to_numpy(), marker="o", ms=3, label=label or column)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Referral cohort (month)")
    ax.set_ylabel("Job-outcome rate")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return ax


def plot_cumulative(table, ax=None, *, groups=None):
    """Cumulative job-outcome rate by months since referral, one line per group.

    Parameters
    ----------
    table : StatTable
        From :func:`wpeval.publish.tables.cumulative_rates` (uses its ``.data`` curve).
    ax : matplotlib Axes, optional
    groups : list, optional
        Groups (first breakdown level) to draw; default all but the Total.
    """
    data = table.data
    if data is None or "months" not in data:
        raise ParameterError("plot_cumulative needs a table from tables.cumulative_rates")
    key = data.columns[0]
    groups = groups or [g for g in data[key].unique() if g != "Total"]
    ax = _ax(ax)
    for g in groups:
        d = data[data[key] == g]
        ax.plot(d["months"], d["rate"], marker=".", label=str(g))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Months since referral")
    ax.set_ylabel("Cumulative job-outcome rate")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return ax


def plot_group_rates(result, ax=None, *, labels: dict | None = None):
    """Outcome rate by payment group with confidence intervals (horizontal).

    Parameters
    ----------
    result : GroupDifferences or EffectTable
        From :func:`wpeval.estimators.heterogeneity.group_differences` (its ``rates``) or
        :func:`~wpeval.estimators.heterogeneity.group_rates`.
    ax : matplotlib Axes, optional
    labels : dict, optional
        Code -> display label (e.g. ``programme.load().group_labels()``).
    """
    tab = (result.rates if hasattr(result, "rates") else result).tidy()
    ax = _ax(ax, (7, 0.5 * len(tab) + 1.5))
    from wpeval.plots.models import plot_interval_points

    tab = tab.assign(term=[(labels or {}).get(t, t) for t in tab["term"]])
    plot_interval_points(tab, ax)
    ax.set_ylabel("")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Rate (95% CI)")
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_prime_effects(result, ax=None, *, cpa: str):
    """Within-group prime effects for one CPA (point and CI per group and prime).

    Parameters
    ----------
    result : GroupDifferences
    ax : matplotlib Axes, optional
    cpa : str
        CPA code.
    """
    tab = result.prime_effects.tidy()
    tab = tab[tab["cpa"] == cpa]
    if tab.empty:
        raise ParameterError(f"no prime effects for {cpa!r}")
    ax = _ax(ax, (7, 0.45 * len(tab) + 1.5))
    from wpeval.plots.models import plot_interval_points

    tab = tab.assign(
        term=[f"{g}: {p} - {r}" for g, p, r in zip(tab["group"], tab["prime"], tab["reference"])]
    )
    plot_interval_points(tab, ax)
    ax.axvline(0, color=colour("reference"), lw=1)
    ax.set_ylabel("")
    ax.set_xlabel("Difference in outcome rate (95% CI)")
    ax.set_title(cpa)
    return ax


def plot_mpl(table, ax=None, *, contract_year: int | str = 2, group: str = "jsa_25_plus"):
    """Each contract's job-outcome rate against its MPL for one year and group.

    Parameters
    ----------
    table : StatTable
        From :func:`wpeval.publish.tables.mpl_table`.
    ax : matplotlib Axes, optional
    contract_year : int or str, default 2
    group : str, default "jsa_25_plus"
    """
    pub = table.published.reset_index()
    d = pub[
        (pub["contract_year"].astype(str) == str(contract_year)) & (pub["payment_group"] == group)
    ]
    if d.empty:
        raise ParameterError(f"no MPL rows for year {contract_year} and group {group!r}")
    ax = _ax(ax, (7, 0.3 * len(d) + 1.5))
    y = np.arange(len(d))[::-1]
    ax.scatter(d["rate"].astype(float), y, label="job-outcome rate", zorder=3)
    ax.scatter(d["mpl"].astype(float), y, marker="|", s=200, color=colour("alert"), label="MPL")
    ax.set_yticks(y, [f"{c} {p}" for c, p in zip(d["cpa"], d["prime"])], fontsize="small")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Share of the year's referrals with a job outcome within 12 months")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"Contract year {contract_year}, {group}")
    return ax


def plot_payments(table, ax=None, *, column: str = "total_paid"):
    """Horizontal bars of a payments column (e.g. ``total_paid`` or
    ``paid_per_job_outcome``) by contract.

    Parameters
    ----------
    table : StatTable
        From :func:`wpeval.publish.tables.payments_table`.
    ax : matplotlib Axes, optional
    column : str, default "total_paid"
    """
    rows = _rows(table)
    if column not in rows.columns:
        raise ParameterError(f"no column {column!r}")
    ax = _ax(ax, (7, 0.25 * len(rows) + 1.5))
    labels = [" ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in rows.index]
    import seaborn as sns

    frame = pd.DataFrame({"contract": labels, column: rows[column].astype(float).to_numpy()})
    sns.barplot(data=frame, y="contract", x=column, orient="h", color=colour("estimate"), ax=ax)
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize="small")
    ax.set_xlabel(f"{column.replace('_', ' ')} (pounds)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.0f}"))
    return ax
