"""Cost tables for publication: the value-for-money figures through the report's disclosure control.

:func:`publish_costs` takes the output of :func:`wpeval.value.costs.cost_figures` and returns a
:class:`~wpeval.publish.tables.StatTable` with small counts suppressed and rounded, amounts and
unit costs suppressed with their parts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.publish.disclosure import publish_table, resolve_disclosure

_ADDITIVE = (
    "referrals",
    "job_outcomes",
    "sustainment_payments",
    "total_paid",
    "placeholder_paid",
    "months_in_work_verified",
)


def publish_costs(costs: pd.DataFrame, *, title: str, disclosure=None, synthetic: bool = False):
    """A :func:`cost_figures` table with a Total row, under disclosure control.

    Parameters
    ----------
    costs : DataFrame
        Output of :func:`cost_figures` with one or more ``by`` columns.
    title : str
        Caption.
    disclosure : bool, Disclosure, mapping or None
        As :func:`wpeval.publish.disclosure.resolve_disclosure`: on unless ``synthetic=True`` and
        ``disclosure=False``.
    synthetic : bool, default False

    Returns
    -------
    StatTable
        Counts (referrals, job outcomes, sustainment payments) suppressed below the threshold
        and rounded; amounts follow the suppression of the job-outcome count; unit costs and
        rates are computed from unrounded figures and suppressed with their parts.
    """
    settings = resolve_disclosure(disclosure, synthetic)
    body = costs.reset_index()
    keys = [c for c in body.columns if c not in costs.columns]
    body[keys] = body[keys].astype(str)
    total = {k: "Total" for k in keys} | {c: float(costs[c].sum()) for c in _ADDITIVE}
    values = pd.concat([body, pd.DataFrame([total])], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        n, k, paid = values["referrals"], values["job_outcomes"], values["total_paid"]
        values["paid_per_referral"] = paid / n
        values["paid_per_job_outcome"] = np.where(k > 0, paid / k, np.nan)
        months = values["months_in_work_verified"]
        values["paid_per_month_in_work"] = np.where(months > 0, paid / months, np.nan)
        values["job_outcome_rate"] = k / n
        values["placeholder_share"] = np.where(paid > 0, values["placeholder_paid"] / paid, 0.0)
    values["months_in_work_verified"] = values["months_in_work_verified"].round(1)
    kinds = {c: "text" for c in keys} | {
        "referrals": "count",
        "job_outcomes": "count",
        "sustainment_payments": "count",
        "total_paid": "money",
        "placeholder_paid": "money",
        "months_in_work_verified": "months",  # shown as a number, suppressed with outcomes
        "paid_per_referral": "money",
        "paid_per_job_outcome": "money",
        "paid_per_month_in_work": "money",
        "job_outcome_rate": "rate",
        "placeholder_share": "rate",
    }
    return publish_table(
        values[list(kinds)],
        kinds,
        title=title,
        settings=settings,
        money_links={"total_paid": "job_outcomes", "placeholder_paid": "job_outcomes"},
        rate_links={
            "months_in_work_verified": ("job_outcomes", "job_outcomes"),
            "paid_per_referral": ("total_paid", "referrals"),
            "paid_per_job_outcome": ("total_paid", "job_outcomes"),
            "paid_per_month_in_work": ("total_paid", "job_outcomes"),
            "job_outcome_rate": ("job_outcomes", "referrals"),
            "placeholder_share": ("placeholder_paid", "total_paid"),
        },
        lines="columns",
        notes=("Observed payments only; projected payments are shown apart.",),
    )
