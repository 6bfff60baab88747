"""A small immutable table-with-method result for design quantities (power, diagnosands),
following the conventions of :class:`wpeval.results.EffectTable`: ``tidy()``, ``summary()``,
``_repr_html_`` and ``to_dict()``, and a ``method`` naming estimator, SE type, CI method and
design, so a power or diagnosis table can never be read without the assumptions behind it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from wpeval.results import _jsonable, check_method

__all__ = ["DesignTable"]


@dataclass(frozen=True)
class DesignTable:
    """Immutable table of design quantities with the method that produced them.

    Parameters
    ----------
    table : DataFrame
        One row per contrast (and estimator). A copy is stored.
    method : mapping
        ``estimator``, ``se_type``, ``ci_method`` and ``design`` (and anything else).
    title : str, optional
        Caption.
    extra : mapping, optional
        JSON-ready extras (seeds, timings, settings).
    """

    table: pd.DataFrame
    method: Mapping[str, Any]
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_method(self.method, type(self).__name__)
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "method", MappingProxyType(dict(self.method)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def tidy(self) -> pd.DataFrame:
        """A copy of the table."""
        return self.table.copy()

    def method_line(self) -> str:
        """One line naming the method."""
        m = self.method
        return f"{m['estimator']}; SE: {m['se_type']}; CI: {m['ci_method']}; design: {m['design']}"

    def summary(self, digits: int = 4) -> str:
        """Printable summary: title, method, notes, table."""
        lines = [self.title] if self.title else []
        lines.append(self.method_line())
        if self.method.get("notes"):
            lines.append(f"notes: {self.method['notes']}")
        with pd.option_context(
            "display.float_format",
            lambda v: f"{v:.{digits}g}",
            "display.width",
            200,
            "display.max_columns",
            40,
        ):
            lines.append(self.table.to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.title}: {len(self.table)} row(s)>"

    def _repr_html_(self) -> str:
        body = self.table.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", na_rep="\u2013", escape=True
        )
        notes = self.method.get("notes")
        return (
            f"<div class='wpeval-result'><p><strong>{html.escape(self.title)}</strong></p>"
            f"{body}<p><em>{html.escape(self.method_line())}</em></p>"
            + (f"<p><em>{html.escape(str(notes))}</em></p>" if notes else "")
            + "</div>"
        )

    def to_dict(self) -> dict:
        """JSON-ready representation (NaN and inf become None)."""
        return _jsonable(
            {
                "title": self.title,
                "method": dict(self.method),
                "table": self.table.to_dict(orient="records"),
                "extra": dict(self.extra),
            }
        )
