"""Statistical disclosure control for published tables (cell suppression and rounding).

The Work Programme official statistics (DWP) round counts to the nearest 10 and suppress small
cells, marking them as ONS and DWP tables do with ``[c]`` ("confidential"). This module does the
same for tables built from referral-level data:

1. **Primary suppression**: a count cell with ``0 < n < threshold`` (default 10) is suppressed.
   True zeros are shown (set ``suppress_zeros=True`` to hide them too).
2. **Secondary (complementary) suppression**: wherever cells add up to a published total (the
   rows and columns of a table with margins), a line with exactly one suppressed cell would let
   a reader recover it by subtraction, so a second cell in that line is suppressed: the
   smallest non-zero interior cell, else the smallest interior cell, else a margin cell. This
   repeats until every line has 0 or at least 2 suppressed cells (a fixed point; it ends
   because each pass only adds cells). For 2-D tables it then removes *bridges*: a suppressed
   cell that lies on no cycle of suppressed cells can still be solved from the row and column
   equations even when every line has two suppressed cells (e.g. two protected blocks joined
   by one cell), so a further cell closing a cycle through it is suppressed, until no
   suppressed cell is determined by the linear equations.
3. **Rounding**: counts are rounded half-up to the nearest ``base`` (default 10); totals are
   computed from the unrounded data and rounded separately, so rounded cells need not add up
   to the rounded total. Rates are computed from unrounded counts and suppressed when their
   numerator or denominator is.

:class:`StatTable` holds a published table (unrounded values, published values, suppression
mask, footnotes) and renders it as CSV and styled HTML; :func:`publish_table` builds one.

Limits: protection is against exact linear recovery from the published table; it does not
consider several tables published from the same data (differencing), nor bounds from
non-negativity beyond preferring non-zero complementary cells. The algorithm is hand-written:
ACRO (on PyPI) does primary suppression but not secondary (complementary) suppression, which
sdcTable / tau-Argus do in R / Java.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.publish.suppression import (  # noqa: F401 - re-exported
    _bridge,
    _component,
    _pick,
    primary_suppression,
    protect_lines,
    round_to_base,
    suppress_table,
)

SUPPRESSED = "[c]"
NOT_AVAILABLE = "[x]"


@dataclass(frozen=True)
class Disclosure:
    """Disclosure-control settings.

    Parameters
    ----------
    threshold : int, default 10
        Counts with ``0 < n < threshold`` are suppressed (primary suppression).
    base : int, default 10
        Counts are rounded half-up to the nearest ``base`` (1 = no rounding).
    money_base : float, default 1.0
        Money amounts are rounded to the nearest ``money_base`` pounds.
    secondary : bool, default True
        Apply secondary suppression along every line that adds up to a published total.
    suppress_zeros : bool, default False
        Also suppress cells equal to zero.
    """

    threshold: int = 10
    base: int = 10
    money_base: float = 1.0
    secondary: bool = True
    suppress_zeros: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, (int, np.integer)) or self.threshold < 0:
            raise ParameterError(f"threshold must be an integer >= 0, got {self.threshold!r}")
        if not isinstance(self.base, (int, np.integer)) or self.base < 1:
            raise ParameterError(f"base must be an integer >= 1, got {self.base!r}")
        if not self.money_base > 0:
            raise ParameterError(f"money_base must be > 0, got {self.money_base!r}")

    def note(self) -> str:
        """Footnote text describing the control applied."""
        parts = [f"{SUPPRESSED} = suppressed: fewer than {self.threshold} cases"]
        if self.secondary:
            parts[0] += (
                ", or suppressed so that another suppressed cell cannot be worked out "
                "from the totals"
            )
        if self.base > 1:
            parts.append(
                f"Counts are rounded to the nearest {self.base}; totals are rounded "
                "separately, so they may not equal the sum of the rounded cells"
            )
        parts.append("Rates are calculated from unrounded figures")
        return ". ".join(parts) + "."


def resolve_disclosure(
    disclosure: "bool | Disclosure | Mapping | None", synthetic: bool
) -> Disclosure | None:
    """Settings to apply: disclosure control is on unless the caller says both
    ``synthetic=True`` and ``disclosure=False``.

    Parameters
    ----------
    disclosure : bool, Disclosure, mapping or None
        True / None -> default :class:`Disclosure`; a mapping -> ``Disclosure(**mapping)``;
        False -> no control (only allowed with ``synthetic=True``).
    synthetic : bool
        Whether the data are synthetic.

    Raises
    ------
    ParameterError
        ``disclosure=False`` on data not declared synthetic.
    """
    if disclosure is None or disclosure is True:
        return Disclosure()
    if isinstance(disclosure, Disclosure):
        return disclosure
    if isinstance(disclosure, Mapping):
        return Disclosure(**disclosure)
    if disclosure is False:
        if synthetic is not True:
            raise ParameterError(
                "disclosure control can be switched off only for synthetic "
                "data: pass synthetic=True with disclosure=False"
            )
        return None
    raise ParameterError(
        f"disclosure must be a bool, a Disclosure or a mapping, not {type(disclosure).__name__}"
    )


# ----------------------------------------------------------------------- StatTable -------
@dataclass(frozen=True)
class StatTable:
    """A published table: unrounded values, the disclosure-controlled values and footnotes.

    Attributes
    ----------
    title : str
        Caption.
    values : DataFrame
        Unrounded values (rows = breakdown, columns = measures).
    kinds : mapping
        Column -> ``"count"``, ``"money"``, ``"rate"`` or ``"text"`` (sets rounding, format).
    suppressed : DataFrame
        Boolean mask, True where the published cell is suppressed (``[c]``).
    published : DataFrame
        Values after rounding, NaN where suppressed (text columns as text).
    notes : tuple of str
        Footnotes (definitions and the disclosure note).
    disclosure : Disclosure or None
        The settings applied (None: no disclosure control, synthetic data only).
    data : DataFrame or None
        Supporting long-format figures (e.g. the full cumulative-rate curve), same control.
    """

    title: str
    values: pd.DataFrame
    kinds: Mapping[str, str]
    suppressed: pd.DataFrame
    published: pd.DataFrame
    notes: tuple = ()
    disclosure: Any = None
    data: Any = field(default=None, repr=False)

    def _cells(self) -> pd.DataFrame:
        """Published values with ``[c]`` in suppressed cells (object dtype)."""
        out = self.published.astype(object)
        out = out.mask(self.suppressed, SUPPRESSED)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Published values as strings, formatted as in the HTML table."""
        fmt = self._formatters()
        cells = self._cells()
        return pd.DataFrame(
            {c: [fmt[c](v) for v in cells[c]] for c in cells.columns}, index=cells.index
        )

    def _formatters(self) -> dict:
        def make(kind):
            def f(v):
                if isinstance(v, str):
                    return v
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    return NOT_AVAILABLE
                if kind == "count":
                    return f"{v:,.0f}"
                if kind == "money":
                    return f"£{v:,.0f}"
                if kind == "rate":
                    return f"{100 * v:.1f}%"
                return str(v)

            return f

        return {c: make(self.kinds.get(c, "text")) for c in self.published.columns}

    def styler(self):
        """A pandas Styler: thousands separators, percentages, ``[c]`` / ``[x]`` markers."""
        sty = self._cells().style.format(self._formatters())
        sty = sty.set_caption(html.escape(self.title)).set_table_styles(
            [
                {"selector": "caption", "props": "caption-side: top; font-weight: bold;"},
                {"selector": "th", "props": "text-align: left; padding: 2px 8px;"},
                {"selector": "td", "props": "text-align: right; padding: 2px 8px;"},
            ]
        )
        return sty

    def to_html(self) -> str:
        """Styled HTML table followed by its footnotes."""
        notes = "".join(
            f"<p class='wpeval-note'><small>{html.escape(n)}</small></p>" for n in self.notes
        )
        return f"<div class='wpeval-table'>{self.styler().to_html()}{notes}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_csv(self, path=None) -> str | None:
        """CSV of the published values (``[c]`` suppressed, ``[x]`` not available; rates
        as proportions). Returns the text when ``path`` is None."""
        cells = self._cells()
        for c in cells.columns:
            kind = self.kinds.get(c)
            if kind == "rate":
                cells[c] = [
                    v if isinstance(v, str) or pd.isna(v) else round(float(v), 4) for v in cells[c]
                ]
            elif kind in ("count", "money"):
                cells[c] = [
                    v if isinstance(v, str) or pd.isna(v) else int(round(float(v)))
                    for v in cells[c]
                ]
        cells = cells.where(cells.notna(), NOT_AVAILABLE).reset_index()
        return cells.to_csv(path, index=False)

    def to_dict(self) -> dict:
        """JSON-ready published table (suppressed cells as ``"[c]"``)."""
        from wpeval.results import _jsonable

        cells = self._cells().reset_index()
        cells.columns = [str(c) for c in cells.columns]
        return _jsonable(
            {
                "title": self.title,
                "notes": list(self.notes),
                "table": cells.to_dict(orient="records"),
            }
        )

    def value(self, row, column) -> float:
        """Published value of one cell (NaN if suppressed)."""
        if self.suppressed.loc[row, column]:
            return float("nan")
        return self.published.loc[row, column]

    def __repr__(self) -> str:
        return f"<StatTable {self.title!r}: {self.values.shape[0]} rows>"


def publish_table(
    values: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    title: str,
    settings: Disclosure | None,
    money_links: Mapping[str, str] | None = None,
    rate_links: Mapping[str, tuple[str, str]] | None = None,
    lines: str | None = "columns",
    notes: Sequence[str] = (),
    data=None,
) -> StatTable:
    """Apply primary/secondary suppression and rounding to a table; build the StatTable.

    Parameters
    ----------
    values : DataFrame
        Unrounded values; with ``lines="columns"`` or ``"table"`` the last row (and column)
        are totals.
    kinds : mapping
        Column -> ``count``, ``money``, ``rate`` or ``text``.
    title : str
        Caption.
    settings : Disclosure or None
        None = no control (synthetic data only; see :func:`resolve_disclosure`).
    money_links : mapping, optional
        Money column -> the count column whose primary suppression it follows.
    rate_links : mapping, optional
        Rate column -> (numerator, denominator) columns; suppressed when either is.
    lines : {"columns", "table", None}
        Which cells add up to published totals: ``"columns"``, each count/money column adds
        up to its last (Total) row; ``"table"``, rows and columns add up to the last row and
        column (2-D, :func:`suppress_table`); None, no totals are published.
    notes : sequence of str
        Footnotes (the disclosure note is appended).
    data : DataFrame, optional
        Supporting long-format figures kept on the table.

    Returns
    -------
    StatTable
    """
    money_links = dict(money_links or {})
    rate_links = dict(rate_links or {})
    mask = pd.DataFrame(False, index=values.index, columns=values.columns)
    pub = values.copy()
    if settings is not None:
        counts = [c for c, k in kinds.items() if k == "count"]
        for c in counts:
            mask[c] = primary_suppression(values[c].to_numpy(), settings)
        for c, link in money_links.items():
            mask[c] = mask[link].to_numpy()
        additive = counts + list(money_links)
        if settings.secondary and lines == "columns" and len(values) > 1:
            n = len(values)
            marg = np.zeros(n, dtype=bool)
            marg[-1] = True
            for c in additive:
                mask[c] = protect_lines(
                    values[c].to_numpy(), mask[c].to_numpy(), [np.arange(n)], marg
                )
        elif settings.secondary and lines == "table":
            m = suppress_table(values[counts].to_numpy(dtype=float), mask[counts].to_numpy())
            mask[counts] = m
        for c in counts:
            pub[c] = round_to_base(values[c].to_numpy(), settings.base)
        for c in money_links:
            pub[c] = round_to_base(values[c].to_numpy(), settings.money_base)
        for c, (num, den) in rate_links.items():
            mask[c] = mask[num].to_numpy() | mask[den].to_numpy()
        for c in values.columns:
            if kinds.get(c) != "text":
                pub[c] = pub[c].where(~mask[c])
    all_notes = list(notes)
    all_notes.append(
        settings.note() if settings is not None else "No disclosure control (synthetic data)."
    )
    return StatTable(
        title=title,
        values=values,
        kinds=dict(kinds),
        suppressed=mask,
        published=pub,
        notes=tuple(all_notes),
        disclosure=settings,
        data=data,
    )
