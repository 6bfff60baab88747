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
referrals take 1-2 s (benchmarks/tables.py). It is hand-written because no library models this tariff.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from .exceptions import DataContractError, ParameterError, StatisticalWarning

#: fee items of a payment group
ITEMS = ("attachment", "job_outcome", "sustainment_fee", "sustainment_cap", "jo_trigger_weeks")
STATUSES = ("V", "D", "U")
SUSTAINMENT_DAYS = 28
REQUIRED = ("person_id", "referral_date", "cpa", "prime", "payment_group", "attached",
            "job_outcome_date", "sustainment_payments")


# --------------------------------------------------------------------------- tariff ------
def _item(raw: Any, where: str) -> tuple[Any, str]:
    """Parse ``{value, status}`` into (value, status)."""
    if not isinstance(raw, Mapping) or "value" not in raw or "status" not in raw:
        raise ParameterError(f"tariff: {where} must be a mapping with 'value' and 'status'")
    status = str(raw["status"])
    if status not in STATUSES:
        raise ParameterError(f"tariff: {where} has status {status!r}; use one of {STATUSES}")
    return raw["value"], status


def _number(value: Any, where: str) -> float:
    try:
        out = float(Fraction(str(value)))
    except (ValueError, ZeroDivisionError) as exc:
        raise ParameterError(f"tariff: {where} is not a number ({value!r})") from exc
    if not np.isfinite(out) or out < 0:
        raise ParameterError(f"tariff: {where} must be a finite number >= 0, got {value!r}")
    return out


@dataclass(frozen=True)
class Tariff:
    """A payment-by-results tariff (see ``wpeval/config/tariff.yaml`` for the layout).

    Attributes
    ----------
    groups : dict
        ``code -> {item: (value, status)}`` for the items in :data:`ITEMS` (+ ``max_total``).
    by_year : dict
        ``(code, contract_year) -> {item: (value, status)}`` overrides.
    attachment_phase : dict
        ``contract_year -> (share of the year-1 attachment fee, status)``.
    start, year_start_month, basis : tuple
        Contract-year definition, each ``(value, status)``.
    no_attachment_fee_from : tuple
        ``(Timestamp or None, status)``.
    discounts : dict
        ``(cpa, prime) -> fraction``; ``default_discount`` for the rest.
    mpl : dict
        ``uplift``, ``window_months`` (each ``(value, status)``) and ``non_intervention``
        (``contract_year -> {group: (rate, status)}``).
    source : str
        Where the tariff came from.
    """

    groups: dict
    by_year: dict
    attachment_phase: dict
    start: tuple
    year_start_month: tuple
    basis: tuple
    no_attachment_fee_from: tuple
    default_discount: float
    discounts: dict
    mpl: dict
    source: str = ""

    # -- derived lookups ---------------------------------------------------------------------
    def value(self, group: str, item: str, year: int = 1) -> tuple[float, str]:
        """(value, status) of ``item`` for ``group`` in contract ``year``; the attachment fee
        includes the phase-down share (its status is U if either part is U)."""
        if group not in self.groups:
            raise ParameterError(f"tariff has no payment group {group!r}")
        val, status = self.by_year.get((group, year), {}).get(item, self.groups[group][item])
        if item == "attachment" and item not in self.by_year.get((group, year), {}):
            share, s2 = self.phase(year)
            val = val * share
            status = "U" if "U" in (status, s2) else ("D" if "D" in (status, s2) else "V")
        return float(val), status

    def phase(self, year: int) -> tuple[float, str]:
        """Share of the year-1 attachment fee paid in contract ``year``."""
        years = sorted(self.attachment_phase)
        use = max([y for y in years if y <= year], default=years[0])
        return self.attachment_phase[use]

    def contract_year(self, dates) -> np.ndarray:
        """Contract year (1, 2, ...) of each date: year 1 runs from ``start`` to the month
        before the first ``year_start_month``; later years start in that month."""
        d = pd.DatetimeIndex(pd.to_datetime(np.asarray(dates)))
        start = pd.Timestamp(self.start[0])
        m0 = int(self.year_start_month[0])
        fy = d.year.to_numpy() - (d.month.to_numpy() < m0)
        fy0 = start.year - (start.month < m0)
        out = (fy - fy0 + 1).astype(np.int64)
        return np.maximum(out, 1)

    def non_intervention(self, year: int, group: str) -> tuple[float, str] | None:
        """Non-intervention rate (rate, status) for an MPL group, or None if not an MPL group.
        Years after the last configured one reuse the last year's rate with status U."""
        ni = self.mpl["non_intervention"]
        years = sorted(ni)
        use = max([y for y in years if y <= year], default=years[0])
        cell = ni[use].get(group)
        if cell is None:
            return None
        return (cell[0], cell[1] if use == year else "U")

    @property
    def mpl_groups(self) -> list[str]:
        return sorted({g for cells in self.mpl["non_intervention"].values() for g in cells},
                      key=list(self.groups).index)

    def table(self, years: tuple[int, ...] = (1, 2, 3, 4)) -> pd.DataFrame:
        """The tariff as a table: one row per group and contract year, value and status of
        every item, the maximum total and whether any item is a placeholder."""
        rows = []
        for g in self.groups:
            for y in years:
                row: dict = {"payment_group": g, "contract_year": y}
                for item in ITEMS:
                    row[item], row[f"{item}_status"] = self.value(g, item, y)
                row["max_total"] = (row["attachment"] + row["job_outcome"]
                                    + row["sustainment_fee"] * row["sustainment_cap"])
                row["placeholder"] = any(row[f"{i}_status"] == "U" for i in ITEMS)
                rows.append(row)
        return pd.DataFrame(rows)


def _parse_tariff(raw: Mapping, source: str) -> Tariff:
    if not isinstance(raw, Mapping):
        raise ParameterError(f"tariff {source}: expected a mapping at the top level")
    try:
        cy = raw["contract_years"]
        start = _item(cy["start"], "contract_years.start")
        start = (pd.Timestamp(start[0]), start[1])
        ysm = _item(cy["year_start_month"], "contract_years.year_start_month")
        if int(ysm[0]) not in range(1, 13):
            raise ParameterError("tariff: contract_years.year_start_month must be 1..12")
        basis = _item(cy.get("basis", {"value": "referral_date", "status": "U"}),
                      "contract_years.basis")
        if basis[0] not in ("referral_date", "attachment_date"):
            raise ParameterError("tariff: contract_years.basis must be referral_date or "
                                 "attachment_date")
        phase = {}
        for y, cell in raw["attachment_phase"].items():
            v, s = _item(cell, f"attachment_phase.{y}")
            phase[int(y)] = (_number(v, f"attachment_phase.{y}"), s)
        if not phase or min(phase) != 1:
            raise ParameterError("tariff: attachment_phase must start at contract year 1")
        naf = _item(raw.get("no_attachment_fee_from", {"value": None, "status": "V"}),
                    "no_attachment_fee_from")
        naf = (None if naf[0] is None else pd.Timestamp(naf[0]), naf[1])
        groups, by_year = {}, {}
        for code, spec in raw["groups"].items():
            g = {}
            for item in ITEMS + ("max_total",):
                if item not in spec:
                    if item == "max_total":
                        continue
                    raise ParameterError(f"tariff: group {code} lacks {item!r}")
                v, s = _item(spec[item], f"groups.{code}.{item}")
                g[item] = (_number(v, f"groups.{code}.{item}"), s)
            for y, over in (spec.get("by_year") or {}).items():
                by_year[(str(code), int(y))] = {
                    k: ((_number(_item(c, k)[0], k)), _item(c, k)[1]) for k, c in over.items()}
            groups[str(code)] = g
        disc = raw.get("discounts") or {}
        default = _number(_item(disc.get("default", {"value": 0, "status": "V"}),
                                "discounts.default")[0], "discounts.default")
        contracts = {}
        for key, val in (disc.get("contracts") or {}).items():
            if "/" not in str(key):
                raise ParameterError(f"tariff: discount key {key!r} must be 'CPA/prime'")
            cpa, prime = str(key).split("/", 1)
            contracts[(cpa, prime)] = _number(val, f"discounts.contracts.{key}")
        for d in [default, *contracts.values()]:
            if d >= 1:
                raise ParameterError(f"tariff: discount {d} must be a fraction below 1")
        m = raw["mpl"]
        ni = {}
        for y, cells in m["non_intervention"].items():
            ni[int(y)] = {}
            for grp, cell in cells.items():
                v, s = _item(cell, f"mpl.non_intervention.{y}.{grp}")
                v = _number(v, f"mpl.non_intervention.{y}.{grp}")
                if v > 1:
                    raise ParameterError(f"tariff: non-intervention rate {v} is not a share")
                if grp not in groups:
                    raise ParameterError(f"tariff: MPL group {grp!r} is not a tariff group")
                ni[int(y)][str(grp)] = (v, s)
        mpl = {"uplift": _item(m["uplift"], "mpl.uplift"),
               "window_months": _item(m["window_months"], "mpl.window_months"),
               "non_intervention": ni}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ParameterError(f"tariff {source}: malformed ({exc!r})") from exc
    return Tariff(groups=groups, by_year=by_year, attachment_phase=phase, start=start,
                  year_start_month=(int(ysm[0]), ysm[1]), basis=basis,
                  no_attachment_fee_from=naf, default_discount=default, discounts=contracts,
                  mpl=mpl, source=source)


def default_tariff_dict() -> dict:
    """The default tariff (``wpeval/config/tariff.yaml``) as a plain dict, for editing."""
    text = resources.files("wpeval.config").joinpath("tariff.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_tariff(tariff: "Tariff | str | Path | Mapping | None" = None, *,
                discounts: Mapping | None = None) -> Tariff:
    """Load a tariff.

    Parameters
    ----------
    tariff : Tariff, path, mapping or None
        None reads ``wpeval/config/tariff.yaml`` (DWP's maxima); a path reads a YAML file of
        the same layout; a mapping is parsed as if read from YAML; a Tariff is returned as is.
    discounts : mapping, optional
        ``{(cpa, prime): fraction}`` or ``{"CPA/prime": fraction}`` bid discounts that replace
        the tariff's per-contract discounts for the contracts named.

    Returns
    -------
    Tariff
    """
    if isinstance(tariff, Tariff):
        tar = tariff
    elif tariff is None:
        tar = _parse_tariff(default_tariff_dict(), "wpeval/config/tariff.yaml")
    elif isinstance(tariff, (str, Path)):
        path = Path(tariff)
        if not path.exists():
            raise ParameterError(f"tariff file {path} does not exist")
        try:  # safe_load only: a tariff file can never run code
            raw = yaml.safe_load(path.read_text("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            raise ParameterError(f"tariff file {path} is not valid YAML ({exc})") from exc
        tar = _parse_tariff(raw, str(path))
    elif isinstance(tariff, Mapping):
        tar = _parse_tariff(tariff, "<dict>")
    else:
        raise ParameterError(f"tariff must be a Tariff, a path or a mapping, not {type(tariff)}")
    if discounts:
        new = dict(tar.discounts)
        for key, val in discounts.items():
            parts = tuple(key) if isinstance(key, tuple) else tuple(str(key).split("/", 1))
            if len(parts) != 2:
                raise ParameterError(f"discount key {key!r} must be (cpa, prime) or 'CPA/prime'")
            cpa, prime = parts
            d = _number(val, f"discount {key}")
            if d >= 1:
                raise ParameterError(f"discount {d} for {key} must be a fraction below 1")
            new[(str(cpa), str(prime))] = d
        tar = replace(tar, discounts=new)
    return tar


# ------------------------------------------------------------------------- payments ------
def _examples(df: pd.DataFrame, mask) -> list:
    mask = np.asarray(mask, dtype=bool)
    if "person_id" in df.columns and df.columns.is_unique:
        return df["person_id"].to_numpy()[mask][:5].tolist()
    return df.index[mask][:5].tolist()


def _unique_columns(df: pd.DataFrame, cols) -> None:
    """DataContractError (rule ``unique_columns``) if a used column label is duplicated."""
    if not df.columns.is_unique:
        dup = [c for c in cols if int((df.columns == c).sum()) > 1]
        if dup:
            raise DataContractError(f"columns {dup} appear more than once; rename or drop the "
                                    "copies", column=dup[0], rule="unique_columns")


def attached_flags(df: pd.DataFrame) -> np.ndarray:
    """``attached`` as a bool array: bool, or numbers 0/1 (True/False objects allowed).

    DataContractError for missing values (``not_null``) or anything else, e.g. the text
    ``"False"``, which ``astype(bool)`` would silently read as True (``boolean``).
    """
    s = df["attached"]
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.to_numpy(dtype=bool)
    if s.isna().any():
        raise DataContractError("attached has missing values", column="attached",
                                rule="not_null", examples=_examples(df, s.isna().to_numpy()))
    vals = s.to_numpy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
        num = s.to_numpy(dtype=float)
        ok = (num == 0) | (num == 1)
    else:  # object: Python / numpy bools, or the numbers 0 and 1
        ok = np.fromiter((isinstance(v, (bool, np.bool_)) or (
            isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1))
            for v in vals), dtype=bool, count=len(vals))
    if not ok.all():
        raise DataContractError(f"attached must be True/False (or 0/1), got e.g. "
                                f"{vals[~ok][:3].tolist()} ({s.dtype})", column="attached",
                                rule="boolean", examples=_examples(df, ~ok))
    return vals.astype(bool)


def sustainment_counts(df: pd.DataFrame) -> np.ndarray:
    """``sustainment_payments`` as int64: numeric, not missing, whole, >= 0 (DataContractError
    naming the rule otherwise)."""
    sp = df["sustainment_payments"]
    if sp.isna().any():
        raise DataContractError("sustainment_payments has missing values",
                                column="sustainment_payments", rule="not_null",
                                examples=_examples(df, sp.isna().to_numpy()))
    if not pd.api.types.is_numeric_dtype(sp) or pd.api.types.is_bool_dtype(sp) or \
            pd.api.types.is_complex_dtype(sp):
        raise DataContractError(f"sustainment_payments must be a whole number, got {sp.dtype}",
                                column="sustainment_payments", rule="integer")
    num = sp.to_numpy(dtype=float)
    bad = ~np.isfinite(num) | (num != np.round(num)) | (np.abs(num) > 1e6)
    if bad.any():
        raise DataContractError("sustainment_payments must be whole numbers of payments (at "
                                "most a few dozen)", column="sustainment_payments",
                                rule="integer", examples=_examples(df, bad))
    if (num < 0).any():
        raise DataContractError("sustainment_payments must be >= 0",
                                column="sustainment_payments", rule="non_negative",
                                examples=_examples(df, num < 0))
    return num.astype(np.int64)


def _dates(df: pd.DataFrame, col: str) -> np.ndarray:
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        raise DataContractError(f"{col} must be a datetime column, got {s.dtype}",
                                column=col, rule="datetime")
    return s.to_numpy(dtype="datetime64[ns]")


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
        frame = pd.DataFrame({
            "referrals": 1, "attachments": att_ok.astype(np.int64),
            "attachment_paid": att, "job_outcomes": jo_ok.astype(np.int64),
            "job_outcome_paid": jo, "sustainment_payments": n_sus, "sustainment_paid": sus,
            "total_paid": att + jo + sus,
            "placeholder_paid": att * (u & 1 > 0) + jo * (u & 2 > 0) + sus * (u & 4 > 0),
        })
        if cols:
            for c in cols:
                frame[c] = r[c].to_numpy()
            out = frame.groupby(list(cols), observed=True, sort=True).sum()
        else:
            out = frame.groupby(np.zeros(len(frame), dtype=np.int8)).sum()
            out.index = pd.Index(["all"])
        with np.errstate(divide="ignore", invalid="ignore"):
            out["paid_per_job_outcome"] = np.where(
                out["job_outcomes"] > 0, out["total_paid"] / out["job_outcomes"], np.nan)
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
        parts.append(r.loc[a, keys].assign(kind="attachment", date=r.loc[a, "attachment_date"],
                                           amount=r.loc[a, "attachment_paid"]))
        o = r["job_outcome_date"].notna().to_numpy()
        parts.append(r.loc[o, keys].assign(kind="job_outcome", date=r.loc[o, "job_outcome_date"],
                                           amount=r.loc[o, "job_outcome_paid"]))
        n = r["sustainment_count"].to_numpy()
        idx = np.repeat(np.arange(len(r)), n)
        k = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n) + 1
        sus = r.iloc[idx][keys].reset_index(drop=True)
        sus["kind"] = "sustainment"
        sus["date"] = (r["job_outcome_date"].to_numpy()[idx]
                       + (k * SUSTAINMENT_DAYS).astype("timedelta64[D]"))
        sus["amount"] = r["sustainment_fee"].to_numpy()[idx]
        parts.append(sus)
        out = pd.concat(parts, ignore_index=True)
        return out.sort_values(["date", "kind"], kind="stable").reset_index(drop=True)

    def summary(self) -> str:
        """Totals, checks and placeholders as text."""
        t = self.totals()
        lines = [f"Payments by results ({self.tariff.source}): "
                 f"total {t['total_paid']:,.0f} pounds for {int(t['referrals']):,} referrals",
                 f"  of which placeholder (U) values: {t['placeholder_paid']:,.0f}",
                 self.checks.to_string(index=False)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (self.by("payment_group").to_html(float_format=lambda v: f"{v:,.0f}")
                + self.checks.to_html(index=False))


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


def payments(referrals: pd.DataFrame, tariff: "Tariff | str | Path | Mapping | None" = None,
             *, discounts: Mapping | None = None, warn: bool = True) -> PaymentsResult:
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
        raise DataContractError(f"payments need columns {missing}", column=missing[0],
                                rule="required_column")
    _unique_columns(df, list(REQUIRED) + ["attachment_date"])
    n = len(df)
    ref = _dates(df, "referral_date")
    if np.isnat(ref).any():
        raise DataContractError("referral_date has missing values", column="referral_date",
                                rule="not_null", examples=_examples(df, np.isnat(ref)))
    jo_date = _dates(df, "job_outcome_date")
    attached = attached_flags(df)
    checks: list[tuple[str, int, str]] = [("referrals", n, "all paid per the tariff")]
    if "attachment_date" in df.columns:
        att_date = _dates(df, "attachment_date")
        imputed = attached & np.isnat(att_date)
        att_date = np.where(imputed, ref, att_date)
    else:
        imputed = attached.copy()
        att_date = ref.copy()
    att_date = np.where(attached, att_date, np.datetime64("NaT"))
    checks.append(("attachment_date_imputed", int(imputed.sum()),
                   "attached but no attachment_date: fee paid at referral_date"))
    sp = sustainment_counts(df)
    codes = list(tar.groups)
    grp = pd.Categorical(df["payment_group"].astype(str), categories=codes)
    gi = grp.codes.astype(np.int64)
    if (gi < 0).any():
        bad = gi < 0
        vals = sorted(set(df["payment_group"].astype(str).to_numpy()[bad]))[:5]
        raise DataContractError(f"payment groups {vals} are not in the tariff ({codes})",
                                column="payment_group", rule="known_code",
                                examples=_examples(df, bad))
    basis = att_date if tar.basis[0] == "attachment_date" else ref
    basis = np.where(np.isnat(basis), ref, basis)
    cy = tar.contract_year(basis)
    before = int((ref < np.datetime64(tar.start[0], "ns")).sum())
    checks.append(("referral_before_programme_start", before, "given contract year 1"))
    years = int(max(cy.max(initial=1), max(tar.attachment_phase), 4))
    _, vals, unk = _tariff_arrays(tar, years)
    yi = cy - 1
    # discounts per contract
    disc = np.full(n, tar.default_discount)
    if tar.discounts:
        keys = pd.MultiIndex.from_arrays([df["cpa"].astype(str), df["prime"].astype(str)])
        codes_c, uniq = pd.factorize(keys)
        per = np.array([tar.discounts.get(k, tar.default_discount) for k in uniq])
        disc = per[codes_c]
    mult = 1.0 - disc
    # attachment
    att_fee = vals["attachment"][gi, yi] * mult
    no_fee = np.zeros(n, dtype=bool)
    stop_label = "never" if tar.no_attachment_fee_from[0] is None else \
        str(pd.Timestamp(tar.no_attachment_fee_from[0]).date())
    if tar.no_attachment_fee_from[0] is not None:
        cut = np.datetime64(tar.no_attachment_fee_from[0], "ns")
        no_fee = attached & (att_date >= cut) & (att_fee > 0)
        att_fee = np.where(no_fee, 0.0, att_fee)
    checks.append(("attachment_fee_stopped", int(no_fee.sum()),
                   f"attached on/after {stop_label}: no attachment fee"))
    att_paid = np.where(attached, np.round(att_fee, 2), 0.0)
    # job outcome
    has_jo = ~np.isnat(jo_date)
    jo_paid = np.where(has_jo, np.round(vals["job_outcome"][gi, yi] * mult, 2), 0.0)
    checks.append(("job_outcome_without_attachment", int((has_jo & ~attached).sum()),
                   "job-outcome fee paid although not attached (kept)"))
    # sustainment
    orphan = (sp > 0) & ~has_jo
    checks.append(("sustainment_without_job_outcome", int(orphan.sum()),
                   "sustainment payments without a job outcome: set to 0"))
    sp = np.where(orphan, 0, sp)
    cap = vals["sustainment_cap"][gi, yi].astype(np.int64)
    capped = sp > cap
    n_sus = np.minimum(sp, cap)
    checks.append(("sustainment_capped", int(capped.sum()),
                   "more sustainment payments than the group's cap: capped"))
    checks.append(("sustainment_payments_removed_by_cap", int((sp - n_sus).sum()),
                   "payments above the cap not paid"))
    fee = np.round(vals["sustainment_fee"][gi, yi] * mult, 2)
    fee = np.where(has_jo, fee, 0.0)
    sus_paid = n_sus * fee
    first = np.where(n_sus > 0, jo_date + np.timedelta64(SUSTAINMENT_DAYS, "D"),
                     np.datetime64("NaT"))
    last = np.where(n_sus > 0, jo_date + (n_sus * SUSTAINMENT_DAYS).astype("timedelta64[D]"),
                    np.datetime64("NaT"))
    if "data_end_date" in df.columns:
        end = _dates(df, "data_end_date")
        late = (n_sus > 0) & (last > end)
        checks.append(("sustainment_after_extract", int(late.sum()),
                       "last sustainment date after data_end_date (kept; check the data)"))
    # placeholder flags: bit 1 attachment, 2 job outcome, 4 sustainment
    u_att = attached & (att_paid > 0) & unk["attachment"][gi, yi]
    u_jo = has_jo & unk["job_outcome"][gi, yi]
    u_sus = (n_sus > 0) & (unk["sustainment_fee"][gi, yi] | unk["sustainment_cap"][gi, yi])
    parts = (u_att * 1 + u_jo * 2 + u_sus * 4).astype(np.int8)
    placeholder_paid = att_paid * u_att + jo_paid * u_jo + sus_paid * u_sus
    checks.append(("placeholder_rows", int((parts > 0).sum()),
                   "an amount uses an unconfirmed (U) tariff value: flagged `placeholder`"))
    out = pd.DataFrame({
        "person_id": df["person_id"].to_numpy(),
        "referral_date": ref,
        "cpa": df["cpa"].to_numpy(), "prime": df["prime"].to_numpy(),
        "payment_group": df["payment_group"].to_numpy(),
        "contract_year": cy, "discount": disc, "attached": attached,
        "attachment_date": att_date, "attachment_paid": att_paid,
        "job_outcome_date": jo_date, "job_outcome_paid": jo_paid,
        "sustainment_count": n_sus, "sustainment_fee": fee, "sustainment_paid": sus_paid,
        "sustainment_first_date": first, "sustainment_last_date": last,
        "sustainment_capped": capped,
        "total_paid": att_paid + jo_paid + sus_paid,
        "placeholder": parts > 0, "placeholder_paid": placeholder_paid,
        "placeholder_parts": parts,
    }, index=df.index)
    placeholders = _placeholder_table(out, codes, vals, unk, gi, yi, u_att, u_jo, u_sus)
    if warn and len(placeholders):
        items = sorted({f"{g}:{i}" for g, i in zip(placeholders["payment_group"],
                                                    placeholders["item"])})
        warnings.warn(
            f"payments use unconfirmed (U) tariff values for {int((parts > 0).sum()):,} "
            f"referrals ({placeholder_paid.sum():,.0f} pounds): {', '.join(items[:12])}"
            f"{' ...' if len(items) > 12 else ''}; rows are flagged `placeholder`",
            StatisticalWarning, stacklevel=2)
    return PaymentsResult(referrals=out, checks=pd.DataFrame(checks, columns=[
        "check", "rows", "action"]), placeholders=placeholders, tariff=tar)


def _placeholder_table(out, codes, vals, unk, gi, yi, u_att, u_jo, u_sus) -> pd.DataFrame:
    rows = []
    for item, used, paid_col in (("attachment", u_att, "attachment_paid"),
                                 ("job_outcome", u_jo, "job_outcome_paid"),
                                 ("sustainment", u_sus, "sustainment_paid")):
        if not used.any():
            continue
        key = gi[used] * 1000 + yi[used]
        paid = out[paid_col].to_numpy()[used]
        uk, inv = np.unique(key, return_inverse=True)
        cnt = np.bincount(inv)
        tot = np.bincount(inv, weights=paid)
        for k, c, t in zip(uk, cnt, tot):
            g, y = divmod(int(k), 1000)
            value = (vals["sustainment_fee"][g, y] if item == "sustainment"
                     else vals[item][g, y])
            rows.append({"payment_group": codes[g], "contract_year": y + 1, "item": item,
                         "value": value, "rows": int(c), "paid": float(t)})
    return pd.DataFrame(rows, columns=["payment_group", "contract_year", "item", "value",
                                       "rows", "paid"])


class _CallableModule(type(sys.modules[__name__])):
    """``wpeval.payments`` is both this module and the public function (wpeval/__init__.py
    maps the name ``payments`` to this module's function; once the module is imported,
    Python binds the attribute ``wpeval.payments`` to the module). Calling the module calls
    :func:`payments`, so ``wpeval.payments(df)`` works either way."""

    def __call__(self, *args, **kwargs):
        return payments(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
