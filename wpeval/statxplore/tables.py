"""Stat-Xplore-shaped monthly flow tables from referral-level data.

The Work Programme's official statistics count *events in a month* (flows), not outcomes of a
referral cohort. From an extract in the data contract (or the synthetic programme),
:func:`monthly_tables` counts, by calendar month and contract (CPA, prime) and payment group:

============================  ==============================================================
table                         one count per ...
============================  ==============================================================
``referrals``                 referral, in the month of ``referral_date``
``attachments``               attached referral, in the month of ``attachment_date`` (the
                              referral month when the extract has no attachment date; counted
                              in ``attrs``)
``job_outcomes``              job outcome, in the month of ``job_outcome_date``, with
                              ``jo_length_weeks`` the group's trigger (13 or 26 weeks)
``sustainments``              sustainment payment k = 1..``sustainment_payments``, in the
                              month of ``job_outcome_date + 28 k`` days
``sustainment_individuals``   person with at least one sustainment payment in the month
============================  ==============================================================

Assumptions (see docs/assumptions.md, "Official statistics"): a payment falls in the month its
qualifying period ends (DWP counted validated payments, which come later: claims can be made 15
working days after the period ends, and validation takes longer); the extract carries the
number of sustainment payments, not their dates, so they are placed every 28 days after the
outcome, which is the payment rule when employment is continuous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore.demographics import BREAKDOWNS, derive
from wpeval.statxplore.lookup import load_lookup

__all__ = ["KEYS", "TABLES", "monthly_tables", "tables_like"]

TABLES = ("referrals", "attachments", "job_outcomes", "sustainments", "sustainment_individuals")
#: key columns of every table, in order (``jo_length_weeks`` only in job_outcomes)
KEYS = ("table", "month", "cpa", "prime", "payment_group")


def _need(df: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError(
            f"monthly tables need the columns {missing}", column=missing[0], rule="required_column"
        )


def _count(frame: pd.DataFrame, month: pd.Series, table: str, by: list[str]) -> pd.DataFrame:
    """Rows of ``frame`` counted by ``month`` (aligned with it) and the ``by`` columns.
    Grouped on the key columns themselves: assigning ``month`` first copies the frame."""
    keys = [month.rename("month"), *(frame[c] for c in by)]
    out = frame.groupby(keys, observed=True, sort=True).size().rename("value").reset_index()
    out.insert(0, "table", table)
    out["value"] = out["value"].astype(float)
    return out


def _sustainment_events(df: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, int]:
    """One row per sustainment payment (``by``, ``month``, ``person``: the row's position), in
    row then date order, payments placed after the extract date dropped; and how many were
    dropped. Only the ``by`` columns are repeated per payment."""
    n = pd.to_numeric(df["sustainment_payments"], errors="coerce").fillna(0).astype(int)
    has = ((n > 0) & df["job_outcome_date"].notna()).to_numpy()
    reps = n.to_numpy()[has]
    rows = np.repeat(np.flatnonzero(has), reps)
    k = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps) + 1  # 1..n_i per row
    date = df["job_outcome_date"].iloc[rows].reset_index(drop=True)
    date = date + pd.to_timedelta(28 * k, unit="D")
    end = df["data_end_date"].iloc[rows].reset_index(drop=True)
    late = (end.notna() & (date > end)).to_numpy()
    if late.any():
        rows, date = rows[~late], date[~late].reset_index(drop=True)
    ev = df[by].iloc[rows].reset_index(drop=True)
    ev["month"] = date.dt.to_period("M")
    ev["person"] = rows
    return ev, int(late.sum())


def _individuals(ev: pd.DataFrame) -> pd.DataFrame:
    """The first payment of each person in each month.

    :func:`_sustainment_events` lists each person's payments together and in date order, so a
    person's payments in one month are adjacent rows: keeping the first row of each run of
    equal ``(person, month)`` is ``drop_duplicates(["person", "month"])`` without hashing
    (which on the ``Period`` column boxes every value: 11 s at 2M referrals, against 0.02 s).
    """
    person = ev["person"].to_numpy()
    month = ev["month"].array.asi8
    first = np.ones(len(ev), dtype=bool)
    first[1:] = (person[1:] != person[:-1]) | (month[1:] != month[:-1])
    return ev.loc[first]


def monthly_tables(
    data: pd.DataFrame,
    *,
    tables=TABLES,
    by=("cpa", "prime", "payment_group"),
    programme=None,
    demographics=None,
) -> pd.DataFrame:
    """Monthly flow counts in Stat-Xplore's shape from referral-level data.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data in the data contract (dates as datetimes).
    tables : sequence of str
        Which of :data:`TABLES` to compute.
    by : sequence of str
        Breakdown columns besides the month (default contract and payment group). The
        demographic breakdowns ``"age_band"``, ``"gender"`` and ``"disability"`` are derived
        from the extract's ``age``, ``sex`` and ``disability`` columns and hold the published
        labels (:mod:`wpeval.statxplore.demographics`); any other name is an extract column
        used as it is.
    programme : Programme or path, optional
        Gives each payment group's job-outcome trigger (``jo_length_weeks``); default
        :func:`wpeval.data.programme.load`.
    demographics : Demographics, optional
        Labels and age bands of the demographic breakdowns (default: those of
        :func:`wpeval.statxplore.load_lookup`, e.g. ``lookup.demographics``).

    Returns
    -------
    pandas.DataFrame
        Long: ``table, month`` (``Period[M]``), the ``by`` columns, ``jo_length_weeks`` (job
        outcomes only, NaN elsewhere) and ``value`` (float count). Only non-zero cells appear.
        ``attrs["statxplore_tables"]`` counts what was imputed or left out:
        ``attachments_dated_by_referral`` (attached rows without an attachment date) and
        ``sustainments_after_extract`` (payments placed after the extract date, dropped);
        for each demographic breakdown, ``unknown_<column>`` (referrals with the value missing,
        or an age in no band, counted under the unknown label), and for ``age_band``
        ``age_outside_bands``.
    """
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ParameterError(f"unknown table(s) {unknown}; known: {list(TABLES)}")
    by = list(by)
    sources = [BREAKDOWNS.get(c, c) for c in by]
    _need(data, ["referral_date", *sources])
    prog = programme if hasattr(programme, "payment_groups") else _programme.load(programme)
    out = []
    wanted = [*sources, "referral_date", "attached", "attachment_date", "job_outcome_date"]
    wanted += ["payment_group", "sustainment_payments", "data_end_date"]
    df = data[[c for c in dict.fromkeys(wanted) if c in data.columns]].copy()  # only what is used
    for col in ("referral_date", "attachment_date", "job_outcome_date", "data_end_date"):
        if col in df:
            df[col] = pd.to_datetime(df[col])
    if set(by) & set(BREAKDOWNS):
        if demographics is None:
            demographics = load_lookup(programme=prog).demographics
        df, notes = derive(df, by, demographics)
    else:
        notes = {}
    if "referrals" in tables:
        out.append(_count(df, df["referral_date"].dt.to_period("M"), "referrals", by))
    if "attachments" in tables:
        _need(df, ["attached"])
        att = df[df["attached"].astype(bool)]
        if "attachment_date" in att:
            date = att["attachment_date"].fillna(att["referral_date"])
            notes["attachments_dated_by_referral"] = int(att["attachment_date"].isna().sum())
        else:
            date = att["referral_date"]
            notes["attachments_dated_by_referral"] = len(att)
        out.append(_count(att, date.dt.to_period("M"), "attachments", by))
    if "job_outcomes" in tables:
        _need(df, ["job_outcome_date", "payment_group"])
        jo = df[df["job_outcome_date"].notna()]
        weeks = {k: g.jo_trigger_weeks for k, g in prog.payment_groups.items()}
        jo = jo.assign(jo_length_weeks=jo["payment_group"].astype(str).map(weeks))
        if jo["jo_length_weeks"].isna().any():
            raise DataContractError(
                "payment group not in the programme file",
                column="payment_group",
                rule="known_payment_group",
                examples=jo.loc[jo["jo_length_weeks"].isna(), "payment_group"]
                .unique()[:5]
                .tolist(),
            )
        month = jo["job_outcome_date"].dt.to_period("M")
        out.append(_count(jo, month, "job_outcomes", by + ["jo_length_weeks"]))
    if {"sustainments", "sustainment_individuals"} & set(tables):
        _need(df, ["job_outcome_date", "sustainment_payments"])
        ev, late = _sustainment_events(df, by)
        notes["sustainments_after_extract"] = late
        if "sustainments" in tables:
            out.append(_count(ev, ev["month"], "sustainments", by))
        if "sustainment_individuals" in tables:
            ind = _individuals(ev)
            out.append(_count(ind, ind["month"], "sustainment_individuals", by))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[*KEYS, "value"])
    cols = ["table", "month", *by] + (["jo_length_weeks"] if "jo_length_weeks" in res else [])
    res = res[cols + ["value"]]
    for c in by:
        res[c] = res[c].astype(str)
    res.attrs["statxplore_tables"] = notes
    return res


def tables_like(data: pd.DataFrame, published: pd.DataFrame, *, lookup=None) -> pd.DataFrame:
    """:func:`monthly_tables` of ``data`` for the tables of ``published`` and with its
    breakdowns (contract, payment group, age band, gender, disability: those it carries), ready
    for :func:`wpeval.statxplore.reconcile`.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level extract.
    published : pandas.DataFrame
        :func:`wpeval.statxplore.work_programme` output (one or more databases).
    lookup : ContractLookup, optional
        Its programme and demographic labels are used (default :func:`load_lookup`).
    """
    lookup = lookup or load_lookup()
    present = [c for c in published.columns if published[c].notna().any()]
    by = [c for c in ("cpa", "prime", "payment_group", *BREAKDOWNS) if c in present]
    return monthly_tables(
        data,
        tables=[t for t in TABLES if t in set(published["table"])],
        by=by,
        programme=lookup.programme,
        demographics=lookup.demographics,
    )
