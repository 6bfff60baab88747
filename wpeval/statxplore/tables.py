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

__all__ = ["KEYS", "TABLES", "monthly_tables"]

TABLES = ("referrals", "attachments", "job_outcomes", "sustainments", "sustainment_individuals")
#: key columns of every table, in order (``jo_length_weeks`` only in job_outcomes)
KEYS = ("table", "month", "cpa", "prime", "payment_group")


def _need(df: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError(
            f"monthly tables need the columns {missing}", column=missing[0], rule="required_column"
        )


def _count(frame: pd.DataFrame, table: str, by: list[str], weight=None) -> pd.DataFrame:
    keys = ["month", *by]
    if weight is None:
        out = frame.groupby(keys, observed=True, sort=True).size().rename("value")
    else:
        out = frame.assign(_w=weight).groupby(keys, observed=True, sort=True)["_w"].sum()
        out = out.rename("value")
    out = out.reset_index()
    out.insert(0, "table", table)
    out["value"] = out["value"].astype(float)
    return out


def _sustainment_events(df: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, int]:
    n = pd.to_numeric(df["sustainment_payments"], errors="coerce").fillna(0).astype(int)
    has = (n > 0) & df["job_outcome_date"].notna()
    base = df.loc[has, by + ["job_outcome_date", "data_end_date"]]
    reps = n[has].to_numpy()
    idx = np.repeat(np.arange(len(base)), reps)
    k = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps) + 1  # 1..n_i per row
    ev = base.iloc[idx].reset_index(drop=True)
    ev["date"] = ev["job_outcome_date"] + pd.to_timedelta(28 * k, unit="D")
    ev["person"] = np.repeat(np.flatnonzero(has.to_numpy()), reps)
    late = ev["data_end_date"].notna() & (ev["date"] > ev["data_end_date"])
    return ev.loc[~late], int(late.sum())


def monthly_tables(
    data: pd.DataFrame, *, tables=TABLES, by=("cpa", "prime", "payment_group"), programme=None
) -> pd.DataFrame:
    """Monthly flow counts in Stat-Xplore's shape from referral-level data.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data in the data contract (dates as datetimes).
    tables : sequence of str
        Which of :data:`TABLES` to compute.
    by : sequence of str
        Breakdown columns besides the month (default contract and payment group; add e.g.
        ``"sex"`` for a characteristic).
    programme : Programme or path, optional
        Gives each payment group's job-outcome trigger (``jo_length_weeks``); default
        :func:`wpeval.data.programme.load`.

    Returns
    -------
    pandas.DataFrame
        Long: ``table, month`` (``Period[M]``), the ``by`` columns, ``jo_length_weeks`` (job
        outcomes only, NaN elsewhere) and ``value`` (float count). Only non-zero cells appear.
        ``attrs["statxplore_tables"]`` counts what was imputed or left out:
        ``attachments_dated_by_referral`` (attached rows without an attachment date) and
        ``sustainments_after_extract`` (payments placed after the extract date, dropped).
    """
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ParameterError(f"unknown table(s) {unknown}; known: {list(TABLES)}")
    by = list(by)
    _need(data, ["referral_date", *by])
    prog = programme if hasattr(programme, "payment_groups") else _programme.load(programme)
    notes: dict[str, int] = {}
    out = []
    df = data.copy()
    for col in ("referral_date", "attachment_date", "job_outcome_date", "data_end_date"):
        if col in df:
            df[col] = pd.to_datetime(df[col])
    if "referrals" in tables:
        out.append(_count(df.assign(month=df["referral_date"].dt.to_period("M")), "referrals", by))
    if "attachments" in tables:
        _need(df, ["attached"])
        att = df[df["attached"].astype(bool)]
        if "attachment_date" in att:
            date = att["attachment_date"].fillna(att["referral_date"])
            notes["attachments_dated_by_referral"] = int(att["attachment_date"].isna().sum())
        else:
            date = att["referral_date"]
            notes["attachments_dated_by_referral"] = len(att)
        out.append(_count(att.assign(month=date.dt.to_period("M")), "attachments", by))
    if "job_outcomes" in tables:
        _need(df, ["job_outcome_date", "payment_group"])
        jo = df[df["job_outcome_date"].notna()]
        weeks = {k: g.jo_trigger_weeks for k, g in prog.payment_groups.items()}
        jo = jo.assign(
            month=jo["job_outcome_date"].dt.to_period("M"),
            jo_length_weeks=jo["payment_group"].astype(str).map(weeks),
        )
        if jo["jo_length_weeks"].isna().any():
            raise DataContractError(
                "payment group not in the programme file",
                column="payment_group",
                rule="known_payment_group",
                examples=jo.loc[jo["jo_length_weeks"].isna(), "payment_group"]
                .unique()[:5]
                .tolist(),
            )
        t = _count(jo, "job_outcomes", by + ["jo_length_weeks"])
        out.append(t)
    if {"sustainments", "sustainment_individuals"} & set(tables):
        _need(df, ["job_outcome_date", "sustainment_payments"])
        ev, late = _sustainment_events(df, by)
        notes["sustainments_after_extract"] = late
        ev["month"] = ev["date"].dt.to_period("M")
        if "sustainments" in tables:
            out.append(_count(ev, "sustainments", by))
        if "sustainment_individuals" in tables:
            ind = ev.drop_duplicates(["person", "month"])
            out.append(_count(ind, "sustainment_individuals", by))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[*KEYS, "value"])
    cols = ["table", "month", *by] + (["jo_length_weeks"] if "jo_length_weeks" in res else [])
    res = res[cols + ["value"]]
    for c in by:
        res[c] = res[c].astype(str)
    res.attrs["statxplore_tables"] = notes
    return res
