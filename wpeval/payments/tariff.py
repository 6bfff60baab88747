"""The tariff: DWP maximum prices per payment group and contract year, each value with its
status (V/D/U), read from ``wpeval/config/tariff.yaml`` or a user file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from wpeval.exceptions import ParameterError

#: fee items of a payment group
ITEMS = ("attachment", "job_outcome", "sustainment_fee", "sustainment_cap", "jo_trigger_weeks")
STATUSES = ("V", "D", "U")
SUSTAINMENT_DAYS = 28
REQUIRED = (
    "person_id",
    "referral_date",
    "cpa",
    "prime",
    "payment_group",
    "attached",
    "job_outcome_date",
    "sustainment_payments",
)


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
        return sorted(
            {g for cells in self.mpl["non_intervention"].values() for g in cells},
            key=list(self.groups).index,
        )

    def table(self, years: tuple[int, ...] = (1, 2, 3, 4)) -> pd.DataFrame:
        """The tariff as a table: one row per group and contract year, value and status of
        every item, the maximum total and whether any item is a placeholder."""
        rows = []
        for g in self.groups:
            for y in years:
                row: dict = {"payment_group": g, "contract_year": y}
                for item in ITEMS:
                    row[item], row[f"{item}_status"] = self.value(g, item, y)
                row["max_total"] = (
                    row["attachment"]
                    + row["job_outcome"]
                    + row["sustainment_fee"] * row["sustainment_cap"]
                )
                row["placeholder"] = any(row[f"{i}_status"] == "U" for i in ITEMS)
                rows.append(row)
        return pd.DataFrame(rows)


def _parse_tariff(raw: Mapping, source: str) -> Tariff:
    if not isinstance(raw, Mapping):
        raise ParameterError(f"tariff {source}: expected a mapping at the top level")
    try:
        start, ysm, basis = _contract_years(raw)
        phase = _attachment_phase(raw)
        naf = _item(
            raw.get("no_attachment_fee_from", {"value": None, "status": "V"}),
            "no_attachment_fee_from",
        )
        naf = (None if naf[0] is None else pd.Timestamp(naf[0]), naf[1])
        groups, by_year = _groups(raw)
        default, contracts = _discounts(raw)
        mpl = _mpl(raw, groups)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ParameterError(f"tariff {source}: malformed ({exc!r})") from exc
    return Tariff(
        groups=groups,
        by_year=by_year,
        attachment_phase=phase,
        start=start,
        year_start_month=(int(ysm[0]), ysm[1]),
        basis=basis,
        no_attachment_fee_from=naf,
        default_discount=default,
        discounts=contracts,
        mpl=mpl,
        source=source,
    )


def _contract_years(raw: Mapping):
    """``contract_years``: the start date, the month a contract year starts and the date that
    decides a referral's year (referral or attachment date), each with its status."""
    cy = raw["contract_years"]
    start = _item(cy["start"], "contract_years.start")
    start = (pd.Timestamp(start[0]), start[1])
    ysm = _item(cy["year_start_month"], "contract_years.year_start_month")
    if int(ysm[0]) not in range(1, 13):
        raise ParameterError("tariff: contract_years.year_start_month must be 1..12")
    basis = _item(
        cy.get("basis", {"value": "referral_date", "status": "U"}), "contract_years.basis"
    )
    if basis[0] not in ("referral_date", "attachment_date"):
        raise ParameterError(
            "tariff: contract_years.basis must be referral_date or attachment_date"
        )
    return start, ysm, basis


def _attachment_phase(raw: Mapping) -> dict:
    """``attachment_phase``: contract year -> (share of the attachment fee paid, status),
    from year 1."""
    phase = {}
    for y, cell in raw["attachment_phase"].items():
        v, s = _item(cell, f"attachment_phase.{y}")
        phase[int(y)] = (_number(v, f"attachment_phase.{y}"), s)
    if not phase or min(phase) != 1:
        raise ParameterError("tariff: attachment_phase must start at contract year 1")
    return phase


def _groups(raw: Mapping) -> tuple[dict, dict]:
    """``groups``: each payment group's items ``(value, status)`` and the overrides by
    ``(group, contract year)``."""
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
                k: ((_number(_item(c, k)[0], k)), _item(c, k)[1]) for k, c in over.items()
            }
        groups[str(code)] = g
    return groups, by_year


def _discounts(raw: Mapping) -> tuple[float, dict]:
    """``discounts``: the default discount and those of named contracts ``(CPA, prime)``,
    each a fraction below 1."""
    disc = raw.get("discounts") or {}
    default = _number(
        _item(disc.get("default", {"value": 0, "status": "V"}), "discounts.default")[0],
        "discounts.default",
    )
    contracts = {}
    for key, val in (disc.get("contracts") or {}).items():
        if "/" not in str(key):
            raise ParameterError(f"tariff: discount key {key!r} must be 'CPA/prime'")
        cpa, prime = str(key).split("/", 1)
        contracts[(cpa, prime)] = _number(val, f"discounts.contracts.{key}")
    for d in [default, *contracts.values()]:
        if d >= 1:
            raise ParameterError(f"tariff: discount {d} must be a fraction below 1")
    return default, contracts


def _mpl(raw: Mapping, groups: dict) -> dict:
    """``mpl``: the minimum performance level's uplift, window and non-intervention rates by
    contract year and payment group."""
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
    mpl = {
        "uplift": _item(m["uplift"], "mpl.uplift"),
        "window_months": _item(m["window_months"], "mpl.window_months"),
        "non_intervention": ni,
    }
    return mpl


def default_tariff_dict() -> dict:
    """The default tariff (``wpeval/config/tariff.yaml``) as a plain dict, for editing."""
    text = resources.files("wpeval.config").joinpath("tariff.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_tariff(
    tariff: "Tariff | str | Path | Mapping | None" = None, *, discounts: Mapping | None = None
) -> Tariff:
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
