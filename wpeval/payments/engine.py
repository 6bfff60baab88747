"""Payments by results: the tariff and the payments it implies for each referral.

A Work Programme prime was paid three kinds of fee per participant (domain.md section 1):

- an **attachment fee** when the participant attached, phased down to zero over the contract
  life (share of the year-1 fee by contract year, ``attachment_phase`` in the tariff) and not
  paid at all for attachments from April 2014;
- a **job-outcome fee** when the participant had been in work for the trigger period (26 weeks
  for JSA 18-24 and 25+, 13 weeks for the other groups), paid at ``job_outcome_date``;
- **sustainment payments** every further 4 weeks in work, at ``job_outcome_date + 4k weeks``
  (k = 1, 2, ...), up to the group's cap (13, 20 or 26 payments).

The tariff lives in ``wpeval/config/tariff.yaml`` (DWP's maximum prices; every value has a
status V/D/U). Values marked **U** are placeholders: every referral whose payment uses one is
flagged (``placeholder``), the amounts involved are totalled separately and a
:class:`~wpeval.exceptions.StatisticalWarning` names them.

The computation is vectorised (one pass of numpy indexing over the referrals): 2 million
referrals take 1-2 s (benchmarks/tables.py). It is hand-written because no library models this
tariff. The columns it reads are checked and converted in :mod:`wpeval.payments.columns`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, StatisticalWarning
from wpeval.payments.columns import (  # noqa: F401 - attached_flags, sustainment_counts re-exported
    _dates,
    _examples,
    _unique_columns,
    attached_flags,
    sustainment_counts,
)
from wpeval.payments.result import PaymentsResult
from wpeval.payments.tariff import ITEMS, REQUIRED, SUSTAINMENT_DAYS, Tariff, load_tariff


def _tariff_arrays(tar: Tariff, years: int):
    """(G, Y) arrays of each item's value and U flag, including the attachment phase."""
    codes = list(tar.groups)
    shape = (len(codes), years)
    vals = {i: np.zeros(shape) for i in ITEMS}
    unk = {i: np.zeros(shape, dtype=bool) for i in ITEMS}
    for gi, g in enumerate(codes):
        for y in range(years):
            for item in ITEMS:
                v, s = tar.value(g, item, y + 1)
                vals[item][gi, y], unk[item][gi, y] = v, s == "U"
    return codes, vals, unk


def payments(
    referrals: pd.DataFrame,
    tariff: "Tariff | str | Path | Mapping | None" = None,
    *,
    discounts: Mapping | None = None,
    warn: bool = True,
) -> PaymentsResult:
    """Attachment, job-outcome and sustainment payments for each referral.

    Parameters
    ----------
    referrals : DataFrame
        Referral-level data (data contract) with at least ``person_id, referral_date, cpa,
        prime, payment_group, attached, job_outcome_date, sustainment_payments``; optional
        ``attachment_date`` (else attached referrals are paid at ``referral_date``, counted
        in the checks) and ``data_end_date`` (to check sustainment dates).
    tariff : Tariff, path, mapping or None
        See :func:`load_tariff`; None uses DWP's maxima with no discount.
    discounts : mapping, optional
        Per-contract bid discounts, ``{(cpa, prime): 0.06}``, overriding the tariff's.
    warn : bool, default True
        Emit a StatisticalWarning when placeholder (U) tariff values were used.

    Returns
    -------
    PaymentsResult

    Notes
    -----
    Payment rules: attachment fee = group's year-1 fee x phase share of the contract year
    (zero for attachments on/after ``no_attachment_fee_from``), paid at ``attachment_date``;
    job-outcome fee paid at ``job_outcome_date``; sustainment payment k (k = 1..n) at
    ``job_outcome_date + 28k`` days where n = min(``sustainment_payments``, cap). Every fee is
    multiplied by (1 - contract discount). Amounts are in pounds, rounded to pence.
    The contract year is that of ``referral_date`` (or ``attachment_date``, per the tariff).

    Raises
    ------
    DataContractError
        Missing columns, non-datetime dates, negative or missing ``sustainment_payments``,
        or a payment group not in the tariff.
    """
    tar = load_tariff(tariff, discounts=discounts)
    df = referrals
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataContractError(
            f"payments need columns {missing}", column=missing[0], rule="required_column"
        )
    _unique_columns(df, list(REQUIRED) + ["attachment_date"])
    checks: list[tuple[str, int, str]] = [("referrals", len(df), "all paid per the tariff")]
    ref, attached, att_date = _referral_dates(df, checks)
    gi = _group_index(df, tar)
    cy = _contract_years(tar, ref, att_date, checks)
    years = int(max(cy.max(initial=1), max(tar.attachment_phase), 4))
    _, vals, unk = _tariff_arrays(tar, years)
    yi = cy - 1
    disc = _discounts(df, tar)
    mult = 1.0 - disc
    att_paid = _attachment_fees(tar, vals, gi, yi, mult, attached, att_date, checks)
    jo_date = _dates(df, "job_outcome_date")
    has_jo = ~np.isnat(jo_date)
    jo_paid = np.where(has_jo, np.round(vals["job_outcome"][gi, yi] * mult, 2), 0.0)
    checks.append(
        (
            "job_outcome_without_attachment",
            int((has_jo & ~attached).sum()),
            "job-outcome fee paid although not attached (kept)",
        )
    )
    sus = _sustainment(df, vals, gi, yi, mult, jo_date, checks)
    # placeholder flags: bit 1 attachment, 2 job outcome, 4 sustainment
    u_att = attached & (att_paid > 0) & unk["attachment"][gi, yi]
    u_jo = has_jo & unk["job_outcome"][gi, yi]
    u_sus = (sus["n"] > 0) & (unk["sustainment_fee"][gi, yi] | unk["sustainment_cap"][gi, yi])
    parts = (u_att * 1 + u_jo * 2 + u_sus * 4).astype(np.int8)
    placeholder_paid = att_paid * u_att + jo_paid * u_jo + sus["paid"] * u_sus
    checks.append(
        (
            "placeholder_rows",
            int((parts > 0).sum()),
            "an amount uses an unconfirmed (U) tariff value: flagged `placeholder`",
        )
    )
    out = pd.DataFrame(
        {
            "person_id": df["person_id"].to_numpy(),
            "referral_date": ref,
            "cpa": df["cpa"].to_numpy(),
            "prime": df["prime"].to_numpy(),
            "payment_group": df["payment_group"].to_numpy(),
            "contract_year": cy,
            "discount": disc,
            "attached": attached,
            "attachment_date": att_date,
            "attachment_paid": att_paid,
            "job_outcome_date": jo_date,
            "job_outcome_paid": jo_paid,
            "sustainment_count": sus["n"],
            "sustainment_fee": sus["fee"],
            "sustainment_paid": sus["paid"],
            "sustainment_first_date": sus["first"],
            "sustainment_last_date": sus["last"],
            "sustainment_capped": sus["capped"],
            "total_paid": att_paid + jo_paid + sus["paid"],
            "placeholder": parts > 0,
            "placeholder_paid": placeholder_paid,
            "placeholder_parts": parts,
        },
        index=df.index,
    )
    placeholders = _placeholder_table(out, list(tar.groups), vals, unk, gi, yi, u_att, u_jo, u_sus)
    if warn and len(placeholders):
        _warn_placeholders(placeholders, parts, placeholder_paid)
    return PaymentsResult(
        referrals=out,
        checks=pd.DataFrame(checks, columns=["check", "rows", "action"]),
        placeholders=placeholders,
        tariff=tar,
    )


def _referral_dates(df: pd.DataFrame, checks: list):
    """Referral dates (none missing), attached flags and attachment dates (referral date
    where an attached row has none, counted)."""
    ref = _dates(df, "referral_date")
    if np.isnat(ref).any():
        raise DataContractError(
            "referral_date has missing values",
            column="referral_date",
            rule="not_null",
            examples=_examples(df, np.isnat(ref)),
        )
    attached = attached_flags(df)
    if "attachment_date" in df.columns:
        att_date = _dates(df, "attachment_date")
        imputed = attached & np.isnat(att_date)
        att_date = np.where(imputed, ref, att_date)
    else:
        imputed = attached.copy()
        att_date = ref.copy()
    att_date = np.where(attached, att_date, np.datetime64("NaT"))
    checks.append(
        (
            "attachment_date_imputed",
            int(imputed.sum()),
            "attached but no attachment_date: fee paid at referral_date",
        )
    )
    return ref, attached, att_date


def _group_index(df: pd.DataFrame, tar: Tariff) -> np.ndarray:
    """Row index of each referral's payment group in the tariff; unknown groups raise."""
    codes = list(tar.groups)
    grp = pd.Categorical(df["payment_group"].astype(str), categories=codes)
    gi = grp.codes.astype(np.int64)
    if (gi < 0).any():
        bad = gi < 0
        vals = sorted(set(df["payment_group"].astype(str).to_numpy()[bad]))[:5]
        raise DataContractError(
            f"payment groups {vals} are not in the tariff ({codes})",
            column="payment_group",
            rule="known_code",
            examples=_examples(df, bad),
        )
    return gi


def _contract_years(tar: Tariff, ref, att_date, checks: list) -> np.ndarray:
    basis = att_date if tar.basis[0] == "attachment_date" else ref
    basis = np.where(np.isnat(basis), ref, basis)
    before = int((ref < np.datetime64(tar.start[0], "ns")).sum())
    checks.append(("referral_before_programme_start", before, "given contract year 1"))
    return tar.contract_year(basis)


def _discounts(df: pd.DataFrame, tar: Tariff) -> np.ndarray:
    """Bid discount of each referral's contract."""
    disc = np.full(len(df), tar.default_discount)
    if tar.discounts:
        keys = pd.MultiIndex.from_arrays([df["cpa"].astype(str), df["prime"].astype(str)])
        codes_c, uniq = pd.factorize(keys)
        per = np.array([tar.discounts.get(k, tar.default_discount) for k in uniq])
        disc = per[codes_c]
    return disc


def _attachment_fees(tar: Tariff, vals, gi, yi, mult, attached, att_date, checks: list):
    """Attachment fee by group and contract year, none from ``no_attachment_fee_from``."""
    att_fee = vals["attachment"][gi, yi] * mult
    no_fee = np.zeros(len(gi), dtype=bool)
    stop_label = (
        "never"
        if tar.no_attachment_fee_from[0] is None
        else str(pd.Timestamp(tar.no_attachment_fee_from[0]).date())
    )
    if tar.no_attachment_fee_from[0] is not None:
        cut = np.datetime64(tar.no_attachment_fee_from[0], "ns")
        no_fee = attached & (att_date >= cut) & (att_fee > 0)
        att_fee = np.where(no_fee, 0.0, att_fee)
    checks.append(
        (
            "attachment_fee_stopped",
            int(no_fee.sum()),
            f"attached on/after {stop_label}: no attachment fee",
        )
    )
    return np.where(attached, np.round(att_fee, 2), 0.0)


def _sustainment(df: pd.DataFrame, vals, gi, yi, mult, jo_date, checks: list) -> dict:
    """Sustainment payments: none without a job outcome, capped, their first and last
    dates (``job_outcome_date + 28k`` days)."""
    has_jo = ~np.isnat(jo_date)
    sp = sustainment_counts(df)
    orphan = (sp > 0) & ~has_jo
    checks.append(
        (
            "sustainment_without_job_outcome",
            int(orphan.sum()),
            "sustainment payments without a job outcome: set to 0",
        )
    )
    sp = np.where(orphan, 0, sp)
    cap = vals["sustainment_cap"][gi, yi].astype(np.int64)
    capped = sp > cap
    n_sus = np.minimum(sp, cap)
    checks.append(
        (
            "sustainment_capped",
            int(capped.sum()),
            "more sustainment payments than the group's cap: capped",
        )
    )
    checks.append(
        (
            "sustainment_payments_removed_by_cap",
            int((sp - n_sus).sum()),
            "payments above the cap not paid",
        )
    )
    fee = np.round(vals["sustainment_fee"][gi, yi] * mult, 2)
    fee = np.where(has_jo, fee, 0.0)
    first = np.where(
        n_sus > 0, jo_date + np.timedelta64(SUSTAINMENT_DAYS, "D"), np.datetime64("NaT")
    )
    last = np.where(
        n_sus > 0,
        jo_date + (n_sus * SUSTAINMENT_DAYS).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    if "data_end_date" in df.columns:
        end = _dates(df, "data_end_date")
        late = (n_sus > 0) & (last > end)
        checks.append(
            (
                "sustainment_after_extract",
                int(late.sum()),
                "last sustainment date after data_end_date (kept; check the data)",
            )
        )
    return {
        "n": n_sus,
        "fee": fee,
        "paid": n_sus * fee,
        "first": first,
        "last": last,
        "capped": capped,
    }


def _warn_placeholders(placeholders: pd.DataFrame, parts, placeholder_paid) -> None:
    items = sorted(
        {f"{g}:{i}" for g, i in zip(placeholders["payment_group"], placeholders["item"])}
    )
    warnings.warn(
        f"payments use unconfirmed (U) tariff values for {int((parts > 0).sum()):,} "
        f"referrals ({placeholder_paid.sum():,.0f} pounds): {', '.join(items[:12])}"
        f"{' ...' if len(items) > 12 else ''}; rows are flagged `placeholder`",
        StatisticalWarning,
        stacklevel=3,
    )


def _placeholder_table(out, codes, vals, unk, gi, yi, u_att, u_jo, u_sus) -> pd.DataFrame:
    rows = []
    for item, used, paid_col in (
        ("attachment", u_att, "attachment_paid"),
        ("job_outcome", u_jo, "job_outcome_paid"),
        ("sustainment", u_sus, "sustainment_paid"),
    ):
        if not used.any():
            continue
        key = gi[used] * 1000 + yi[used]
        paid = out[paid_col].to_numpy()[used]
        uk, inv = np.unique(key, return_inverse=True)
        cnt = np.bincount(inv)
        tot = np.bincount(inv, weights=paid)
        for k, c, t in zip(uk, cnt, tot):
            g, y = divmod(int(k), 1000)
            value = vals["sustainment_fee"][g, y] if item == "sustainment" else vals[item][g, y]
            rows.append(
                {
                    "payment_group": codes[g],
                    "contract_year": y + 1,
                    "item": item,
                    "value": value,
                    "rows": int(c),
                    "paid": float(t),
                }
            )
    return pd.DataFrame(
        rows, columns=["payment_group", "contract_year", "item", "value", "rows", "paid"]
    )
