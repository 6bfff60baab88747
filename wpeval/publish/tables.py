"""Official-statistics style tables from referral-level data, with disclosure control.

The tables follow the Work Programme official statistics (DWP; domain.md section 3):

- :func:`summary_table`: referrals, attachments, job outcomes and sustainment payments by
  referral cohort (month), CPA, prime (contract) or payment group;
- :func:`crosstab`: one measure by two breakdowns with row and column totals;
- :func:`outcome_rates`: job-outcome rate within ``k`` months of referral (12 and 24 in the
  statistics) among referrals whose ``k`` months are fully observed;
- :func:`cumulative_rates`: the rate by months since referral (1..k) per cohort or group;
- :func:`mpl_table`: each contract's 12-month job-outcome rate against its minimum
  performance level (MPL = 1.1 x the non-intervention rate) by contract year and MPL group;
- :func:`payments_table`: payments by results by prime, CPA or group and per job outcome;
- :func:`report_tables`: the whole set.

Every table is a :class:`~wpeval.publish.disclosure.StatTable`: unrounded values, the published
(rounded, suppressed) values, the suppression mask, footnotes, and CSV / styled-HTML export.
Disclosure control (:mod:`wpeval.publish.disclosure`) is on by default and is switched off only with
``synthetic=True`` and ``disclosure=False``.

Window definitions match :func:`wpeval.data.outcomes.outcome_flags`: a referral is observed for
``k`` months when ``referral_date + k calendar months <= data_end_date`` and has an outcome
within ``k`` months when ``job_outcome_date <= referral_date + k months``. The statistics
count whole cohorts with ``k`` months observed; with one extract date the two agree.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.payments import Tariff, attached_flags, load_tariff, payments, sustainment_counts
from wpeval.publish import disclosure as sdc
from wpeval.publish.disclosure import StatTable, publish_table
from wpeval.publish.table_keys import (  # noqa: F401 - re-exported
    COUNT_MEASURES,
    PUBLISHED_2YR_RATES,
    TOTAL,
    _day,
    _factor,
    _group_codes,
    _keys,
    _months_observed,
    _months_to,
    _need,
    _settings,
    _window_counts,
    _with_total,
    add_months,
    cohort_labels,
)


# ----------------------------------------------------------------------- tables ----------
def _measure_columns(df: pd.DataFrame) -> pd.DataFrame:
    _need(df, ["attached", "job_outcome_date", "sustainment_payments"])
    return pd.DataFrame(
        {
            "referrals": np.ones(len(df), dtype=np.int64),
            "attachments": attached_flags(df).astype(np.int64),
            "job_outcomes": df["job_outcome_date"].notna().to_numpy().astype(np.int64),
            "sustainment_payments": sustainment_counts(df),
        }
    )


def summary_table(
    df: pd.DataFrame,
    by="cohort",
    *,
    measures: Sequence[str] = COUNT_MEASURES,
    synthetic: bool = False,
    disclosure=True,
    tariff: Tariff | None = None,
    title: str | None = None,
) -> StatTable:
    """Referrals, attachments, job outcomes and sustainment payments by a breakdown.

    Parameters
    ----------
    df : DataFrame
        Referral-level data.
    by : str or sequence of str, default "cohort"
        Breakdown: ``"cohort"`` (referral month), ``"contract_year"``, or columns such as
        ``"cpa"``, ``["cpa", "prime"]``, ``"payment_group"``.
    measures : sequence of str
        Any of ``referrals, attachments, job_outcomes, sustainment_payments``.
    synthetic, disclosure :
        Disclosure control (see :func:`wpeval.publish.disclosure.resolve_disclosure`).
    tariff : Tariff, optional
        For the contract-year definition.
    title : str, optional

    Returns
    -------
    StatTable
        One row per breakdown value plus a Total row. Job outcomes and sustainment payments
        are counted to the extract date (``sustainment_payments`` as recorded).
    """
    bad = [m for m in measures if m not in COUNT_MEASURES]
    if bad:
        raise ParameterError(f"unknown measures {bad}; choose from {COUNT_MEASURES}")
    settings = _settings(disclosure, synthetic)
    meas = _measure_columns(df)[list(measures)]
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    sums = {
        m: np.bincount(codes, weights=meas[m].to_numpy(), minlength=len(index)) for m in measures
    }
    values = pd.DataFrame(sums, index=index).astype(np.int64)
    values = _with_total(values, values.sum())
    label = by if isinstance(by, str) else " and ".join(by)
    return publish_table(
        values,
        {m: "count" for m in measures},
        settings=settings,
        title=title or f"Work Programme referrals and outcomes by {label}",
        notes=("Job outcomes and sustainment payments are counted to the data extract date.",),
    )


def crosstab(
    df: pd.DataFrame,
    index: str,
    columns: str,
    measure: str = "referrals",
    *,
    synthetic: bool = False,
    disclosure=True,
    tariff: Tariff | None = None,
    title: str | None = None,
) -> StatTable:
    """One count measure by two breakdowns, with row and column totals.

    Secondary suppression protects every row and column (see :mod:`wpeval.publish.disclosure`).

    Parameters
    ----------
    df : DataFrame
    index, columns : str
        Breakdowns (as in :func:`summary_table`'s ``by``).
    measure : str
        One of ``referrals, attachments, job_outcomes, sustainment_payments``.
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.
    """
    if measure not in COUNT_MEASURES:
        raise ParameterError(f"unknown measure {measure!r}; choose from {COUNT_MEASURES}")
    settings = _settings(disclosure, synthetic)
    meas = _measure_columns(df)[measure].to_numpy()
    rkey, ckey = _keys(df, [index], tariff)[0], _keys(df, [columns], tariff)[0]
    rn, cn = rkey[0], ckey[0]
    rc, rl = _group_codes([rkey], len(df))
    cc, cl = _group_codes([ckey], len(df))
    cells = np.bincount(rc * len(cl) + cc, weights=meas, minlength=len(rl) * len(cl))
    cells = cells.reshape(len(rl), len(cl)).astype(np.int64)
    values = pd.DataFrame(cells, index=rl, columns=list(cl))
    values[TOTAL] = values.sum(axis=1)
    values = _with_total(values, values.sum())
    values.columns.name = cn
    return publish_table(
        values,
        {c: "count" for c in values.columns},
        settings=settings,
        lines="table",
        title=title or f"{measure.replace('_', ' ').capitalize()} by {rn} and {cn}",
    )


def outcome_rates(
    df: pd.DataFrame,
    by="payment_group",
    *,
    months: int = 24,
    synthetic: bool = False,
    disclosure=True,
    tariff: Tariff | None = None,
    title: str | None = None,
) -> StatTable:
    """Job-outcome rate within ``months`` of referral, among referrals observed that long.

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``referral_date, job_outcome_date, data_end_date``.
    by : str, sequence or None
        Breakdown (as in :func:`summary_table`); None for the programme.
    months : int, default 24
        Window in calendar months (12 and 24 in the official statistics).
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        ``referrals_observed`` (denominator), ``job_outcomes`` (numerator), ``rate``; a
        Total row. Rates use unrounded counts.
    """
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError(f"months must be a positive integer, got {months!r}")
    settings = _settings(disclosure, synthetic)
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    den, num = _window_counts(df, codes, len(index), months)
    values = pd.DataFrame(
        {"referrals_observed": den[:, months], "job_outcomes": num[:, months]}, index=index
    )
    values = _with_total(values, values.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        values["rate"] = values["job_outcomes"] / values["referrals_observed"].where(
            values["referrals_observed"] > 0
        )
    return publish_table(
        values,
        {"referrals_observed": "count", "job_outcomes": "count", "rate": "rate"},
        settings=settings,
        rate_links={"rate": ("job_outcomes", "referrals_observed")},
        title=title or f"Job-outcome rate within {months} months of referral",
        notes=(
            f"Referrals whose {months} months after referral are fully "
            "observed by the extract date; job outcome on or before referral "
            f"date + {months} months.",
        ),
    )


def cumulative_rates(
    df: pd.DataFrame,
    by="cohort",
    *,
    max_months: int = 24,
    months: Sequence[int] = (3, 6, 12, 18, 24),
    synthetic: bool = False,
    disclosure=True,
    tariff: Tariff | None = None,
    title: str | None = None,
) -> StatTable:
    """Cumulative job-outcome rate by months since referral.

    Parameters
    ----------
    df : DataFrame
    by : str, sequence or None, default "cohort"
        Breakdown (referral month by default).
    max_months : int, default 24
        Longest window in the supporting curve (``.data``).
    months : sequence of int
        Windows shown as the table's columns (each <= ``max_months``).
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Rates (one column per window, ``"12 months"``...), a Total row, and ``.data``: the
        long curve ``[<by>..., months, referrals_observed, job_outcomes, rate, suppressed]``
        for k = 1..max_months. A rate is suppressed when its numerator or denominator is
        under the threshold, and missing (``[x]``) where no referral is observed that long.
    """
    months = [int(k) for k in months]
    if not months or min(months) < 1 or max(months) > max_months:
        raise ParameterError(f"months must lie in 1..max_months={max_months}, got {months}")
    settings = _settings(disclosure, synthetic)
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    den, num = _window_counts(df, codes, len(index), max_months)
    den = np.vstack([den, den.sum(axis=0)])
    num = np.vstack([num, num.sum(axis=0)])
    index = _with_total(pd.DataFrame(index=index), {}).index
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    supp = np.zeros_like(rate, dtype=bool)
    if settings is not None:
        supp = sdc.primary_suppression(num, settings) | sdc.primary_suppression(den, settings)
    cols = [f"{k} months" for k in months]
    values = pd.DataFrame(rate[:, months], index=index, columns=cols)
    mask = pd.DataFrame(supp[:, months], index=index, columns=cols)
    pub = values.where(~mask)
    ks = np.arange(1, max_months + 1)
    long = pd.DataFrame(
        {
            "months": np.tile(ks, len(index)),
            "referrals_observed": den[:, ks].ravel(),
            "job_outcomes": num[:, ks].ravel(),
            "rate": rate[:, ks].ravel(),
            "suppressed": supp[:, ks].ravel(),
        }
    )
    labels = index.to_frame(index=False).loc[np.repeat(np.arange(len(index)), max_months)]
    long = pd.concat([labels.reset_index(drop=True), long], axis=1)
    long["rate"] = long["rate"].where(~long["suppressed"])
    note = settings.note() if settings is not None else "No disclosure control (synthetic data)."
    return StatTable(
        title=title or "Cumulative job-outcome rate by months since referral",
        values=values,
        kinds={c: "rate" for c in cols},
        suppressed=mask,
        published=pub,
        disclosure=settings,
        data=long,
        notes=(
            "Rate after k months: job outcomes within k months among "
            "referrals observed for k months.",
            note,
        ),
    )


def compare_published(rates: StatTable) -> pd.DataFrame:
    """Put a 24-month rate-by-payment-group table beside the published 2-year rates
    (:data:`PUBLISHED_2YR_RATES`, L&W18, V) for the groups published."""
    rows = [
        (g, rates.value(g, "rate"), p)
        for g, p in PUBLISHED_2YR_RATES.items()
        if g in rates.values.index
    ]
    return pd.DataFrame(rows, columns=["payment_group", "rate", "published_rate"])


def report_tables(
    df: pd.DataFrame, *, tariff=None, synthetic: bool = False, disclosure=True
) -> dict[str, StatTable]:
    """The full set of report tables (the layout of the published statistics).

    Returns
    -------
    dict
        ``by_cohort, by_cpa, by_contract, by_payment_group, outcomes_cohort_by_group,
        rate_24m_by_group, rate_12m_by_cohort, cumulative_by_group, mpl,
        payments_by_contract, payments_by_group``.
    """
    tar = load_tariff(tariff)
    kw = {"synthetic": synthetic, "disclosure": disclosure}
    res = payments(df, tar, warn=False)
    return {
        "by_cohort": summary_table(df, "cohort", **kw),
        "by_cpa": summary_table(df, "cpa", **kw),
        "by_contract": summary_table(df, ["cpa", "prime"], **kw),
        "by_payment_group": summary_table(df, "payment_group", **kw),
        "outcomes_cohort_by_group": crosstab(df, "cohort", "payment_group", "job_outcomes", **kw),
        "rate_24m_by_group": outcome_rates(df, "payment_group", months=24, **kw),
        "rate_12m_by_cohort": outcome_rates(df, "cohort", months=12, **kw),
        "cumulative_by_group": cumulative_rates(df, "payment_group", **kw),
        "mpl": mpl_table(df, tar, **kw),
        "payments_by_contract": payments_table(res, ["cpa", "prime"], **kw),
        "payments_by_group": payments_table(res, "payment_group", **kw),
    }


from wpeval.publish.tables_payments import mpl_table, payments_table  # noqa: E402,F401
