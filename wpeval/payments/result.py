"""PaymentsResult: payments per referral with totals, breakdowns, a cash-flow schedule and the
placeholder (U) flags."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.payments.tariff import SUSTAINMENT_DAYS, Tariff


@dataclass(frozen=True)
class PaymentsResult:
    """Payments implied by a tariff, per referral, with checks and placeholder flags.

    Attributes
    ----------
    referrals : DataFrame
        One row per referral: ``person_id, referral_date, cpa, prime, payment_group,
        contract_year, discount, attached, attachment_paid, attachment_date, job_outcome_paid,
        job_outcome_date, sustainment_count`` (capped), ``sustainment_fee`` (per payment),
        ``sustainment_paid, sustainment_first_date, sustainment_last_date, sustainment_capped,
        total_paid, placeholder`` (any paid amount uses a U tariff value) and
        ``placeholder_paid`` (the amount that does).
    checks : DataFrame
        ``check, rows, action`` for everything recoded (capped, zeroed, imputed).
    placeholders : DataFrame
        Tariff items with status U that were used: ``payment_group, contract_year, item,
        value, rows, paid``.
    tariff : Tariff
        The tariff applied.
    """

    referrals: pd.DataFrame
    checks: pd.DataFrame
    placeholders: pd.DataFrame
    tariff: Tariff = field(repr=False)

    def by(self, *cols: str, until=None) -> pd.DataFrame:
        """Totals per group of referral-level columns (e.g. ``"cpa", "prime"``).

        Parameters
        ----------
        *cols : str
            Columns of :attr:`referrals` (``cpa, prime, payment_group, contract_year`` ...).
            No columns gives the programme total.
        until : date-like, optional
            Count only payments dated on or before this date (e.g. ``"2014-03-31"`` for the
            June 2011 - March 2014 totals).

        Returns
        -------
        DataFrame
            ``referrals, attachments, attachment_paid, job_outcomes, job_outcome_paid,
            sustainment_payments, sustainment_paid, total_paid, placeholder_paid,
            paid_per_job_outcome`` (NaN where there are no job outcomes).
        """
        r = self.referrals
        bad = [c for c in cols if c not in r.columns]
        if bad:
            raise ParameterError(f"cannot group by {bad}; columns are {list(r.columns)}")
        att_ok = r["attachment_paid"].notna().to_numpy() & r["attached"].to_numpy()
        jo_ok = r["job_outcome_date"].notna().to_numpy()
        n_sus = r["sustainment_count"].to_numpy()
        if until is not None:
            cut = np.datetime64(pd.Timestamp(until), "ns")
            att_ok &= r["attachment_date"].to_numpy() <= cut
            jo_ok &= r["job_outcome_date"].to_numpy() <= cut
            days = (cut - r["job_outcome_date"].to_numpy()) / np.timedelta64(1, "D")
            elapsed = np.floor(np.nan_to_num(days, nan=-1.0) / SUSTAINMENT_DAYS)
            n_sus = np.where(jo_ok, np.clip(elapsed, 0, n_sus), 0).astype(np.int64)
        u = r["placeholder_parts"].to_numpy()
        att = np.where(att_ok, r["attachment_paid"].to_numpy(), 0.0)
        jo = np.where(jo_ok, r["job_outcome_paid"].to_numpy(), 0.0)
        sus = n_sus * r["sustainment_fee"].to_numpy()
        frame = pd.DataFrame(
            {
                "referrals": 1,
                "attachments": att_ok.astype(np.int64),
                "attachment_paid": att,
                "job_outcomes": jo_ok.astype(np.int64),
                "job_outcome_paid": jo,
                "sustainment_payments": n_sus,
                "sustainment_paid": sus,
                "total_paid": att + jo + sus,
                "placeholder_paid": att * (u & 1 > 0) + jo * (u & 2 > 0) + sus * (u & 4 > 0),
            }
        )
        if cols:
            for c in cols:
                frame[c] = r[c].to_numpy()
            out = frame.groupby(list(cols), observed=True, sort=True).sum()
        else:
            out = frame.groupby(np.zeros(len(frame), dtype=np.int8)).sum()
            out.index = pd.Index(["all"])
        with np.errstate(divide="ignore", invalid="ignore"):
            out["paid_per_job_outcome"] = np.where(
                out["job_outcomes"] > 0, out["total_paid"] / out["job_outcomes"], np.nan
            )
        return out

    def totals(self) -> pd.Series:
        """Programme totals (one row of :meth:`by`)."""
        return self.by().iloc[0]

    def schedule(self) -> pd.DataFrame:
        """Every payment as a row: ``person_id, cpa, prime, payment_group, kind, date,
        amount`` (kind is attachment, job_outcome or sustainment), sorted by date."""
        r = self.referrals
        parts = []
        keys = ["person_id", "cpa", "prime", "payment_group"]
        a = r["attached"].to_numpy() & r["attachment_date"].notna().to_numpy()
        parts.append(
            r.loc[a, keys].assign(
                kind="attachment",
                date=r.loc[a, "attachment_date"],
                amount=r.loc[a, "attachment_paid"],
            )
        )
        o = r["job_outcome_date"].notna().to_numpy()
        parts.append(
            r.loc[o, keys].assign(
                kind="job_outcome",
                date=r.loc[o, "job_outcome_date"],
                amount=r.loc[o, "job_outcome_paid"],
            )
        )
        n = r["sustainment_count"].to_numpy()
        idx = np.repeat(np.arange(len(r)), n)
        k = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n) + 1
        sus = r.iloc[idx][keys].reset_index(drop=True)
        sus["kind"] = "sustainment"
        sus["date"] = r["job_outcome_date"].to_numpy()[idx] + (k * SUSTAINMENT_DAYS).astype(
            "timedelta64[D]"
        )
        sus["amount"] = r["sustainment_fee"].to_numpy()[idx]
        parts.append(sus)
        out = pd.concat(parts, ignore_index=True)
        return out.sort_values(["date", "kind"], kind="stable").reset_index(drop=True)

    def summary(self) -> str:
        """Totals, checks and placeholders as text."""
        t = self.totals()
        lines = [
            f"Payments by results ({self.tariff.source}): "
            f"total {t['total_paid']:,.0f} pounds for {int(t['referrals']):,} referrals",
            f"  of which placeholder (U) values: {t['placeholder_paid']:,.0f}",
            self.checks.to_string(index=False),
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.by("payment_group").to_html(
            float_format=lambda v: f"{v:,.0f}"
        ) + self.checks.to_html(index=False)
