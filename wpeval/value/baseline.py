"""The non-intervention baseline: job-outcome rates that would have happened anyway.

Read from ``wpeval/config/baseline.yaml`` (published rates marked V/D, placeholders marked U)
or from a file or mapping of the same layout, and always overridable by argument. The
baseline is an assumption, not an estimate: the programme had no no-treatment control group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from wpeval.exceptions import ParameterError

__all__ = ["Baseline", "load_baseline"]

_STATUSES = ("V", "D", "U", "override")


@dataclass(frozen=True)
class Baseline:
    """Non-intervention job-outcome rates by contract year and payment group.

    Attributes
    ----------
    rates : dict
        ``(contract_year, group) -> (rate, status)``; status V, D, U or ``override``.
    window_months : int
        The outcome window the rates refer to (12: the MPL measure).
    expectations : dict
        Published reference figures ``name -> (value, status)``.
    source : str
    """

    rates: dict
    window_months: int = 12
    expectations: dict = field(default_factory=dict)
    source: str = ""

    def rate(self, group: str, year: int) -> tuple[float, str]:
        """(rate, status) for ``group`` in contract ``year``; later years reuse the last
        configured year with status U. ParameterError for an unknown group."""
        years = sorted({y for y, _ in self.rates})
        use = max([y for y in years if y <= year], default=years[0])
        if (use, group) not in self.rates:
            raise ParameterError(
                f"baseline has no rate for payment group {group!r}; give one "
                f"with overrides={{{group!r}: rate}}"
            )
        val, status = self.rates[(use, group)]
        return val, status if use == year or status == "override" else "U"

    def table(self) -> pd.DataFrame:
        """The rates as ``contract_year, payment_group, rate, status``."""
        return pd.DataFrame(
            [
                {"contract_year": y, "payment_group": g, "rate": v, "status": s}
                for (y, g), (v, s) in sorted(self.rates.items())
            ]
        )


def _cell(raw: Any, where: str) -> tuple[float, str]:
    if not isinstance(raw, Mapping) or "value" not in raw or "status" not in raw:
        raise ParameterError(f"baseline: {where} must be a mapping with 'value' and 'status'")
    try:
        val = float(raw["value"])
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"baseline: {where} is not a number ({raw['value']!r})") from exc
    if str(raw["status"]) not in _STATUSES:
        raise ParameterError(f"baseline: {where} has status {raw['status']!r}")
    return val, str(raw["status"])


def load_baseline(
    baseline: Baseline | str | Path | Mapping | None = None,
    *,
    overrides: Mapping | float | None = None,
) -> Baseline:
    """Load the non-intervention baseline.

    Parameters
    ----------
    baseline : Baseline, path, mapping or None
        None reads ``wpeval/config/baseline.yaml``; a path or mapping of the same layout.
    overrides : float or mapping, optional
        A single rate for every group and year; ``{group: rate}`` for every year of a group;
        or ``{(year, group): rate}``. Overridden cells get status ``override``.

    Returns
    -------
    Baseline
    """
    if isinstance(baseline, Baseline):
        base = baseline
    else:
        if baseline is None:
            raw = yaml.safe_load(
                resources.files("wpeval.config").joinpath("baseline.yaml").read_text("utf-8")
            )
            source = "wpeval/config/baseline.yaml"
        elif isinstance(baseline, (str, Path)):
            if not Path(baseline).is_file():
                raise ParameterError(f"baseline file {baseline} does not exist")
            raw, source = yaml.safe_load(Path(baseline).read_text("utf-8")), str(baseline)
        elif isinstance(baseline, Mapping):
            raw, source = baseline, "<dict>"
        else:
            raise ParameterError(f"baseline must be a path or mapping, not {type(baseline)}")
        try:
            rates = {
                (int(y), str(g)): _cell(c, f"non_intervention.{y}.{g}")
                for y, cells in raw["non_intervention"].items()
                for g, c in cells.items()
            }
            window = int(
                _cell(raw.get("window_months", {"value": 12, "status": "V"}), "window_months")[0]
            )
            expect = {
                k: _cell(v, f"expectations.{k}") for k, v in (raw.get("expectations") or {}).items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParameterError(f"baseline {source}: malformed ({exc!r})") from exc
        base = Baseline(rates, window, expect, source)
    if overrides is None:
        return base
    rates = dict(base.rates)
    items = (
        {key: overrides for key in {g for _, g in rates}}
        if isinstance(overrides, (int, float))
        else dict(overrides)
    )
    for key, val in items.items():
        if not isinstance(val, (int, float)) or isinstance(val, bool) or not 0 <= val <= 1:
            raise ParameterError(f"baseline override {key!r}: {val!r} is not a rate in [0, 1]")
        keys = [key] if isinstance(key, tuple) else [(y, key) for y in {y for y, _ in rates}]
        for k in keys:
            rates[(int(k[0]), str(k[1]))] = (float(val), "override")
    return Baseline(rates, base.window_months, base.expectations, base.source + " + overrides")
