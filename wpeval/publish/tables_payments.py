"""Report tables of contract performance and money: minimum performance levels by contract
(:func:`mpl_table`) and payments by results (:func:`payments_table`). Part of
:mod:`wpeval.publish.tables`, which re-exports them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError
from wpeval.payments import PaymentsResult, Tariff, load_tariff, payments
from wpeval.publish import disclosure as sdc
from wpeval.publish.disclosure import StatTable, publish_table
from wpeval.publish.table_keys import (  # noqa: F401
    TOTAL,
    _day,
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


def mpl_table(
    df: pd.DataFrame,
    tariff: Tariff | str | Mapping | None = None,
    *,
    synthetic: bool = False,
    disclosure=True,
    title: str | None = None,
) -> StatTable:
    """Each contract's job-outcome rate against its minimum performance level (MPL).

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``cpa, prime, payment_group, referral_date,
        job_outcome_date, data_end_date``.
    tariff : Tariff, path, mapping or None
        Supplies the contract years, MPL groups, window (12 months), uplift (1.1) and
        non-intervention rates (``mpl`` section of the tariff YAML).
    synthetic, disclosure, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Rows (cpa, prime, contract_year, payment_group) for MPL groups; columns
        ``referrals`` (in the contract year), ``referrals_observed`` (window observed),
        ``job_outcomes`` (within the window), ``rate``, ``non_intervention``, ``mpl``,
        ``met`` ("yes", "no", "incomplete" while some referrals are not yet observed for
        the window) and ``status`` (V/D/U of the non-intervention rate).
    """
    tar = load_tariff(tariff)
    settings = _settings(disclosure, synthetic)
    _need(df, ["cpa", "prime", "payment_group"])
    groups = tar.mpl_groups
    sel = df["payment_group"].astype(str).isin(groups).to_numpy()
    sub = df.loc[sel]
    if sub.empty:
        raise DataContractError(
            f"no referrals in the MPL groups {groups}", column="payment_group", rule="mpl_groups"
        )
    K = int(tar.mpl["window_months"][0])
    keys = _keys(sub, ["cpa", "prime", "contract_year", "payment_group"], tar)
    codes, index = _group_codes(keys, len(sub))
    den, num = _window_counts(sub, codes, len(index), K)
    total = np.bincount(codes, minlength=len(index))
    values = pd.DataFrame(
        {"referrals": total, "referrals_observed": den[:, K], "job_outcomes": num[:, K]},
        index=index,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        values["rate"] = values["job_outcomes"] / values["referrals_observed"].where(
            values["referrals_observed"] > 0
        )
    uplift = float(tar.mpl["uplift"][0])
    ni = [
        tar.non_intervention(int(y), g)
        for y, g in zip(
            index.get_level_values("contract_year"), index.get_level_values("payment_group")
        )
    ]
    values["non_intervention"] = [v for v, _ in ni]
    values["mpl"] = values["non_intervention"] * uplift
    complete = values["referrals_observed"] == values["referrals"]
    met = np.where(values["rate"] >= values["mpl"], "yes", "no")
    values["met"] = np.where(complete, met, "incomplete")
    values["status"] = [s if tar.mpl["uplift"][1] != "U" else "U" for _, s in ni]
    kinds = {
        "referrals": "count",
        "referrals_observed": "count",
        "job_outcomes": "count",
        "rate": "rate",
        "non_intervention": "rate",
        "mpl": "rate",
        "met": "text",
        "status": "text",
    }
    st = publish_table(
        values,
        kinds,
        settings=settings,
        lines=None,
        rate_links={"rate": ("job_outcomes", "referrals_observed")},
        title=title
        or "Minimum performance levels: job-outcome rate within "
        f"{K} months by contract, contract year and payment group",
        notes=(
            f"MPL = {uplift:g} x non-intervention rate (groups "
            f"{', '.join(groups)}). Contract year by referral date: year 1 "
            "June 2011-March 2012, then April-March (assumption).",
            "status: V stated in a source, D derived, U unconfirmed placeholder.",
        ),
    )
    if settings is not None:  # a suppressed rate must not be revealed by 'met'
        pub = st.published.copy()
        pub["met"] = pub["met"].where(~st.suppressed["rate"], sdc.SUPPRESSED)
        st = replace(st, published=pub)
    return st


def payments_table(
    source: pd.DataFrame | PaymentsResult,
    by=("cpa", "prime"),
    *,
    tariff=None,
    until=None,
    synthetic: bool = False,
    disclosure=True,
    title: str | None = None,
) -> StatTable:
    """Payments by results by a breakdown, and per job outcome.

    Parameters
    ----------
    source : DataFrame or PaymentsResult
        Referral-level data (payments computed with ``tariff``) or a computed result.
    by : str or sequence, default ("cpa", "prime")
        Columns of the payments result (``cpa, prime, payment_group, contract_year``).
    tariff : optional
        Passed to :func:`wpeval.payments.payments` when ``source`` is a DataFrame.
    until : date-like, optional
        Count payments dated up to this date only.
    synthetic, disclosure, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Counts (referrals, attachments, job outcomes, sustainment payments), amounts paid
        (pounds, suppressed with their count), ``total_paid``, ``paid_per_job_outcome`` and
        ``placeholder_paid`` (the part relying on unconfirmed tariff values).
    """
    res = source if isinstance(source, PaymentsResult) else payments(source, tariff)
    settings = _settings(disclosure, synthetic)
    by = [by] if isinstance(by, str) else list(by)
    values = res.by(*by, until=until).drop(columns="paid_per_job_outcome")
    values.index = (
        pd.MultiIndex.from_frame(values.index.to_frame(index=False).astype(str))
        if values.index.nlevels > 1
        else values.index.astype(str).rename(by[0])
    )
    values = _with_total(values, values.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        values["paid_per_job_outcome"] = values["total_paid"] / values["job_outcomes"].where(
            values["job_outcomes"] > 0
        )
    counts = ["referrals", "attachments", "job_outcomes", "sustainment_payments"]
    links = {
        "attachment_paid": "attachments",
        "job_outcome_paid": "job_outcomes",
        "sustainment_paid": "sustainment_payments",
        "total_paid": "referrals",
        "placeholder_paid": "referrals",
    }
    kinds = {
        **{c: "count" for c in counts},
        **{c: "money" for c in links},
        "paid_per_job_outcome": "money",
    }
    st = publish_table(
        values[list(kinds)],
        kinds,
        settings=settings,
        money_links=links,
        rate_links={"paid_per_job_outcome": ("total_paid", "job_outcomes")},
        title=title or f"Payments by results by {' and '.join(by)} (pounds)",
        notes=(
            f"Tariff: {res.tariff.source}; DWP maximum prices less any "
            "contract discount. placeholder_paid: amounts using unconfirmed "
            "(U) tariff values.",
        ),
    )
    if settings is not None:
        pub = st.published.copy()
        pub["paid_per_job_outcome"] = sdc.round_to_base(
            st.values["paid_per_job_outcome"].to_numpy(), settings.money_base
        )
        pub["paid_per_job_outcome"] = pub["paid_per_job_outcome"].where(
            ~st.suppressed["paid_per_job_outcome"]
        )
        st = replace(st, published=pub)
    return st
