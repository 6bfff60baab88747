"""ChecksReport: what the checks found and did, rule by rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class ChecksReport:
    """Outcome of :func:`validate`.

    Attributes
    ----------
    rows_in, rows_kept : int
        Rows received and rows in ``data``; ``rows_in == rows_kept + rules.n_dropped.sum()``.
    rules : DataFrame
        One row per rule (and column): ``rule, column, description, n_failing, n_dropped,
        action, examples`` (up to 5 person_ids, stratum labels, or data-row labels for
        ``repeated_header``). ``action`` is ``error``, ``dropped``, ``recoded``, ``warning``,
        or ``not checked (column absent)`` for a rule on an optional column not present.
    data : DataFrame
        The cleaned frame with coerced dtypes.
    strict : bool
    period_freq : str
    """

    rows_in: int
    rows_kept: int
    rules: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    strict: bool = True
    period_freq: str = "Q"

    @property
    def rows_dropped(self) -> int:
        return int(self.rows_in - self.rows_kept)

    def to_frame(self) -> pd.DataFrame:
        """The rules table (a copy)."""
        return self.rules.copy()

    def to_dict(self) -> dict:
        """JSON-ready summary (no data)."""
        recs = []
        for r in self.rules.to_dict("records"):
            r = dict(r)
            r["n_failing"], r["n_dropped"] = int(r["n_failing"]), int(r["n_dropped"])
            r["examples"] = [x.item() if hasattr(x, "item") else x for x in r["examples"]]
            recs.append(r)
        return {
            "rows_in": int(self.rows_in),
            "rows_kept": int(self.rows_kept),
            "rows_dropped": self.rows_dropped,
            "strict": self.strict,
            "period_freq": self.period_freq,
            "rules": recs,
        }

    def _repr_html_(self) -> str:
        tab = self.rules.assign(
            examples=self.rules["examples"].map(lambda v: ", ".join(map(str, v)))
        )
        return (
            f"<div class='wpeval-checks'><p><strong>Data checks</strong>: "
            f"{self.rows_in:,} rows in, {self.rows_kept:,} kept, "
            f"{self.rows_dropped:,} dropped</p>" + tab.to_html(index=False, escape=True) + "</div>"
        )

    def __repr__(self) -> str:
        failing = int((self.rules["n_failing"] > 0).sum())
        return (
            f"<ChecksReport rows_in={self.rows_in} rows_kept={self.rows_kept} "
            f"rules_failing={failing}>"
        )
